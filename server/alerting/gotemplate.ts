/**
 * Go's text/template, as Alertmanager's notification templates use it: `define`, `template`,
 * `block`, `if`/`else if`/`else`, `range` (with `$i, $e :=`, `else`, `break`, `continue`),
 * `with`/`else`, variables, pipelines, fields and methods of the data (`.Alerts.Firing`,
 * `.CommonLabels.Remove .GroupLabels.Names`), Go's builtins and the functions of Alertmanager and
 * Prometheus templates. Parse errors carry file:line:column.
 *
 * Bounded (issue 13): an expansion stops with an error past 64 KB of output, 100 nested template
 * calls, or a million evaluation steps, so a template cannot exhaust memory or stall the server;
 * printf widths over 1024 are refused. Regexes run on RE2 (server/regex.ts).
 */
import { compileRegex } from '../regex.js';
import { goFloat, humanize, humanize1024, humanizeDuration, humanizeTimestamp, MAX_OUTPUT, goG, printfProblem, sprintf } from './template.js';

export class GoTemplateError extends Error {
  override name = 'GoTemplateError';
  constructor(
    message: string,
    readonly file = '',
    readonly line = 0,
    readonly column = 0,
  ) {
    super(line ? `${file ? `${file}:` : ''}${line}:${column}: ${message}` : message);
  }
}

const MAX_DEPTH = 100;
const MAX_STEPS = 200_000;

// ---------- values ----------

/** A label set as Alertmanager's template.KV: a map with SortedPairs, Names, Values, Remove. */
export class KV {
  constructor(readonly m: Record<string, string>) {}
  SortedPairs(): Pair[] & { Names(): string[]; Values(): string[] } {
    const pairs = Object.keys(this.m)
      .sort()
      .map((k) => new Pair(k, this.m[k]));
    return Object.assign(pairs, { Names: () => pairs.map((p) => p.Name), Values: () => pairs.map((p) => p.Value) });
  }
  Names(): string[] {
    return Object.keys(this.m).sort();
  }
  Values(): string[] {
    return this.Names().map((k) => this.m[k]);
  }
  Remove(keys: unknown): KV {
    const drop = new Set(Array.isArray(keys) ? keys.map(String) : []);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.m)) if (!drop.has(k)) out[k] = v;
    return new KV(out);
  }
}

export class Pair {
  constructor(
    readonly Name: string,
    readonly Value: string,
  ) {}
}

/** A time.Time: prints as Go does, with Format, Unix, UTC. */
export class GoTime {
  constructor(
    readonly ms: number,
    readonly zone = 'UTC',
  ) {}
  Unix(): number {
    return Math.floor(this.ms / 1000);
  }
  UnixMilli(): number {
    return this.ms;
  }
  UTC(): GoTime {
    return new GoTime(this.ms);
  }
  IsZero(): boolean {
    return this.ms <= -62135596800000;
  }
  Format(layout: unknown): string {
    return formatGoTime(this, String(layout));
  }
  String(): string {
    return formatGoTime(this, '2006-01-02 15:04:05.999999999 -0700 MST');
  }
}

/** Text that html escaping leaves alone (safeHtml). */
class SafeHTML {
  constructor(readonly s: string) {}
}

type Value = unknown;

function truth(v: Value): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof KV) return Object.keys(v.m).length > 0;
  if (v instanceof SafeHTML) return v.s !== '';
  return true;
}

/** Go's %v. */
function show(v: Value): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 1e21 ? String(v) : goFloat(v);
  if (typeof v === 'boolean') return String(v);
  if (v instanceof SafeHTML) return v.s;
  if (v instanceof GoTime) return v.String();
  if (v instanceof KV) return `map[${v.Names().map((k) => `${k}:${v.m[k]}`).join(' ')}]`;
  if (v instanceof Pair) return `{${v.Name} ${v.Value}}`;
  if (Array.isArray(v)) return `[${v.map(show).join(' ')}]`;
  if (typeof v === 'object') return '{' + Object.values(v as object).map(show).join(' ') + '}';
  return String(v);
}

// ---------- Go time layouts ----------

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** Offset in minutes of an IANA zone at an instant. */
function zoneOffset(zone: string, ms: number): number {
  if (zone === 'UTC') return 0;
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' }).formatToParts(new Date(ms));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value);
  const asUTC = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((asUTC - Math.floor(ms / 1000) * 1000) / 60_000);
}

