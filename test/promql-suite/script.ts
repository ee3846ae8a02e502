/**
 * Reads the script language of Prometheus' PromQL acceptance files (`promql/promqltest/testdata`
 * in the prometheus repository): `load <interval>` blocks of series with expanding value
 * notation, `clear`, and `eval` commands with their expected results and `expect` lines. Only
 * what the runner needs is modelled; written from the format's description, not from its code.
 */

/** Prometheus' staleness marker, a NaN with a fixed bit pattern. */
export const STALE_NAN = new Float64Array(new Uint32Array([2, 0x7ff00000]).buffer)[0];

export type Labels = Record<string, string>;

/** One position of a value sequence: a number, a staleness marker, or nothing (`_`). */
export type SeqValue = { kind: 'value'; v: number } | { kind: 'stale' } | { kind: 'omitted' };

interface SeriesDef {
  labels: Labels;
  values: SeqValue[];
  /** The line used native-histogram notation (`{{...}}`); values are then empty. */
  histogram: boolean;
}

export interface LoadCmd {
  kind: 'load';
  line: number;
  intervalMs: number;
  series: SeriesDef[];
  /** `load_with_nhcb`: classic buckets also loaded as native histograms. */
  nhcb: boolean;
  /** Start-timestamp (`@st`) lines were present. */
  startTimestamps: boolean;
}

export interface ExpectLine {
  type: 'ordered' | 'fail' | 'warn' | 'no_warn' | 'info' | 'no_info';
  /** Exact message, or a regular expression (RE2 syntax), or neither (anything matches). */
  msg?: string;
  regex?: string;
}

export interface EvalCmd {
  kind: 'eval';
  line: number;
  expr: string;
  instant: boolean;
  /** Instant: the evaluation time. Range: start, end and step. All in ms from the epoch. */
  time: number;
  start: number;
  end: number;
  step: number;
  fail: boolean;
  warn: boolean;
  info: boolean;
  ordered: boolean;
  failMessage?: string;
  failRegexp?: string;
  expects: ExpectLine[];
  /** Expected series (label set, values by position), or a scalar. */
  series: { labels: Labels; values: SeqValue[]; pos: number; histogram: boolean }[];
  scalar?: number;
  expectString?: string;
  /** Set by `expect range vector from .. to .. step ..` (an instant query returning a matrix). */
  rangeVector?: { start: number; end: number; step: number };
  /** Not also checked as a range query (range vector and string results). */
  noRangeCheck: boolean;
}

export type Command = LoadCmd | EvalCmd | { kind: 'clear'; line: number };

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/** A Prometheus duration such as `5m`, `1h30m`, `-10s` or `0`, in ms. */
function parseDuration(text: string): number {
  let s = text.trim();
  let sign = 1;
  if (s.startsWith('-')) {
    sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  const re = /(\d+)(ms|s|m|h|d|w|y)/gy;
  let ms = 0;
  let consumed = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    ms += Number(m[1]) * UNIT_MS[m[2]];
    consumed = re.lastIndex;
  }
  if (consumed === 0 || consumed !== s.length) throw new Error(`invalid duration ${JSON.stringify(text)}`);
  return sign * ms;
}

/** A number as the series notation writes it: decimal, exponent, Inf and NaN in any case. */
function parseNumber(text: string): number | undefined {
  const t = text.toLowerCase();
  if (/^[+-]?inf$/.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  if (/^[+-]?nan$/.test(t)) return NaN;
  if (/^[+-]?0x[0-9a-f]+$/.test(t)) return (t.startsWith('-') ? -1 : 1) * Number(t.replace(/^[+-]/, ''));
  if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(t)) return Number(t);
  return undefined;
}

const NUM = '(?:[+-]?(?:[iI][nN][fF]|[nN][aA][nN]|(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?))';
const ITEM = new RegExp(`^(stale|${NUM})(?:([+-])((?:[iI][nN][fF]|(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?)))?(?:x(\\d+))?$`);

