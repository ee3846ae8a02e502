import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { isAbort } from '../api/client.js';
import { labelNames, labelValues } from '../api/prom.js';
import { completionContext, rankCandidates, type CompletionContext } from './complete.js';
import { docOf, DURATIONS, FUNCTIONS, KEYWORDS } from './functions.js';
import { tokenize } from './highlight.js';
import './editor.css';

/**
 * The PromQL editor: a textarea over a syntax-coloured copy of its text, with completion of
 * metric names, label names and values (from /api/v1/labels and /label/<name>/values), functions
 * with their signature and description, and durations. Enter runs, Shift+Enter adds a line.
 * Lazy-loaded with the explore page; hand-built so it costs a few kilobytes, not a CodeMirror.
 */

interface Item {
  name: string;
  kind: 'metric' | 'function' | 'aggregation' | 'keyword' | 'label' | 'value' | 'duration';
  detail?: string;
}

interface Props {
  value: string;
  onChange: (v: string) => void;
  onRun: () => void;
  /** Character position of an error to underline. */
  errorPos?: number;
  id?: string;
  label?: string;
  rows?: number;
}

/** Cached lookups: metric names once, labels and values per metric for a minute. */
const cache = new Map<string, { at: number; value: Promise<string[]> }>();
function cached(key: string, load: () => Promise<string[]>): Promise<string[]> {
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < 60_000) return hit.value;
  const value = load();
  cache.set(key, { at: Date.now(), value });
  value.catch(() => cache.delete(key));
  return value;
}

async function candidates(ctx: CompletionContext, signal: AbortSignal): Promise<Item[]> {
  switch (ctx.kind) {
    case 'expr': {
      const metrics = await cached('__name__', () => labelValues('__name__', undefined, signal));
      const fns: Item[] = [...FUNCTIONS, ...KEYWORDS].map((d) => ({ name: d.name, kind: d.kind, detail: d.signature }));
      return rankCandidates([...fns, ...metrics.map((m): Item => ({ name: m, kind: 'metric' }))], ctx.prefix);
    }
    case 'label': {
      const names = await cached(`labels:${ctx.metric ?? ''}`, () => labelNames(ctx.metric ?? undefined, signal));
      return rankCandidates(
        names.filter((n) => n !== '__name__').map((n): Item => ({ name: n, kind: 'label' })),
        ctx.prefix,
      );
    }
    case 'value': {
      const match = ctx.metric ? `${ctx.metric}` : undefined;
      const vals = await cached(`values:${ctx.label}:${match ?? ''}`, () => labelValues(ctx.label, match, signal));
      return rankCandidates(
        vals.map((v): Item => ({ name: v, kind: 'value' })),
        ctx.prefix,
      );
    }
    case 'duration':
      return rankCandidates(
        DURATIONS.map((d): Item => ({ name: d, kind: 'duration' })),
        ctx.prefix,
      );
    default:
      return [];
  }
}