function formatGoTime(t: GoTime, layout: string): string {
  const off = zoneOffset(t.zone, t.ms);
  const d = new Date(t.ms + off * 60_000);
  const p2 = (n: number) => String(n).padStart(2, '0');
  const abbr = t.zone === 'UTC' ? 'UTC' : (new Intl.DateTimeFormat('en-US', { timeZone: t.zone, timeZoneName: 'short' }).formatToParts(new Date(t.ms)).find((x) => x.type === 'timeZoneName')?.value ?? t.zone);
  const sign = off < 0 ? '-' : '+';
  const oh = p2(Math.floor(Math.abs(off) / 60));
  const om = p2(Math.abs(off) % 60);
  const h = d.getUTCHours();
  const frac = String(t.ms % 1000 >= 0 ? t.ms % 1000 : 1000 + (t.ms % 1000)).padStart(3, '0');
  const tokens: [string, () => string][] = [
    ['January', () => MONTHS[d.getUTCMonth()]],
    ['Monday', () => DAYS[d.getUTCDay()]],
    ['2006', () => String(d.getUTCFullYear())],
    ['Z07:00', () => (off === 0 ? 'Z' : `${sign}${oh}:${om}`)],
    ['-07:00', () => `${sign}${oh}:${om}`],
    ['-0700', () => `${sign}${oh}${om}`],
    ['Jan', () => MONTHS[d.getUTCMonth()].slice(0, 3)],
    ['Mon', () => DAYS[d.getUTCDay()].slice(0, 3)],
    ['MST', () => abbr],
    ['.000000000', () => `.${frac}000000`],
    ['.000000', () => `.${frac}000`],
    ['.000', () => `.${frac}`],
    ['.999999999', () => (frac === '000' ? '' : `.${frac.replace(/0+$/, '')}`)],
    ['.999999', () => (frac === '000' ? '' : `.${frac.replace(/0+$/, '')}`)],
    ['.999', () => (frac === '000' ? '' : `.${frac.replace(/0+$/, '')}`)],
    ['01', () => p2(d.getUTCMonth() + 1)],
    ['02', () => p2(d.getUTCDate())],
    ['_2', () => String(d.getUTCDate()).padStart(2, ' ')],
    ['15', () => p2(h)],
    ['03', () => p2(h % 12 || 12)],
    ['04', () => p2(d.getUTCMinutes())],
    ['05', () => p2(d.getUTCSeconds())],
    ['06', () => p2(d.getUTCFullYear() % 100)],
    ['PM', () => (h >= 12 ? 'PM' : 'AM')],
    ['pm', () => (h >= 12 ? 'pm' : 'am')],
    ['1', () => String(d.getUTCMonth() + 1)],
    ['2', () => String(d.getUTCDate())],
    ['3', () => String(h % 12 || 12)],
    ['4', () => String(d.getUTCMinutes())],
    ['5', () => String(d.getUTCSeconds())],
  ];
  let out = '';
  let i = 0;
  outer: while (i < layout.length) {
    for (const [tok, f] of tokens) {
      if (layout.startsWith(tok, i)) {
        out += f();
        i += tok.length;
        continue outer;
      }
    }
    out += layout[i++];
  }
  return out;
}

// ---------- lexer and parser ----------

type Pos = number;
type Operand =
  | { k: 'dot'; fields: string[]; pos: Pos }
  | { k: 'var'; name: string; fields: string[]; pos: Pos }
  | { k: 'lit'; v: Value; pos: Pos }
  | { k: 'fn'; name: string; pos: Pos }
  | { k: 'pipe'; p: Pipeline; fields: string[]; pos: Pos };
interface Command {
  args: Operand[];
  pos: Pos;
}
interface Pipeline {
  decl: string[];
  assign: boolean;
  cmds: Command[];
  pos: Pos;
}
type Node =
  | { t: 'text'; s: string }
  | { t: 'action'; p: Pipeline }
  | { t: 'if' | 'with'; p: Pipeline; body: Node[]; else: Node[] }
  | { t: 'range'; p: Pipeline; body: Node[]; else: Node[] }
  | { t: 'template'; name: string; p: Pipeline | null; pos: Pos }
  | { t: 'break' | 'continue' };

type Tok = { k: 'id' | 'field' | 'var' | 'str' | 'num' | 'op' | 'char'; v: string; pos: Pos };

