/**
 * Heroic's filter language as text (HQL's `filter` rule, heroic-core's HeroicQuery.g4), parsed
 * into the array form that server/series/heroic-filter.ts turns into SQL, so both forms share one
 * filter model.
 *
 *   $key = "cpu.usage" and host = web-1 and +site and !(role ^ db) and zone in [a, b]
 *
 * Operators: `=`, `!=`, `^` (prefix), `!^`, `~` (RE2 regex), `!~`, `in [..]`, `not in [..]`,
 * `+tag` (has tag), `true`, `false`, `!f`, `not f`, `and`, `or`, parentheses. As in Heroic's
 * grammar (alternatives listed first bind tighter), `or` binds tighter than `and`, and `!`
 * applies to everything after it; `a != b` is `["not", ["=", a, b]]` as Heroic parses it.
 * `$key` and a tag named `key` both mean the metric key.
 */

export type FilterArray = [string, ...unknown[]];

/** An HQL filter that does not parse: `reason` says what is wrong at 0-based `position`. */
export class HqlError extends Error {
  override name = 'HqlError';
  constructor(
    readonly reason: string,
    readonly position: number,
  ) {
    super(`${reason} at position ${position}`);
  }
}

type Tok = { kind: 'str' | 'op' | 'word'; text: string; pos: number };

const OPS = ['!=', '!^', '!~', '=', '^', '~', '+', '!', '(', ')', '[', ']', ','];
const SIMPLE = /[a-zA-Z0-9:/_\-.$]/;
const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'true', 'false']);

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < s.length && s[i] !== '\n') i++;
      continue;
    }
    if (c === '"' || c === "'") {
      const start = i++;
      let text = '';
      for (;;) {
        if (i >= s.length) throw new HqlError('unterminated string', start);
        const ch = s[i++];
        if (ch === c) break;
        if (ch === '\\') {
          const e = s[i++];
          const map: Record<string, string> = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', '"': '"', "'": "'", '\\': '\\' };
          if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i, i + 4))) {
            text += String.fromCharCode(parseInt(s.slice(i, i + 4), 16));
            i += 4;
          } else if (e !== undefined && e in map) text += map[e];
          else throw new HqlError(`invalid escape \\${e ?? ''}`, i - 2);
        } else text += ch;
      }
      out.push({ kind: 'str', text, pos: start });
      continue;
    }
    const op = OPS.find((o) => s.startsWith(o, i));
    if (op) {
      out.push({ kind: 'op', text: op, pos: i });
      i += op.length;
      continue;
    }
    if (SIMPLE.test(c)) {
      const start = i;
      while (i < s.length && SIMPLE.test(s[i])) i++;
      out.push({ kind: 'word', text: s.slice(start, i), pos: start });
      continue;
    }
    throw new HqlError(`unexpected character ${JSON.stringify(c)}`, i);
  }
  return out;
}

/** Parse an HQL filter into Heroic's array form. Throws HqlError with the position. */
export function parseHqlFilter(text: string): FilterArray {
  const toks = tokenize(text);
  let p = 0;
  const end = text.length;
  const peek = () => toks[p];
  const isWord = (w: string) => peek()?.kind === 'word' && peek().text === w;
  const isOp = (o: string) => peek()?.kind === 'op' && peek().text === o;
  const expectOp = (o: string) => {
    if (!isOp(o)) throw new HqlError(`expected ${JSON.stringify(o)}`, peek()?.pos ?? end);
    p++;
  };
  const value = (): string => {
    const t = peek();
    if (!t || t.kind === 'op' || (t.kind === 'word' && KEYWORDS.has(t.text))) throw new HqlError('expected a value', t?.pos ?? end);
    p++;
    return t.text;
  };
  const list = (): string[] => {
    expectOp('[');
    const vs: string[] = [];
    if (!isOp(']')) {
      vs.push(value());
      while (isOp(',')) {
        p++;
        vs.push(value());
      }
    }
    expectOp(']');
    return vs;
  };

  // Lowest precedence first: `!`/`not` prefix, then `and`, then `or`, then atoms.
  const notExpr = (): FilterArray => {
    if (isOp('!') || isWord('not')) {
      p++;
      return ['not', notExpr()];
    }
    return andExpr();
  };
  const andExpr = (): FilterArray => {
    const parts = [orExpr()];
    while (isWord('and')) {
      p++;
      parts.push(isOp('!') || isWord('not') ? notExpr() : orExpr());
    }
    return parts.length === 1 ? parts[0] : ['and', ...parts];
  };
  const orExpr = (): FilterArray => {
    const parts = [atom()];
    while (isWord('or')) {
      p++;
      parts.push(isOp('!') || isWord('not') ? notExpr() : atom());
    }
    return parts.length === 1 ? parts[0] : ['or', ...parts];
  };
  const atom = (): FilterArray => {
    const t = peek();
    if (!t) throw new HqlError('expected a filter', end);
    if (isOp('(')) {
      p++;
      const f = notExpr();
      expectOp(')');
      return f;
    }
    if (isOp('+')) {
      p++;
      return ['+', value()];
    }
    if (isWord('true') || isWord('false')) {
      p++;
      return [t.text];
    }
    const left = value();
    const tag = left === '$key' ? 'key' : left;
    const op = peek();
    if (op?.kind === 'word' && op.text === 'in') {
      p++;
      return ['or', ...list().map((v) => eq(tag, v))];
    }
    if (op?.kind === 'word' && op.text === 'not') {
      p++;
      if (!isWord('in')) throw new HqlError('expected "in" after "not"', peek()?.pos ?? end);
      p++;
      return ['not', ['or', ...list().map((v) => eq(tag, v))]];
    }
    if (op?.kind !== 'op') throw new HqlError(`expected an operator after ${JSON.stringify(left)}`, op?.pos ?? end);
    p++;
    switch (op.text) {
      case '=':
        return eq(tag, value());
      case '!=':
        return ['not', eq(tag, value())];
      case '^':
        return ['^', tag, value()];
      case '!^':
        return ['not', ['^', tag, value()]];
      case '~':
        return ['~', tag, value()];
      case '!~':
        return ['not', ['~', tag, value()]];
      default:
        throw new HqlError(`unexpected ${JSON.stringify(op.text)}`, op.pos);
    }
  };
  const eq = (tag: string, v: string): FilterArray => (tag === 'key' ? ['key', v] : ['=', tag, v]);

  const f = notExpr();
  if (p < toks.length) throw new HqlError(`unexpected ${JSON.stringify(toks[p].text)}`, toks[p].pos);
  return f;
}
