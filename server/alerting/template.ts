/**
 * The subset of Go's text/template that Prometheus alert labels and annotations use:
 * `{{ $labels.instance }}`, `{{ $value }}`, `{{ humanize $value }}`, `{{ $value | humanizePercentage }}`,
 * `{{ printf "%.2f" $value }}`, `{{ index $labels "name" }}`, `{{- ... -}}` trimming and comments.
 * Control structures (if, range, with, define) and the `query` function are not supported: a
 * template using them is rejected when the rule is saved, with the position, never at firing time.
 * Formatting follows Go (`%.4g`, shortest float `%v`) so messages read as Prometheus writes them.
 */
import { compileRegex, regexProblem } from '../regex.js';

export interface TemplateData {
  labels: Record<string, string>;
  value: number;
  externalLabels?: Record<string, string>;
  externalURL?: string;
}

export class TemplateError extends Error {
  override name = 'TemplateError';
  constructor(message: string, readonly position: number) {
    super(message);
  }
}

type Operand =
  | { k: 'var'; name: string; field?: string; pos: number }
  | { k: 'str'; v: string }
  | { k: 'num'; v: number }
  | { k: 'pipe'; p: Pipeline };
interface Command {
  fn?: string;
  args: Operand[];
  pos: number;
}
type Pipeline = Command[];
type Node = string | { pipe: Pipeline };

export interface CompiledTemplate {
  readonly source: string;
  expand(data: TemplateData): string;
}

type Value = string | number | boolean | Record<string, string>;

/** No expansion may produce more than this (issue 13: a saved `printf "%400000000d"` ran the process out of memory). */
export const MAX_OUTPUT = 64 * 1024;
/** The widest printf width or precision accepted (Go accepts up to 1e6, which is already 1 MB per verb). */
const MAX_PRINTF_WIDTH = 1024;
const PRINTF_VERB = /%([-+ 0#]*)(\d+)?(?:\.(\d+))?([svdfeEgGqxX%])/g;

/** Why a printf format cannot be used, or null. */
export function printfProblem(format: string): string | null {
  for (const m of format.matchAll(PRINTF_VERB)) {
    for (const n of [m[2], m[3]]) if (n !== undefined && Number(n) > MAX_PRINTF_WIDTH) return `printf width or precision ${n} in ${JSON.stringify(m[0])} exceeds the limit of ${MAX_PRINTF_WIDTH}`;
  }
  return null;
}

const VARS = new Set(['$labels', '$value', '$externalLabels', '$externalURL', '.Labels', '.Value', '.ExternalLabels', '.ExternalURL', '$']);
const UNSUPPORTED = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue', 'query']);

const FUNCS: Record<string, { arity: number | [number, number]; fn: (...a: Value[]) => Value }> = {
  humanize: { arity: 1, fn: (v) => humanize(num(v)) },
  humanize1024: { arity: 1, fn: (v) => humanize1024(num(v)) },
  humanizePercentage: { arity: 1, fn: (v) => `${goG(num(v) * 100, 4)}%` },
  humanizeDuration: { arity: 1, fn: (v) => humanizeDuration(num(v)) },
  humanizeTimestamp: { arity: 1, fn: (v) => humanizeTimestamp(num(v)) },
  toUpper: { arity: 1, fn: (v) => str(v).toUpperCase() },
  toLower: { arity: 1, fn: (v) => str(v).toLowerCase() },
  title: { arity: 1, fn: (v) => str(v).replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, a: string, b: string) => a + b.toUpperCase()) },
  stripPort: { arity: 1, fn: (v) => str(v).replace(/^\[(.*)\]:\d+$/, '$1').replace(/^([^:\]]+):\d+$/, '$1') },
  stripDomain: { arity: 1, fn: (v) => str(v).replace(/^([^.:]+)(\.[^:]*)?(:\d+)?$/, (_m, h: string, _d, p?: string) => h + (p ?? '')) },
  safeHtml: { arity: 1, fn: (v) => str(v) },
  // Go's regexp.ReplaceAllString and regexp.MatchString (unanchored), on RE2 as in Prometheus.
  reReplaceAll: { arity: 3, fn: (re, repl, text) => compileRegex(str(re), 'search').replaceAll(str(text), str(repl)) },
  match: { arity: 2, fn: (re, text) => compileRegex(str(re), 'search').test(str(text)) },
  index: { arity: 2, fn: (m, k) => (typeof m === 'object' ? (m[str(k)] ?? '') : '') },
  printf: { arity: [1, 16], fn: (f, ...args) => sprintf(str(f), args) },
  print: { arity: [0, 16], fn: (...args) => args.map(show).join('') },
  pathPrefix: { arity: 0, fn: () => '' },
};