/** A set of named templates (Alertmanager's template.Template). */
export class TemplateSet {
  readonly defs = new Map<string, Node[]>();
  /** Templates implemented in TypeScript (the defaults), called with the dot. */
  readonly natives = new Map<string, (dot: Value, root: Value) => string>();

  /** Parse a file's text: its `define`s join the set; returns its top-level nodes. */
  parse(src: string, file = ''): Node[] {
    return new Parser(src, file, this).parseTop();
  }

  has(name: string): boolean {
    return this.defs.has(name) || this.natives.has(name);
  }

  /** Expand parsed nodes (or a named template) with `data`. `html` escapes action output (html/template's text context). */
  execute(nodes: Node[] | string, data: Value, opts: { html?: boolean; funcs?: Record<string, Fn> } = {}): string {
    const ex = new Exec(this, data, opts.html ?? false, opts.funcs ?? {});
    if (typeof nodes === 'string') ex.callTemplate(nodes, data, 0);
    else ex.run(nodes, [{ name: '$', v: data }], 0);
    return ex.out;
  }
}

class Parser {
  i = 0;
  constructor(
    readonly src: string,
    readonly file: string,
    readonly set: TemplateSet,
  ) {}

  err(msg: string, pos: number): never {
    let line = 1;
    let col = 1;
    for (let j = 0; j < pos && j < this.src.length; j++) {
      if (this.src[j] === '\n') {
        line++;
        col = 1;
      } else col++;
    }
    throw new GoTemplateError(msg, this.file, line, col);
  }

  /** Items: text and actions (token lists with the action's keyword). */
  items: ({ t: 'text'; s: string } | { t: 'act'; toks: Tok[]; pos: Pos })[] = [];

