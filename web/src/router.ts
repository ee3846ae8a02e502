import { useEffect, useState } from 'preact/hooks';

/**
 * A small history-API router: the URL is the view state (path + query), so every view can be
 * shared. Components read it with useLocation() and change it with navigate()/setQuery().
 */

export interface Loc {
  path: string;
  query: URLSearchParams;
  /** Bumped on every change, so effects can depend on it. */
  href: string;
}

const listeners = new Set<() => void>();

function current(): Loc {
  return { path: location.pathname, query: new URLSearchParams(location.search), href: location.pathname + location.search };
}

function notify() {
  for (const l of listeners) l();
}

addEventListener('popstate', notify);

/** Go to a URL (path and query) inside the app. */
export function navigate(url: string, opts: { replace?: boolean } = {}): void {
  if (url === location.pathname + location.search) return;
  if (opts.replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  notify();
}

/** Merge parameters into the current query string (null deletes). */
export function setQuery(params: Record<string, string | null | undefined>, opts: { replace?: boolean } = {}): void {
  const q = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '') q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  navigate(location.pathname + (s ? `?${s}` : ''), opts);
}

export function useLocation(): Loc {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const l = () => setLoc(current());
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return loc;
}

/** Match "/services/:name" against a path; params are URI-decoded. */
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const pp = pattern.split('/').filter(Boolean);
  const xs = path.split('/').filter(Boolean);
  if (pp.length !== xs.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < pp.length; i++) {
    if (pp[i].startsWith(':')) {
      try {
        out[pp[i].slice(1)] = decodeURIComponent(xs[i]);
      } catch {
        return null;
      }
    } else if (pp[i] !== xs[i]) return null;
  }
  return out;
}

/** Click handler for in-app links: plain left clicks navigate without reloading. */
export function onLinkClick(e: MouseEvent): void {
  const a = (e.currentTarget ?? e.target) as HTMLAnchorElement;
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  if (a.target && a.target !== '_self') return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
  window.scrollTo(0, 0);
}