/** Parse a template; throws TemplateError with the position of the first problem. */
export function compileTemplate(source: string): CompiledTemplate {
  const nodes = parse(source);
  return {
    source,
    expand: (data) => {
      let out = '';
      for (const n of nodes) {
        out += typeof n === 'string' ? n : show(evalPipe(n.pipe, data));
        if (out.length > MAX_OUTPUT) throw new TemplateError(`template output exceeds ${MAX_OUTPUT} bytes`, 0);
      }
      return out;
    },
  };
}

/** Expand a template, or return the source unchanged when it has no actions (the common case). */
export function expandTemplate(source: string, data: TemplateData): string {
  if (!source.includes('{{')) return source;
  return compileTemplate(source).expand(data);
}

function parse(src: string): Node[] {
  const nodes: Node[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    trimNext = false;
    if (open < 0) {
      if (text) nodes.push(text);
      break;
    }
    let start = open + 2;
    if (src[start] === '-' && /\s/.test(src[start + 1] ?? '')) {
      text = text.replace(/\s+$/, '');
      start += 1;
    }
    if (text) nodes.push(text);
    const close = findClose(src, start);
    if (close < 0) throw new TemplateError(`unclosed action starting at position ${open}`, open);
    let end = close;
    if (src[close - 1] === '-' && /\s/.test(src[close - 2] ?? '')) {
      end = close - 1;
      trimNext = true;
    }
    const body = src.slice(start, end);
    if (!/^\s*\/\*[\s\S]*\*\/\s*$/.test(body)) nodes.push({ pipe: new ActionParser(body, start).pipeline(true) });
    i = close + 2;
  }
  return nodes;
}

/** The `}}` closing an action, skipping string literals. */
function findClose(src: string, from: number): number {
  for (let i = from; i < src.length; i++) {
    const c = src[i];
    if (c === '"') {
      for (i++; i < src.length && src[i] !== '"'; i++) if (src[i] === '\\') i++;
    } else if (c === '`') {
      i = src.indexOf('`', i + 1);
      if (i < 0) return -1;
    } else if (c === '}' && src[i + 1] === '}') return i;
  }
  return -1;
}

class ActionParser {
  i = 0;
  constructor(readonly s: string, readonly base: number) {}