/** Expand one item of a value sequence: `_`, `_x3`, `7`, `stale`, `1x4` (5 copies), `1+2x3` (1 3 5 7). */
function expandItem(item: string): SeqValue[] {
  if (item === '_') return [{ kind: 'omitted' }];
  const blanks = /^_x(\d+)$/.exec(item);
  if (blanks) return Array.from({ length: Number(blanks[1]) }, () => ({ kind: 'omitted' }) as const);
  const m = ITEM.exec(item);
  if (!m) throw new Error(`invalid sequence item ${JSON.stringify(item)}`);
  const [, first, sign, stepText, times] = m;
  if (first === 'stale') {
    if (sign) throw new Error(`invalid sequence item ${JSON.stringify(item)}`);
    const n = times === undefined ? 1 : Number(times) + 1;
    return Array.from({ length: n }, () => ({ kind: 'stale' }) as const);
  }
  let v = parseNumber(first)!;
  if (times === undefined) {
    if (sign) throw new Error(`invalid sequence item ${JSON.stringify(item)}`);
    return [{ kind: 'value', v }];
  }
  const inc = sign ? (sign === '-' ? -1 : 1) * parseNumber(stepText)! : 0;
  const out: SeqValue[] = [];
  // Repeated addition, as the notation is defined (not first + i * inc).
  for (let i = 0; i <= Number(times); i++) {
    out.push({ kind: 'value', v });
    v += inc;
  }
  return out;
}

/** A Go string literal: "..." with escapes, '...' or `...`. Returns the value and the index after it. */
function readQuoted(s: string, i: number): [string, number] {
  const q = s[i];
  if (q === '`') {
    const end = s.indexOf('`', i + 1);
    if (end < 0) throw new Error(`unterminated string in ${s}`);
    return [s.slice(i + 1, end), end + 1];
  }
  let out = '';
  let j = i + 1;
  const bytes: number[] = [];
  const flush = () => {
    if (bytes.length) out += Buffer.from(bytes).toString('utf8');
    bytes.length = 0;
  };
  while (j < s.length && s[j] !== q) {
    if (s[j] === '\\') {
      const c = s[j + 1];
      const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", a: '\x07', b: '\b', f: '\f', v: '\v' };
      if (c in simple) {
        flush();
        out += simple[c];
        j += 2;
      } else if (c === 'x') {
        bytes.push(parseInt(s.slice(j + 2, j + 4), 16));
        j += 4;
      } else if (c === 'u' || c === 'U') {
        flush();
        const len = c === 'u' ? 4 : 8;
        out += String.fromCodePoint(parseInt(s.slice(j + 2, j + 2 + len), 16));
        j += 2 + len;
      } else if (/[0-7]/.test(c)) {
        bytes.push(parseInt(s.slice(j + 1, j + 4), 8));
        j += 4;
      } else {
        throw new Error(`invalid escape in ${s}`);
      }
    } else {
      flush();
      out += s[j++];
    }
  }
  flush();
  if (s[j] !== q) throw new Error(`unterminated string in ${s}`);
  return [out, j + 1];
}

/** `name{a="b", "c.d"="e"}` or `{...}`: the label set and the index after it. */
function readMetric(s: string): [Labels, number] {
  const labels: Labels = {};
  let i = 0;
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:.]*/.exec(s);
  if (name) {
    labels.__name__ = name[0];
    i = name[0].length;
  }
  if (s[i] === '{' && s[i + 1] !== '{') {
    i++;
    for (;;) {
      while (/\s|,/.test(s[i] ?? '')) i++;
      if (s[i] === '}') {
        i++;
        break;
      }
      let label: string;
      if (s[i] === '"' || s[i] === "'" || s[i] === '`') {
        [label, i] = readQuoted(s, i);
      } else {
        const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(s.slice(i));
        if (!m) throw new Error(`invalid label at ${i} in ${s}`);
        label = m[0];
        i += label.length;
      }
      while (s[i] === ' ') i++;
      if (s[i] === ',' || s[i] === '}') {
        // A lone quoted name is the metric name (Prometheus 3's UTF-8 syntax).
        labels.__name__ = label;
        continue;
      }
      if (s[i] !== '=') throw new Error(`expected = at ${i} in ${s}`);
      i++;
      while (s[i] === ' ') i++;
      let value: string;
      [value, i] = readQuoted(s, i);
      // An empty value is an absent label.
      if (value !== '') labels[label] = value;
    }
  }
  return [labels, i];
}

/** A series line: metric, then the value sequence. */
function parseSeriesLine(line: string): SeriesDef {
  const [labels, i] = readMetric(line);
  const rest = line.slice(i).trim();
  if (rest.includes('{{')) return { labels, values: [], histogram: true };
  const values = rest === '' ? [] : rest.split(/\s+/).flatMap(expandItem);
  return { labels, values, histogram: false };
}