  lex(): void {
    const s = this.src;
    let i = 0;
    let trimNext = false;
    while (i < s.length) {
      const open = s.indexOf('{{', i);
      let text = open < 0 ? s.slice(i) : s.slice(i, open);
      if (trimNext) text = text.replace(/^\s+/, '');
      trimNext = false;
      if (open < 0) {
        if (text) this.items.push({ t: 'text', s: text });
        break;
      }
      let j = open + 2;
      if (s[j] === '-' && /\s/.test(s[j + 1] ?? '')) {
        text = text.replace(/\s+$/, '');
        j++;
      }
      if (text) this.items.push({ t: 'text', s: text });
      // Comment
      const rest = s.slice(j).replace(/^\s*/, '');
      if (rest.startsWith('/*')) {
        const start = s.indexOf('/*', j);
        const end = s.indexOf('*/', start + 2);
        if (end < 0) this.err('unclosed comment', open);
        let k = end + 2;
        while (/\s/.test(s[k] ?? '') && s[k] !== '-') k++;
        if (s[k] === '-' && s[k + 1] === '}' && s[k + 2] === '}') {
          trimNext = true;
          k++;
        }
        while (/\s/.test(s[k] ?? '')) k++;
        if (!s.startsWith('}}', k)) this.err('comment ends before closing delimiter', end);
        i = k + 2;
        continue;
      }
      const toks: Tok[] = [];
      for (;;) {
        while (/\s/.test(s[j] ?? '')) j++;
        if (j >= s.length) this.err('unclosed action', open);
        if (s[j] === '-' && /\s/.test(s[j - 1]) && s.startsWith('}}', j + 1)) {
          trimNext = true;
          j += 3;
          break;
        }
        if (s.startsWith('}}', j)) {
          j += 2;
          break;
        }
        const c = s[j];
        const pos = j;
        let m: RegExpExecArray | null;
        const tail = s.slice(j, j + 4096);
        if (c === '"') {
          let k = j + 1;
          while (k < s.length && s[k] !== '"' && s[k] !== '\n') k += s[k] === '\\' ? 2 : 1;
          if (s[k] !== '"') this.err('unterminated quoted string', pos);
          let v: string;
          try {
            v = JSON.parse(s.slice(j, k + 1)) as string;
          } catch {
            this.err('invalid escape in quoted string', pos);
          }
          toks.push({ k: 'str', v, pos });
          j = k + 1;
        } else if (c === '`') {
          const k = s.indexOf('`', j + 1);
          if (k < 0) this.err('unterminated raw quoted string', pos);
          toks.push({ k: 'str', v: s.slice(j + 1, k), pos });
          j = k + 1;
        } else if (c === "'") {
          const k = s.indexOf("'", j + 1);
          if (k < 0) this.err('unterminated character constant', pos);
          toks.push({ k: 'num', v: String(s.slice(j + 1, k).codePointAt(0) ?? 0), pos });
          j = k + 1;
        } else if ((m = /^[+-]?(0x[0-9a-fA-F]+|\d+(\.\d*)?([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)/.exec(tail)) && !(c === '.' && /[A-Za-z_]/.test(s[j + 1] ?? ''))) {
          toks.push({ k: 'num', v: m[0], pos });
          j += m[0].length;
        } else if ((m = /^\$[A-Za-z0-9_]*/.exec(tail))) {
          toks.push({ k: 'var', v: m[0], pos });
          j += m[0].length;
        } else if ((m = /^\.[A-Za-z_][A-Za-z0-9_]*/.exec(tail))) {
          toks.push({ k: 'field', v: m[0].slice(1), pos });
          j += m[0].length;
        } else if (c === '.') {
          toks.push({ k: 'op', v: '.', pos });
          j++;
        } else if ((m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(tail))) {
          toks.push({ k: 'id', v: m[0], pos });
          j += m[0].length;
        } else if (s.startsWith(':=', j)) {
          toks.push({ k: 'op', v: ':=', pos });
          j += 2;
        } else if ('|(),='.includes(c)) {
          toks.push({ k: 'op', v: c, pos });
          j++;
        } else this.err(`unexpected ${JSON.stringify(c)} in action`, pos);
      }
      this.items.push({ t: 'act', toks, pos: open });
      i = j;
    }
  }

  idx = 0;

  parseTop(): Node[] {
    this.lex();
    const { nodes, end } = this.list(true);
    if (end) this.err(`unexpected {{${end.word}}}`, end.pos);
    return nodes;
  }

  /** Nodes up to an `end`/`else` (returned as `end`). */
  list(top: boolean): { nodes: Node[]; end: { word: 'end' | 'else'; toks: Tok[]; pos: Pos } | null } {
    const nodes: Node[] = [];
    while (this.idx < this.items.length) {
      const it = this.items[this.idx++];
      if (it.t === 'text') {
        nodes.push({ t: 'text', s: it.s });
        continue;
      }
      const toks = it.toks;
      if (toks.length === 0) this.err('missing value for command', it.pos);
      const kw = toks[0].k === 'id' ? toks[0].v : '';
      switch (kw) {
        case 'end':
        case 'else':
          if (top) this.err(`unexpected {{${kw}}}`, it.pos);
          return { nodes, end: { word: kw, toks: toks.slice(1), pos: it.pos } };
        case 'if':
        case 'with':
        case 'range':
          nodes.push(this.control(kw, toks.slice(1), it.pos));
          break;
        case 'define':
        case 'block': {
          if (toks[1]?.k !== 'str') this.err(`${kw} needs a quoted template name`, it.pos);
          if (kw === 'define' && !top) this.err('define is only allowed at the top level', it.pos);
          const name = toks[1].v;
          const body = this.list(false);
          if (body.end?.word !== 'end') this.err(`unclosed ${kw} "${name}"`, it.pos);
          this.set.defs.set(name, body.nodes);
          if (kw === 'block') nodes.push({ t: 'template', name, p: toks.length > 2 ? this.pipeline(toks.slice(2), it.pos, false) : null, pos: it.pos });
          break;
        }
        case 'template':
          if (toks[1]?.k !== 'str') this.err('template needs a quoted template name', it.pos);
          nodes.push({ t: 'template', name: toks[1].v, p: toks.length > 2 ? this.pipeline(toks.slice(2), it.pos, false) : null, pos: it.pos });
          break;
        case 'break':
        case 'continue':
          nodes.push({ t: kw });
          break;
        default:
          nodes.push({ t: 'action', p: this.pipeline(toks, it.pos, true) });
      }
    }
    return { nodes, end: null };
  }

  control(kw: 'if' | 'with' | 'range', toks: Tok[], pos: Pos): Node {
    if (toks.length === 0) this.err(`missing value for ${kw}`, pos);
    const p = this.pipeline(toks, pos, kw === 'range' ? 'range' : true);
    const body = this.list(false);
    if (!body.end) this.err(`unclosed {{${kw}}}`, pos);
    let elseNodes: Node[] = [];
    if (body.end.word === 'else') {
      const rest = body.end.toks;
      if (rest.length && rest[0].k === 'id' && (rest[0].v === 'if' || rest[0].v === 'with') && kw !== 'range') {
        // else if / else with: the chained node takes the shared {{end}}.
        elseNodes = [this.control(rest[0].v as 'if' | 'with', rest.slice(1), body.end.pos)];
      } else {
        if (rest.length) this.err(`unexpected tokens after else`, body.end.pos);
        const e = this.list(false);
        if (e.end?.word !== 'end') this.err(`unclosed {{${kw}}} (expected {{end}} after {{else}})`, pos);
        elseNodes = e.nodes;
      }
    }
    return { t: kw, p, body: body.nodes, else: elseNodes } as Node;
  }

  pipeline(toks: Tok[], pos: Pos, declOk: boolean | 'range'): Pipeline {
    const p: Pipeline = { decl: [], assign: false, cmds: [], pos };
    let i = 0;
    // Declarations: $x := / $x = / $i, $e :=
    const declEnd = toks.findIndex((t) => t.k === 'op' && (t.v === ':=' || t.v === '='));
    if (declEnd > 0 && toks.slice(0, declEnd).every((t, j) => (j % 2 === 0 ? t.k === 'var' : t.k === 'op' && t.v === ','))) {
      if (!declOk) this.err('variable declaration not allowed here', toks[0].pos);
      p.decl = toks.slice(0, declEnd).filter((t) => t.k === 'var').map((t) => t.v);
      if (p.decl.length > (declOk === 'range' ? 2 : 1)) this.err('too many declarations', toks[0].pos);
      p.assign = toks[declEnd].v === '=';
      i = declEnd + 1;
    }
    let cmd: Command = { args: [], pos: toks[i]?.pos ?? pos };
    const operand = (): Operand => {
      const t = toks[i++];
      if (!t) this.err('missing operand', pos);
      const fieldsAfter = (): string[] => {
        const f: string[] = [];
        while (toks[i]?.k === 'field' && toks[i].pos === toks[i - 1].pos + toks[i - 1].v.length + (toks[i - 1].k === 'field' ? 1 : 0)) f.push(toks[i++].v);
        return f;
      };
      switch (t.k) {
        case 'field': {
          const fields = [t.v];
          while (toks[i]?.k === 'field' && toks[i].pos === toks[i - 1].pos + toks[i - 1].v.length + 1) fields.push(toks[i++].v);
          return { k: 'dot', fields, pos: t.pos };
        }
        case 'var':
          return { k: 'var', name: t.v, fields: fieldsAfter(), pos: t.pos };
        case 'str':
          return { k: 'lit', v: t.v, pos: t.pos };
        case 'num':
          return { k: 'lit', v: Number(t.v), pos: t.pos };
        case 'id':
          if (t.v === 'true' || t.v === 'false') return { k: 'lit', v: t.v === 'true', pos: t.pos };
          if (t.v === 'nil') return { k: 'lit', v: null, pos: t.pos };
          if (!Object.hasOwn(FUNCS, t.v)) this.err(`function "${t.v}" not defined`, t.pos);
          return { k: 'fn', name: t.v, pos: t.pos };
        case 'op':
          if (t.v === '.') return { k: 'dot', fields: [], pos: t.pos };
          if (t.v === '(') {
            let depth = 1;
            const start = i;
            while (i < toks.length && depth) {
              if (toks[i].k === 'op' && toks[i].v === '(') depth++;
              if (toks[i].k === 'op' && toks[i].v === ')') depth--;
              i++;
            }
            if (depth) this.err('unclosed left paren', t.pos);
            const inner = this.pipeline(toks.slice(start, i - 1), t.pos, false);
            const fields: string[] = [];
            while (toks[i]?.k === 'field' && toks[i].pos === toks[i - 1].pos + 1 + (fields.length ? toks[i - 1].v.length : 0)) fields.push(toks[i++].v);
            return { k: 'pipe', p: inner, fields, pos: t.pos };
          }
          return this.err(`unexpected "${t.v}" in operand`, t.pos);
        default:
          return this.err('unexpected token', t.pos);
      }
    };
    while (i < toks.length) {
      const t = toks[i];
      if (t.k === 'op' && t.v === '|') {
        if (cmd.args.length === 0) this.err('missing command before |', t.pos);
        p.cmds.push(cmd);
        i++;
        cmd = { args: [], pos: toks[i]?.pos ?? t.pos };
        continue;
      }
      if (t.k === 'op' && (t.v === ')' || t.v === ',' || t.v === ':=' || t.v === '=')) this.err(`unexpected "${t.v}"`, t.pos);
      cmd.args.push(operand());
    }
    if (cmd.args.length === 0) this.err('missing value for command', pos);
    p.cmds.push(cmd);
    for (const c of p.cmds) {
      // A literal printf format is checked when the template is loaded.
      if (c.args[0]?.k === 'fn' && c.args[0].name === 'printf' && c.args[1]?.k === 'lit' && typeof c.args[1].v === 'string') {
        const problem = printfProblem(c.args[1].v);
        if (problem) this.err(problem, c.args[1].pos);
      }
      if (c.args[0]?.k !== 'fn' && c.args.length > 1 && !(c.args[0].k === 'dot' || c.args[0].k === 'var' || c.args[0].k === 'pipe')) this.err("can't give argument to non-function", c.args[1].pos);
    }
    return p;
  }
}

// ---------- execution ----------

type Fn = (...args: Value[]) => Value;
interface Scope {
  name: string;
  v: Value;
}
class Break {}
class Continue {}

const num = (v: Value, fn: string): number => {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  if (typeof v === 'string' && /^[+-]?inf(inity)?$/i.test(v.trim())) return v.trim().startsWith('-') ? -Infinity : Infinity;
  if (typeof v === 'string' && /^nan$/i.test(v.trim())) return NaN;
  throw new GoTemplateError(`${fn}: cannot convert ${JSON.stringify(show(v))} to a number`);
};
const str = (v: Value) => show(v);
const toTime = (v: Value): GoTime => (v instanceof GoTime ? v : new GoTime(num(v, 'time') * 1000));
const lenOf = (v: Value): number => {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (v instanceof KV) return Object.keys(v.m).length;
  if (v && typeof v === 'object') return Object.keys(v).length;
  throw new GoTemplateError(`len of ${show(v)}`);
};
const basic = (v: Value) => (v instanceof SafeHTML ? v.s : v);
const cmp = (a: Value, b: Value, fn: string): number => {
  a = basic(a);
  b = basic(b);
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean' && (fn === 'eq' || fn === 'ne')) return a === b ? 0 : 1;
  throw new GoTemplateError(`${fn}: incompatible types for comparison`);
};
const goQuote = (s: string) => JSON.stringify(s);

/** Go's fmt.Sprint: spaces between operands when neither is a string. */
function sprint(args: Value[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof basic(a) !== 'string' && typeof basic(args[i - 1]) !== 'string') out += ' ';
    out += show(a);
  });
  return out;
}