  err(msg: string, at = this.i): never {
    throw new TemplateError(`${msg} at position ${this.base + at}`, this.base + at);
  }
  ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++;
  }

  pipeline(top: boolean): Pipeline {
    const cmds: Command[] = [];
    for (;;) {
      this.ws();
      cmds.push(this.command());
      this.ws();
      if (this.s[this.i] === '|') {
        this.i++;
        continue;
      }
      if (top && this.i < this.s.length) this.err(`unexpected ${JSON.stringify(this.s[this.i])}`);
      return cmds;
    }
  }

  command(): Command {
    const pos = this.i;
    const cmd: Command = { args: [], pos: this.base + pos };
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.i));
    if (word) {
      const name = word[0];
      if (UNSUPPORTED.has(name)) this.err(`"${name}" is not supported in Metronome templates (only values, pipelines and formatting functions)`);
      if (name === 'true' || name === 'false') {
        this.i += name.length;
        cmd.args.push({ k: 'str', v: name });
      } else {
        if (!Object.hasOwn(FUNCS, name)) this.err(`unknown function "${name}" (supported: ${Object.keys(FUNCS).join(', ')})`);
        cmd.fn = name;
        this.i += name.length;
      }
    }
    let patternAt = -1;
    for (;;) {
      this.ws();
      const c = this.s[this.i];
      if (c === undefined || c === '|' || c === ')') break;
      if (cmd.args.length === 0) patternAt = this.i;
      cmd.args.push(this.operand());
    }
    // A literal pattern is checked when the rule is saved (Go would fail only at expansion).
    const first = cmd.args[0];
    if (cmd.fn === 'printf' && first?.k === 'str') {
      const problem = printfProblem(first.v);
      if (problem) this.err(problem, patternAt);
    }
    if ((cmd.fn === 'reReplaceAll' || cmd.fn === 'match') && first?.k === 'str') {
      const problem = regexProblem(first.v);
      if (problem) this.err(`invalid regular expression in ${cmd.fn}: ${problem}`, patternAt);
    }
    if (!cmd.fn && cmd.args.length === 0) this.err('empty command');
    if (!cmd.fn && cmd.args.length > 1) this.err('a value cannot take arguments');
    return cmd;
  }

  operand(): Operand {
    const rest = this.s.slice(this.i);
    const start = this.i;
    let m: RegExpExecArray | null;
    if (rest[0] === '(') {
      this.i++;
      const p = this.pipeline(false);
      this.ws();
      if (this.s[this.i] !== ')') this.err('missing ")"');
      this.i++;
      return { k: 'pipe', p };
    }
    if ((m = /^"((?:[^"\\]|\\.)*)"/.exec(rest))) {
      this.i += m[0].length;
      return { k: 'str', v: JSON.parse(m[0]) as string };
    }
    if ((m = /^`([^`]*)`/.exec(rest))) {
      this.i += m[0].length;
      return { k: 'str', v: m[1] };
    }
    if ((m = /^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+)/.exec(rest))) {
      this.i += m[0].length;
      return { k: 'num', v: Number(m[0]) };
    }
    if ((m = /^(\$[A-Za-z_]*|\.[A-Za-z_]+)(\.[A-Za-z_][A-Za-z0-9_]*)?/.exec(rest))) {
      this.i += m[0].length;
      const name = m[1];
      if (!VARS.has(name)) this.err(`unknown variable ${name} (use $labels, $value, $externalLabels, $externalURL)`, start);
      return { k: 'var', name, field: m[2]?.slice(1), pos: this.base + start };
    }
    if ((m = /^[A-Za-z_]\w*/.exec(rest))) {
      if (UNSUPPORTED.has(m[0])) this.err(`"${m[0]}" is not supported in Metronome templates`);
      this.err(`a function (${m[0]}) can only start a command; wrap it in parentheses`);
    }
    return this.err(`unexpected ${JSON.stringify(rest[0])}`);
  }
}

function evalPipe(p: Pipeline, d: TemplateData): Value {
  let prev: Value | undefined;
  for (const cmd of p) {
    const args = cmd.args.map((a) => evalOperand(a, d));
    if (prev !== undefined) args.push(prev);
    if (!cmd.fn) {
      prev = args[args.length - 1];
      continue;
    }
    const f = FUNCS[cmd.fn];
    const [lo, hi] = typeof f.arity === 'number' ? [f.arity, f.arity] : f.arity;
    if (args.length < lo || args.length > hi) {
      throw new TemplateError(`${cmd.fn} takes ${lo === hi ? lo : `${lo} to ${hi}`} argument(s), got ${args.length}`, cmd.pos);
    }
    prev = f.fn(...args);
  }
  return prev ?? '';
}

function evalOperand(o: Operand, d: TemplateData): Value {
  switch (o.k) {
    case 'str':
      return o.v;
    case 'num':
      return o.v;
    case 'pipe':
      return evalPipe(o.p, d);
    case 'var': {
      let base: Value;
      switch (o.name) {
        case '$labels':
        case '.Labels':
          base = d.labels;
          break;
        case '$value':
        case '.Value':
          base = d.value;
          break;
        case '$externalLabels':
        case '.ExternalLabels':
          base = d.externalLabels ?? {};
          break;
        case '$externalURL':
        case '.ExternalURL':
          base = d.externalURL ?? '';
          break;
        default:
          base = '';
      }
      if (o.field === undefined) return base;
      // missingkey=zero, as Prometheus sets it: an absent label expands to "".
      return typeof base === 'object' ? (base[o.field] ?? '') : '';
    }
  }
}

function num(v: Value): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const n = Number(v.trim());
    if (v.trim() !== '' && !Number.isNaN(n)) return n;
    if (/^[+-]?(inf|infinity)$/i.test(v.trim())) return v.trim().startsWith('-') ? -Infinity : Infinity;
    if (/^nan$/i.test(v.trim())) return NaN;
  }
  throw new TemplateError(`cannot convert ${JSON.stringify(v)} to a number`, 0);
}

function str(v: Value): string {
  return show(v);
}

/** How Go prints a value with %v. */
function show(v: Value): string {
  if (typeof v === 'number') return goFloat(v);
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'object') return `map[${Object.keys(v).sort().map((k) => `${k}:${v[k]}`).join(' ')}]`;
  return v;
}

function special(v: number): string | null {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return null;
}

/** Go's exponent form: at least two exponent digits (1e+06). */
function goExp(s: string): string {
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

/** strconv.FormatFloat(v, 'g', -1, 64): shortest representation, Go's %v for float64. */
export function goFloat(v: number): string {
  const sp = special(v);
  if (sp) return sp;
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const e = v.toExponential();
  const [mant, expS] = e.split('e');
  const exp = Number(expS);
  const nd = mant.replace(/[-.]/g, '').length;
  let eprec = 6;
  if (eprec > nd && nd >= exp + 1) eprec = nd;
  if (exp < -4 || exp >= eprec) return goExp(e);
  return String(v);
}

/** Go's %.<prec>g. */
export function goG(v: number, prec: number): string {
  const sp = special(v);
  if (sp) return sp;
  if (v === 0) return '0';
  const p = Math.max(1, prec);
  const e = v.toExponential(p - 1);
  const exp = Number(e.split('e')[1]);
  if (exp < -4 || exp >= p) {
    const [m, x] = e.split('e');
    return goExp(`${stripZeros(m)}e${x}`);
  }
  return stripZeros(v.toFixed(Math.max(0, p - 1 - exp)));
}

function stripZeros(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

export function humanize(v: number): string {
  if (!Number.isFinite(v)) return goG(v, 4);
  if (Math.abs(v) >= 1) {
    let prefix = '';
    for (const p of ['k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y']) {
      if (Math.abs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
    return goG(v, 4) + prefix;
  }
  let prefix = '';
  for (const p of ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y']) {
    if (Math.abs(v) >= 1 || v === 0) break;
    prefix = p;
    v *= 1000;
  }
  return goG(v, 4) + prefix;
}

export function humanize1024(v: number): string {
  if (Math.abs(v) <= 1 || !Number.isFinite(v)) return goG(v, 4);
  let prefix = '';
  for (const p of ['ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei', 'Zi', 'Yi']) {
    if (Math.abs(v) < 1024) break;
    prefix = p;
    v /= 1024;
  }
  return goG(v, 4) + prefix;
}

export function humanizeDuration(v: number): string {
  if (!Number.isFinite(v)) return goG(v, 4);
  if (v === 0) return '0s';
  if (Math.abs(v) >= 1) {
    const sign = v < 0 ? '-' : '';
    const a = Math.abs(v);
    const d = Math.trunc(a);
    const s = d % 60;
    const m = Math.trunc(d / 60) % 60;
    const h = Math.trunc(d / 3600) % 24;
    const days = Math.trunc(d / 86400);
    if (days) return `${sign}${days}d ${h}h ${m}m ${s}s`;
    if (h) return `${sign}${h}h ${m}m ${s}s`;
    if (m) return `${sign}${m}m ${s}s`;
    return `${sign}${goG(a, 4)}s`;
  }
  let prefix = '';
  for (const p of ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y']) {
    if (Math.abs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return `${goG(v, 4)}${prefix}s`;
}

/** Go's time.Time String() in UTC: "2006-01-02 15:04:05.999999999 +0000 UTC". */
export function humanizeTimestamp(v: number): string {
  if (!Number.isFinite(v)) return goG(v, 4);
  const ms = Math.round(v * 1000);
  const iso = new Date(ms).toISOString();
  const frac = ms % 1000 ? `.${String(((ms % 1000) + 1000) % 1000).padStart(3, '0').replace(/0+$/, '')}` : '';
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac} +0000 UTC`;
}