const EVAL_INSTANT = /^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$/;
const EVAL_RANGE = /^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$/;
const EXPECT = /^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$/;
const RANGE_VECTOR = /^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$/;

/** Parse a whole file into commands; line numbers are 1-based. */
export function parseScript(text: string): Command[] {
  const lines = text.split('\n').map((l) => (l.trim().startsWith('#') ? '' : l.trim()));
  const cmds: Command[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l === '') continue;
    const word = l.split(/[\t ]+/, 1)[0].toLowerCase();
    if (word === 'clear') {
      cmds.push({ kind: 'clear', line: i + 1 });
    } else if (word.startsWith('load')) {
      const m = /^load(?:_(with_nhcb))?\s+(.+?)$/.exec(l);
      if (!m) throw new Error(`line ${i + 1}: invalid load command`);
      const cmd: LoadCmd = { kind: 'load', line: i + 1, intervalMs: parseDuration(m[2]), series: [], nhcb: m[1] === 'with_nhcb', startTimestamps: false };
      while (i + 1 < lines.length && lines[i + 1] !== '') {
        const def = lines[++i];
        const head = def.split(/[\t ]/, 1)[0];
        if (head.endsWith('@st')) {
          cmd.startTimestamps = true;
          continue;
        }
        cmd.series.push(parseSeriesLine(def));
      }
      cmds.push(cmd);
    } else if (word.startsWith('eval')) {
      cmds.push(parseEval(lines, i));
      while (i + 1 < lines.length && lines[i + 1] !== '') i++;
    } else {
      throw new Error(`line ${i + 1}: invalid command ${JSON.stringify(l)}`);
    }
  }
  return cmds;
}

function parseEval(lines: string[], i: number): EvalCmd {
  const l = lines[i];
  const inst = EVAL_INSTANT.exec(l);
  const range = inst ? null : EVAL_RANGE.exec(l);
  if (!inst && !range) throw new Error(`line ${i + 1}: invalid eval command`);
  const mod = inst ? inst[1] : range![1];
  const cmd: EvalCmd = {
    kind: 'eval',
    line: i + 1,
    expr: inst ? inst[3] : range![5],
    instant: !!inst,
    time: inst ? parseDuration(inst[2] ?? '0') : 0,
    start: range ? parseDuration(range[2]) : 0,
    end: range ? parseDuration(range[3]) : 0,
    step: range ? parseDuration(range[4]) : 0,
    fail: mod === 'fail',
    warn: mod === 'warn',
    info: mod === 'info',
    ordered: mod === 'ordered',
    expects: [],
    series: [],
    noRangeCheck: false,
  };
  let pos = 1;
  for (let j = i + 1; j < lines.length && lines[j] !== ''; j++) {
    const def = lines[j];
    if (cmd.fail && def.startsWith('expected_fail_message')) {
      cmd.failMessage = def.slice('expected_fail_message'.length).trim();
      break;
    }
    if (cmd.fail && def.startsWith('expected_fail_regexp')) {
      cmd.failRegexp = def.slice('expected_fail_regexp'.length).trim();
      break;
    }
    const rv = RANGE_VECTOR.exec(def);
    if (rv) {
      cmd.rangeVector = { start: parseDuration(rv[1]), end: parseDuration(rv[2]), step: parseDuration(rv[3]) };
      cmd.noRangeCheck = true;
      continue;
    }
    if (def.startsWith('expect string')) {
      cmd.expectString = readQuoted(def.slice('expect string'.length).trim(), 0)[0];
      cmd.noRangeCheck = true;
      continue;
    }
    if (def.split(' ')[0] === 'expect') {
      const m = EXPECT.exec(def);
      if (!m) throw new Error(`line ${j + 1}: invalid expect line`);
      const e: ExpectLine = { type: m[1] as ExpectLine['type'] };
      if (m[2] === 'msg') e.msg = m[3].trim();
      if (m[2] === 'regex') e.regex = m[3].trim();
      cmd.expects.push(e);
      if (e.type === 'ordered') cmd.ordered = true;
      if (e.type === 'fail') cmd.fail = true;
      continue;
    }
    const n = parseNumber(def);
    if (n !== undefined) {
      cmd.scalar = n;
      break;
    }
    const s = parseSeriesLine(def);
    cmd.series.push({ ...s, pos: pos++ });
  }
  return cmd;
}
