import type { ComponentChildren } from 'preact';
import { onLinkClick } from '../router.js';

interface LinkProps {
  href: string;
  children: ComponentChildren;
  class?: string;
  title?: string;
  id?: string;
  'aria-label'?: string;
  'aria-current'?: 'page' | 'true' | undefined;
}

/** An in-app link: a real <a href> (keyboard, middle-click, copy link) that navigates client-side. */
export function Link({ href, children, ...rest }: LinkProps) {
  return (
    <a {...rest} href={href} onClick={onLinkClick}>
      {children}
    </a>
  );
}