/** Go's fmt for the verbs alert templates use: %s %v %d %f %e %g %q %x %%, with width/precision. */
export function sprintf(format: string, args: Value[]): string {
  const problem = printfProblem(format);
  if (problem) throw new TemplateError(problem, 0);
  let ai = 0;
  return format.replace(PRINTF_VERB, (whole, flags: string, width?: string, precS?: string, verb?: string) => {
    if (verb === '%') return '%';
    if (ai >= args.length) return `%!${verb}(MISSING)`;
    const a = args[ai++];
    const prec = precS === undefined ? undefined : Number(precS);
    let out: string;
    switch (verb) {
      case 's':
      case 'v':
        out = show(a);
        if (prec !== undefined && verb === 's') out = out.slice(0, prec);
        break;
      case 'q':
        out = JSON.stringify(show(a));
        break;
      case 'd':
        out = String(Math.trunc(num(a)));
        break;
      case 'f':
        out = special(num(a)) ?? num(a).toFixed(prec ?? 6);
        break;
      case 'e':
      case 'E':
        out = special(num(a)) ?? goExp(num(a).toExponential(prec ?? 6));
        if (verb === 'E') out = out.toUpperCase();
        break;
      case 'g':
      case 'G':
        out = prec === undefined ? goFloat(num(a)) : goG(num(a), prec);
        if (verb === 'G') out = out.toUpperCase();
        break;
      case 'x':
      case 'X':
        out = typeof a === 'number' ? Math.trunc(a).toString(16) : Buffer.from(show(a)).toString('hex');
        if (verb === 'X') out = out.toUpperCase();
        break;
      default:
        return whole;
    }
    if (flags.includes('+') && typeof a === 'number' && num(a) >= 0 && 'dfeEgG'.includes(verb!)) out = `+${out}`;
    const w = width ? Number(width) : 0;
    if (out.length < w) {
      if (flags.includes('-')) out = out.padEnd(w);
      else if (flags.includes('0') && 'dfeEgGxX'.includes(verb!)) {
        const neg = out.startsWith('-') || out.startsWith('+');
        out = neg ? out[0] + out.slice(1).padStart(w - 1, '0') : out.padStart(w, '0');
      } else out = out.padStart(w);
    }
    return out;
  }) + (ai < args.length ? `%!(EXTRA ${args.slice(ai).map(show).join(', ')})` : '');
}
