/**
 * Label sets, fingerprints and matchers as Alertmanager defines them, shared by the evaluator,
 * the notifier, silences and inhibition.
 */
import type { LabelMatcher, Labels, MatchOp } from '../../ingest/names.js';
import { compileRegex, type Regex } from '../regex.js';

export type { LabelMatcher, Labels } from '../../ingest/names.js';

const FNV_OFFSET = 14695981039346656037n;
const FNV_PRIME = 1099511628211n;
const MASK = (1n << 64n) - 1n;

/**
 * Alertmanager's fingerprint of a label set: FNV-1a 64 over the sorted names and values, each
 * followed by the 0xff separator, as 16 hex digits (model.LabelSet.Fingerprint), so webhook
 * receivers see the same fingerprints an Alertmanager would send.
 */
export function fingerprint(labels: Labels): string {
  let h = FNV_OFFSET;
  const add = (s: string) => {
    for (const b of Buffer.from(s, 'utf8')) h = ((h ^ BigInt(b)) * FNV_PRIME) & MASK;
    h = ((h ^ 0xffn) * FNV_PRIME) & MASK;
  };
  for (const name of Object.keys(labels).sort()) {
    add(name);
    add(labels[name]);
  }
  return h.toString(16).padStart(16, '0');
}

/**
 * A matcher's regex, anchored as Alertmanager anchors it (`^(?:re)$`) and run on RE2 (see
 * server/regex.ts), so a pattern like `(a|a)+` in a silence costs linear time, not seconds per
 * alert. Throws RegexError with Go's message for a pattern RE2 rejects.
 */
export function anchored(re: string): Regex {
  return compileRegex(re, 'alertmanager');
}

export function matches(m: LabelMatcher, labels: Labels): boolean {
  const v = labels[m.name] ?? '';
  switch (m.op) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return anchored(m.value).test(v);
    case '!~':
      return !anchored(m.value).test(v);
  }
}

export function matchesAll(ms: readonly LabelMatcher[], labels: Labels): boolean {
  for (const m of ms) if (!matches(m, labels)) return false;
  return true;
}

export class MatcherError extends Error {
  override name = 'MatcherError';
  constructor(message: string, readonly position: number) {
    super(message);
  }
}

const NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/**
 * Parse matchers in Alertmanager's syntax: `alertname="X"`, `severity=~"page|crit"`, a list
 * separated by commas, optionally in braces; values may be quoted or bare.
 */
export function parseMatchers(text: string): LabelMatcher[] {
  let s = text.trim();
  let base = text.indexOf(s);
  if (s.startsWith('{')) {
    if (!s.endsWith('}')) throw new MatcherError(`missing closing "}" in ${JSON.stringify(text)}`, text.length);
    s = s.slice(1, -1);
    base += 1;
  }
  const out: LabelMatcher[] = [];
  let i = 0;
  const ws = () => {
    while (i < s.length && /\s/.test(s[i])) i++;
  };
  while (true) {
    ws();
    if (i >= s.length) break;
    const nm = NAME.exec(s.slice(i)) ?? /^"(?:[^"\\]|\\.)*"/.exec(s.slice(i));
    if (!nm) throw new MatcherError(`expected a label name at position ${base + i} in ${JSON.stringify(text)}`, base + i);
    const name = nm[0].startsWith('"') ? (JSON.parse(nm[0]) as string) : nm[0];
    i += nm[0].length;
    ws();
    const op = (['=~', '!~', '!=', '='] as const).find((o) => s.startsWith(o, i));
    if (!op) throw new MatcherError(`expected one of =, !=, =~, !~ at position ${base + i} in ${JSON.stringify(text)}`, base + i);
    i += op.length;
    ws();
    const valueAt = base + i;
    let value: string;
    if (s[i] === '"' || s[i] === "'") {
      const q = s[i];
      let j = i + 1;
      let v = '';
      while (j < s.length && s[j] !== q) {
        if (s[j] === '\\' && j + 1 < s.length) {
          const e = s[j + 1];
          v += e === 'n' ? '\n' : e === 't' ? '\t' : e;
          j += 2;
        } else v += s[j++];
      }
      if (j >= s.length) throw new MatcherError(`unterminated quoted value at position ${base + i} in ${JSON.stringify(text)}`, base + i);
      value = v;
      i = j + 1;
    } else {
      let j = i;
      while (j < s.length && s[j] !== ',') j++;
      value = s.slice(i, j).trim();
      i = j;
    }
    if (op === '=~' || op === '!~') {
      try {
        anchored(value);
      } catch (e) {
        throw new MatcherError(`invalid regular expression ${JSON.stringify(value)} for ${name} at position ${valueAt}: ${(e as Error).message}`, valueAt);
      }
    }
    out.push({ name, op, value });
    ws();
    if (i < s.length) {
      if (s[i] !== ',') throw new MatcherError(`expected "," at position ${base + i} in ${JSON.stringify(text)}`, base + i);
      i++;
    }
  }
  return out;
}

/** A matcher back in Alertmanager's text form. */
export function formatMatcher(m: LabelMatcher): string {
  return `${m.name}${m.op}${JSON.stringify(m.value)}`;
}