const FUNCS: Record<string, Fn> = {
  // Go's builtins (and/or are evaluated lazily by the executor).
  and: () => undefined,
  or: () => undefined,
  not: (v) => !truth(v),
  len: (v) => lenOf(v),
  index: (v, ...keys) => {
    let cur = v;
    for (const k of keys) {
      if (Array.isArray(cur)) {
        const n = num(k, 'index');
        if (n < 0 || n >= cur.length) throw new GoTemplateError(`index out of range: ${n}`);
        cur = cur[n];
      } else if (cur instanceof KV) cur = cur.m[str(k)] ?? '';
      else if (cur && typeof cur === 'object') cur = (cur as Record<string, unknown>)[str(k)];
      else throw new GoTemplateError(`can't index item of type ${typeof cur}`);
    }
    return cur;
  },
  print: (...a) => sprint(a),
  println: (...a) => `${a.map(show).join(' ')}\n`,
  printf: (f, ...a) => sprintf(str(f), a.map((x) => (typeof basic(x) === 'number' || typeof basic(x) === 'boolean' ? (basic(x) as number) : show(x)))),
  eq: (a, ...bs) => bs.some((b) => cmp(a, b, 'eq') === 0),
  ne: (a, b) => cmp(a, b, 'ne') !== 0,
  lt: (a, b) => cmp(a, b, 'lt') < 0,
  le: (a, b) => cmp(a, b, 'le') <= 0,
  gt: (a, b) => cmp(a, b, 'gt') > 0,
  ge: (a, b) => cmp(a, b, 'ge') >= 0,
  html: (...a) => sprint(a).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' })[c]!),
  js: (...a) => sprint(a).replace(/[\\'"<>&=]/g, (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`),
  urlquery: (...a) => encodeURIComponent(sprint(a)).replace(/%20/g, '+'),
  // Alertmanager's (template/template.go) and Prometheus' template functions.
  toUpper: (s) => str(s).toUpperCase(),
  toLower: (s) => str(s).toLowerCase(),
  title: (s) => str(s).replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, a: string, b: string) => a + b.toUpperCase()),
  trimSpace: (s) => str(s).trim(),
  join: (sep, list) => (Array.isArray(list) ? list.map(show).join(str(sep)) : str(list)),
  split: (s, sep) => str(s).split(str(sep)),
  match: (re, s) => compileRegex(str(re), 'search').test(str(s)),
  reReplaceAll: (re, repl, s) => compileRegex(str(re), 'search').replaceAll(str(s), str(repl)),
  safeHtml: (s) => new SafeHTML(str(s)),
  safeUrl: (s) => new SafeHTML(str(s)),
  stringSlice: (...a) => a.map(str),
  list: (...a) => a,
  append: (l, ...a) => [...(Array.isArray(l) ? l : []), ...a],
  toJson: (v) => JSON.stringify(v instanceof KV ? v.m : v instanceof GoTime ? new Date(v.ms).toISOString() : v),
  date: (layout, t) => toTime(t).Format(str(layout)),
  tz: (zone, t) => {
    const z = str(zone);
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: z });
    } catch {
      throw new GoTemplateError(`tz: unknown time zone ${goQuote(z)}`);
    }
    return new GoTime(toTime(t).ms, z);
  },
  since: (t) => (Date.now() - toTime(t).ms) / 1000,
  humanize: (v) => humanize(num(v, 'humanize')),
  humanize1024: (v) => humanize1024(num(v, 'humanize1024')),
  humanizePercentage: (v) => `${goG(num(v, 'humanizePercentage') * 100, 4)}%`,
  humanizeDuration: (v) => humanizeDuration(num(v, 'humanizeDuration')),
  humanizeTimestamp: (v) => humanizeTimestamp(v instanceof GoTime ? v.ms / 1000 : num(v, 'humanizeTimestamp')),
};

