/**
 * What to complete at the cursor of a PromQL expression: a pure look at the text before the
 * cursor (no parser needed for these cases, and it copes with half-written input).
 */

export type CompletionContext =
  /** A metric name, function or keyword at an identifier. */
  | { kind: 'expr'; prefix: string; from: number }
  /** A label name inside a selector's braces, or in by/without/on/ignoring ( ... ). */
  | { kind: 'label'; prefix: string; from: number; metric: string | null }
  /** A label value inside quotes after label= / != / =~ / !~. */
  | { kind: 'value'; prefix: string; from: number; metric: string | null; label: string }
  /** A duration inside [ ]. */
  | { kind: 'duration'; prefix: string; from: number }
  | { kind: 'none' };

const IDENT_TAIL = /[a-zA-Z_:][a-zA-Z0-9_:.]*$/;

/** Index of the unclosed `open` before `pos` (string literals skipped), or -1. */
function unclosed(text: string, pos: number, open: string, close: string): number {
  let depth = 0;
  let inStr: string | null = null;
  let at = -1;
  const stack: number[] = [];
  for (let i = 0; i < pos; i++) {
    const c = text[i];
    if (inStr) {
      if (c === '\\') i++;
      else if (c === inStr) inStr = null;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') inStr = c;
    else if (c === open) {
      stack.push(i);
      depth++;
    } else if (c === close && depth > 0) {
      stack.pop();
      depth--;
    }
  }
  at = stack.length ? stack[stack.length - 1] : -1;
  return at;
}

/** Whether pos is inside a string literal, and where that string's content starts. */
function stringStart(text: string, pos: number): number {
  let inStr: string | null = null;
  let start = -1;
  for (let i = 0; i < pos; i++) {
    const c = text[i];
    if (inStr) {
      if (c === '\\') i++;
      else if (c === inStr) inStr = null;
    } else if (c === '"' || c === "'" || c === '`') {
      inStr = c;
      start = i + 1;
    }
  }
  return inStr ? start : -1;
}

export function completionContext(text: string, pos: number): CompletionContext {
  const before = text.slice(0, pos);
  const str = stringStart(text, pos);
  const brace = unclosed(text, pos, '{', '}');

  if (str >= 0) {
    // A value: {label="va|  or  {label=~"va|
    if (brace < 0) return { kind: 'none' };
    const m = /([a-zA-Z_][a-zA-Z0-9_.]*)\s*(=~|!~|!=|=)\s*$/.exec(text.slice(0, str - 1));
    if (!m) return { kind: 'none' };
    return { kind: 'value', prefix: text.slice(str, pos), from: str, metric: metricBefore(text, brace), label: m[1] };
  }

  if (unclosed(text, pos, '[', ']') >= 0) {
    const m = /[0-9a-zA-Z_$]*$/.exec(before)!;
    return { kind: 'duration', prefix: m[0], from: pos - m[0].length };
  }

  const ident = IDENT_TAIL.exec(before);
  const prefix = ident ? ident[0] : '';
  const from = pos - prefix.length;

  if (brace >= 0) {
    // Inside a selector: after { or , it is a label name; after an operator it is a value without quotes yet.
    const inner = text.slice(brace + 1, from);
    if (/(^|,)\s*$/.test(inner)) return { kind: 'label', prefix, from, metric: metricBefore(text, brace) };
    return { kind: 'none' };
  }

  const paren = unclosed(text, pos, '(', ')');
  if (paren >= 0) {
    const head = text.slice(0, paren);
    if (/\b(by|without|on|ignoring|group_left|group_right)\s*$/.test(head)) {
      const inner = text.slice(paren + 1, from);
      if (/(^|,)\s*$/.test(inner)) return { kind: 'label', prefix, from, metric: null };
      return { kind: 'none' };
    }
  }
  if (prefix === '' && /[0-9a-zA-Z_)\]}"]\s*$/.test(before) && !/\b(by|without|and|or|unless|offset)\s*$/.test(before)) {
    // Right after a complete operand: an operator comes next, nothing to complete.
    return { kind: 'none' };
  }
  if (/[0-9.]$/.test(before) && !prefix) return { kind: 'none' };
  return { kind: 'expr', prefix, from };
}

/** The metric name written right before a selector's "{", if any. */
function metricBefore(text: string, brace: number): string | null {
  const m = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*$/.exec(text.slice(0, brace));
  return m ? m[1] : null;
}

/** Rank candidates: prefix matches first, then substring matches; at most `limit`. */
export function rankCandidates<T extends { name: string }>(items: readonly T[], prefix: string, limit = 50): T[] {
  const p = prefix.toLowerCase();
  if (!p) return items.slice(0, limit);
  const starts: T[] = [];
  const contains: T[] = [];
  for (const it of items) {
    const n = it.name.toLowerCase();
    if (n === p) continue;
    if (n.startsWith(p)) starts.push(it);
    else if (n.includes(p)) contains.push(it);
    if (starts.length >= limit) break;
  }
  return [...starts, ...contains].slice(0, limit);
}
