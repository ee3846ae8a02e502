import type { ComponentChildren } from 'preact';
import type { PanelModule, PanelProps } from './types.js';

/**
 * Text panels: a small Markdown subset (headings, lists, paragraphs, **bold**, `code`, links)
 * built as elements, never as HTML, so a dashboard cannot run script in the viewer's session.
 * HTML content is shown as text for the same reason.
 */
function inline(s: string): ComponentChildren[] {
  const out: ComponentChildren[] = [];
  const re = /\*\*(.+?)\*\*|`([^`]+)`|\[([^\]]+)\]\((https?:\/\/[^)\s]+|\/[^)\s]*)\)/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) {
    if (m.index > last) out.push(s.slice(last, m.index));
    if (m[1] !== undefined) out.push(<strong>{m[1]}</strong>);
    else if (m[2] !== undefined) out.push(<code>{m[2]}</code>);
    else out.push(<a href={m[4]} rel="noopener noreferrer" target="_blank">{m[3]}</a>);
    last = re.lastIndex;
  }
  if (last < s.length) out.push(s.slice(last));
  return out;
}

function markdown(src: string): ComponentChildren[] {
  const blocks: ComponentChildren[] = [];
  let list: string[] = [];
  let para: string[] = [];
  const flush = () => {
    if (para.length) blocks.push(<p>{inline(para.join(' '))}</p>);
    if (list.length) blocks.push(<ul>{list.map((l) => <li>{inline(l)}</li>)}</ul>);
    para = [];
    list = [];
  };
  for (const line of src.split('\n')) {
    const h = /^(#{1,6})\s+(.*)$/.exec(line);
    const li = /^\s*[-*]\s+(.*)$/.exec(line);
    if (h) {
      flush();
      const level = Math.min(6, h[1].length + 2);
      const Tag = `h${level}` as 'h3';
      blocks.push(<Tag>{inline(h[2])}</Tag>);
    } else if (li) {
      if (para.length) flush();
      list.push(li[1]);
    } else if (!line.trim()) flush();
    else {
      if (list.length) flush();
      para.push(line.trim());
    }
  }
  flush();
  return blocks;
}

function TextPanel({ panel }: PanelProps) {
  const content = String(panel.options.content ?? '');
  return <div class="dash-text">{panel.options.mode === 'markdown' || panel.options.mode === undefined ? markdown(content) : <pre>{content}</pre>}</div>;
}

export const text: PanelModule = { data: 'none', Component: TextPanel };