class Exec {
  out = '';
  steps = 0;
  constructor(
    readonly set: TemplateSet,
    readonly root: Value,
    readonly html: boolean,
    readonly funcs: Record<string, Fn>,
  ) {}

  write(s: string): void {
    this.out += s;
    if (this.out.length > MAX_OUTPUT) throw new GoTemplateError(`template output exceeds ${MAX_OUTPUT} bytes`);
  }

  step(): void {
    if (++this.steps > MAX_STEPS) throw new GoTemplateError(`template needs more than ${MAX_STEPS} evaluation steps`);
  }

  callTemplate(name: string, dot: Value, depth: number): void {
    if (depth >= MAX_DEPTH) throw new GoTemplateError(`exceeded maximum template depth (${MAX_DEPTH})`);
    const native = this.set.natives.get(name);
    if (native) return this.write(native(dot, this.root));
    const def = this.set.defs.get(name);
    if (!def) throw new GoTemplateError(`no such template ${goQuote(name)}`);
    this.run(def, [{ name: '$', v: dot }], depth + 1);
  }

  run(nodes: Node[], vars: Scope[], depth: number, dot: Value = vars[0].v): void {
    for (const n of nodes) {
      this.step();
      switch (n.t) {
        case 'text':
          this.write(n.s);
          break;
        case 'action': {
          const v = this.pipe(n.p, vars, dot);
          if (n.p.decl.length === 0) this.write(this.html && !(v instanceof SafeHTML) ? FUNCS.html(v) as string : show(v));
          break;
        }
        case 'if':
        case 'with': {
          const scope = vars.length;
          const v = this.pipe(n.p, vars, dot);
          if (truth(v)) this.run(n.body, vars, depth, n.t === 'with' ? v : dot);
          else this.run(n.else, vars, depth, dot);
          vars.length = scope;
          break;
        }
        case 'range': {
          const scope = vars.length;
          const v = this.pipe({ ...n.p, decl: [] }, vars, dot);
          let items: [Value, Value][] = [];
          if (Array.isArray(v)) items = v.map((x, i) => [i, x]);
          else if (v instanceof KV) items = v.Names().map((k) => [k, v.m[k]]);
          else if (v && typeof v === 'object' && !(v instanceof GoTime) && !(v instanceof SafeHTML)) items = Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]);
          else if (v !== null && v !== undefined && v !== '') throw new GoTemplateError(`range can't iterate over ${show(v)}`);
          if (items.length === 0) this.run(n.else, vars, depth, dot);
          for (const [k, x] of items) {
            vars.length = scope;
            if (n.p.decl.length === 1) vars.push({ name: n.p.decl[0], v: x });
            if (n.p.decl.length === 2) vars.push({ name: n.p.decl[0], v: k }, { name: n.p.decl[1], v: x });
            try {
              this.run(n.body, vars, depth, x);
            } catch (e) {
              if (e instanceof Break) break;
              if (!(e instanceof Continue)) throw e;
            }
          }
          vars.length = scope;
          break;
        }
        case 'template':
          this.callTemplate(n.name, n.p ? this.pipe(n.p, vars, dot) : null, depth);
          break;
        case 'break':
          throw new Break();
        case 'continue':
          throw new Continue();
      }
    }
  }

  pipe(p: Pipeline, vars: Scope[], dot: Value): Value {
    let prev: Value = undefined;
    let has = false;
    for (const c of p.cmds) {
      prev = this.command(c, vars, dot, has ? [prev] : []);
      has = true;
    }
    if (p.decl.length) {
      if (p.assign) {
        const s = [...vars].reverse().find((x) => x.name === p.decl[0]);
        if (!s) throw new GoTemplateError(`undefined variable: ${p.decl[0]}`);
        s.v = prev;
      } else vars.push({ name: p.decl[0], v: prev });
    }
    return prev;
  }

  command(c: Command, vars: Scope[], dot: Value, piped: Value[]): Value {
    this.step();
    const first = c.args[0];
    if (first.k === 'fn') {
      const name = first.name;
      if (name === 'and' || name === 'or') {
        const args = [...c.args.slice(1), ...piped.map((v) => ({ k: 'lit', v, pos: 0 }) as Operand)];
        let last: Value = undefined;
        for (const a of args) {
          last = this.operand(a, vars, dot, []);
          if (name === 'and' ? !truth(last) : truth(last)) return last;
        }
        return last;
      }
      const f = this.funcs[name] ?? FUNCS[name];
      return f(...c.args.slice(1).map((a) => this.operand(a, vars, dot, [])), ...piped);
    }
    const args = [...c.args.slice(1).map((a) => this.operand(a, vars, dot, [])), ...piped];
    return this.operand(first, vars, dot, args);
  }

  operand(o: Operand, vars: Scope[], dot: Value, args: Value[]): Value {
    switch (o.k) {
      case 'lit':
        return o.v;
      case 'fn':
        return (this.funcs[o.name] ?? FUNCS[o.name])(...args);
      case 'dot':
        return this.fields(dot, o.fields, args);
      case 'var': {
        const s = [...vars].reverse().find((x) => x.name === o.name);
        if (!s) throw new GoTemplateError(`undefined variable: ${o.name}`);
        return this.fields(s.v, o.fields, args);
      }
      case 'pipe':
        return this.fields(this.pipe(o.p, vars, dot), o.fields, args);
    }
  }

  /** Follow a field chain; the last one gets the arguments (a method call). */
  fields(v: Value, names: string[], args: Value[]): Value {
    if (names.length === 0 && args.length) throw new GoTemplateError(`can't give argument to non-function ${show(v)}`);
    let cur = v;
    names.forEach((name, i) => {
      const last = i === names.length - 1;
      const a = last ? args : [];
      if (cur instanceof KV) {
        const method = (KV.prototype as unknown as Record<string, unknown>)[name];
        if (typeof method === 'function' && /^[A-Z]/.test(name)) cur = (method as Fn).apply(cur, a);
        else if (a.length) throw new GoTemplateError(`${name} is not a method`);
        else cur = cur.m[name] ?? '';
        return;
      }
      if (Array.isArray(cur) && typeof (cur as unknown as Record<string, unknown>)[name] === 'function') {
        cur = ((cur as unknown as Record<string, Fn>)[name]).apply(cur, a);
        return;
      }
      if (cur && typeof cur === 'object' && !Array.isArray(cur)) {
        const prop = (cur as Record<string, unknown>)[name];
        if (typeof prop === 'function') {
          cur = (prop as Fn).apply(cur, a);
          return;
        }
        if (a.length) throw new GoTemplateError(`${name} is not a method but has arguments`);
        if (!(name in (cur as object))) throw new GoTemplateError(`can't evaluate field ${name}`);
        cur = prop;
        return;
      }
      throw new GoTemplateError(`can't evaluate field ${name} in type ${Array.isArray(cur) ? 'slice' : typeof cur}`);
    });
    return cur;
  }
}