export default function PromqlEditor({ value, onChange, onRun, errorPos, id = 'promql', label = 'PromQL expression', rows = 3 }: Props) {
  const ta = useRef<HTMLTextAreaElement>(null);
  const pre = useRef<HTMLPreElement>(null);
  const [items, setItems] = useState<Item[]>([]);
  const [sel, setSel] = useState(0);
  const [ctx, setCtx] = useState<CompletionContext>({ kind: 'none' });
  const [open, setOpen] = useState(false);
  const req = useRef<AbortController | null>(null);
  const timer = useRef<number>(0);

  const tokens = useMemo(() => tokenize(value), [value]);

  const refresh = (text: string, pos: number, force = false) => {
    const c = completionContext(text, pos);
    setCtx(c);
    clearTimeout(timer.current);
    req.current?.abort();
    if (c.kind === 'none' || (c.kind === 'expr' && c.prefix.length === 0 && !force)) {
      setOpen(false);
      return;
    }
    timer.current = window.setTimeout(() => {
      const ac = new AbortController();
      req.current = ac;
      candidates(c, ac.signal).then(
        (list) => {
          if (ac.signal.aborted) return;
          setItems(list);
          setSel(0);
          setOpen(list.length > 0);
        },
        (e) => {
          if (!isAbort(e)) setOpen(false);
        },
      );
    }, 60);
  };

  useEffect(() => () => req.current?.abort(), []);

  const accept = (item: Item) => {
    const el = ta.current!;
    const pos = el.selectionStart;
    if (ctx.kind === 'none') return;
    let insert = item.name;
    let caret = 0; // characters back from the end of the insertion
    if (item.kind === 'function' || item.kind === 'aggregation') {
      if (value[pos] !== '(') {
        insert += '()';
        caret = 1;
      }
    } else if (item.kind === 'label' && ctx.kind === 'label' && isInBraces(value, ctx.from)) {
      if (!/^\s*(=|!=|=~|!~)/.test(value.slice(pos))) {
        insert += '=""';
        caret = 1;
      }
    } else if (item.kind === 'value' && value[pos] !== '"') {
      insert += '"';
    } else if (item.kind === 'metric' && !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(item.name)) {
      // Heroic keys like cpu.usage: PromQL takes them quoted inside the braces.
      insert = `{${JSON.stringify(item.name)}}`;
    }
    const next = value.slice(0, ctx.from) + insert + value.slice(pos);
    const at = ctx.from + insert.length - caret;
    onChange(next);
    setOpen(false);
    requestAnimationFrame(() => {
      // Typed again before this frame: that input already asked for its own completions, and
      // completing the text as it was would replace them (e.g. labels after "metric{").
      if (el.value !== next) return;
      el.focus();
      el.setSelectionRange(at, at);
      refresh(next, at);
    });
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (open && items.length) {
      if (e.key === 'ArrowDown') {
        e.preventDefault();
        setSel((s) => (s + 1) % items.length);
        return;
      }
      if (e.key === 'ArrowUp') {
        e.preventDefault();
        setSel((s) => (s - 1 + items.length) % items.length);
        return;
      }
      if (e.key === 'Enter' || e.key === 'Tab') {
        e.preventDefault();
        accept(items[sel]);
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        setOpen(false);
        return;
      }
    }
    if (e.key === ' ' && e.ctrlKey) {
      e.preventDefault();
      const el = e.target as HTMLTextAreaElement;
      refresh(el.value, el.selectionStart, true);
      return;
    }
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      setOpen(false);
      onRun();
    }
  };

  const syncScroll = () => {
    if (pre.current && ta.current) {
      pre.current.scrollTop = ta.current.scrollTop;
      pre.current.scrollLeft = ta.current.scrollLeft;
    }
  };

  const current = open ? items[sel] : undefined;
  const doc = current && (current.kind === 'function' || current.kind === 'aggregation' || current.kind === 'keyword') ? docOf(current.name) : undefined;

  return (
    <div class="editor">
      <label class="visually-hidden" for={id}>
        {label}
      </label>
      <div class="editor-box">
        <pre ref={pre} class="editor-hl" aria-hidden="true">
          {renderTokens(tokens, errorPos)}
          {'\n'}
        </pre>
        <textarea
          ref={ta}
          id={id}
          rows={rows}
          value={value}
          spellcheck={false}
          autocomplete="off"
          autocapitalize="off"
          data-shortcut-focus
          aria-autocomplete="list"
          aria-controls={`${id}-completions`}
          aria-activedescendant={open ? `${id}-opt-${sel}` : undefined}
          aria-describedby={`${id}-help`}
          placeholder="Enter a PromQL expression, e.g. sum by (service) (rate(http_requests_total[5m]))"
          onInput={(e) => {
            const el = e.target as HTMLTextAreaElement;
            onChange(el.value);
            refresh(el.value, el.selectionStart);
          }}
          onKeyDown={onKeyDown}
          onScroll={syncScroll}
          onBlur={() => setTimeout(() => setOpen(false), 150)}
          onClick={() => setOpen(false)}
        />
      </div>
      <div id={`${id}-help`} class="visually-hidden">
        Enter runs the query, Shift+Enter adds a line, Ctrl+Space shows completions.
      </div>
      {open ? (
        <ul class="completions" id={`${id}-completions`} role="listbox" aria-label="Completions">
          {items.map((it, i) => (
            <li
              key={`${it.kind}:${it.name}`}
              id={`${id}-opt-${i}`}
              role="option"
              aria-selected={i === sel}
              onMouseDown={(e) => {
                e.preventDefault();
                accept(it);
              }}
              onMouseEnter={() => setSel(i)}
            >
              <span>{it.name}</span>
              <span class="kind">{it.kind}</span>
            </li>
          ))}
          {doc ? (
            <li class="doc" aria-hidden="true" style={{ cursor: 'default', flexDirection: 'column', gap: '2px' }}>
              <code>{doc.signature}</code>
              <span>{doc.doc}</span>
            </li>
          ) : null}
        </ul>
      ) : null}
    </div>
  );
}

function isInBraces(text: string, pos: number): boolean {
  const open = text.lastIndexOf('{', pos);
  const close = text.lastIndexOf('}', pos - 1);
  return open > close;
}

function renderTokens(tokens: { text: string; cls: string }[], errorPos?: number) {
  let at = 0;
  return tokens.map((t, i) => {
    const start = at;
    at += t.text.length;
    const err = errorPos !== undefined && errorPos >= start && errorPos < at;
    return (
      <span key={i} class={`t-${t.cls}${err ? ' t-err' : ''}`}>
        {t.text}
      </span>
    );
  });
}
