import { parser } from '@prometheus-io/lezer-promql';
import type { SyntaxNode } from '@lezer/common';
import type { LabelMatcher } from '../../ingest/names.js';
import { compileRegex, regexProblem } from '../regex.js';

/** One label matcher of a series selector. `name` is a label name; `__name__` is the metric key. */
export type Matcher = LabelMatcher;

/** A selector that does not parse: `reason` says what is wrong at 0-based `position`. */
export class SelectorError extends Error {
  override name = 'SelectorError';
  constructor(
    readonly reason: string,
    readonly position: number,
  ) {
    super(reason);
  }
}

const ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };

/**
 * The value of a numeric escape: exactly `digits` digits in `radix`, at most `max`, not a UTF-16
 * surrogate (Go's strconv.Unquote rules); otherwise a SelectorError rather than a wrong character.
 */
function escaped(body: string, at: number, digits: number, radix: number, max: number): number {
  const text = body.slice(at, at + digits);
  const ok = text.length === digits && (radix === 16 ? /^[0-9a-fA-F]+$/ : /^[0-7]+$/).test(text);
  const v = ok ? parseInt(text, radix) : NaN;
  if (!(v <= max) || (v >= 0xd800 && v <= 0xdfff && digits >= 4)) {
    throw new SelectorError(`invalid escape sequence ${JSON.stringify(body.slice(at - 2 + (radix === 8 ? 1 : 0), at + digits))}`, at);
  }
  return v;
}

/** Unquote a PromQL string literal ("...", '...' with Go escapes, or `raw`). */
export function unquote(lit: string): string {
  const q = lit[0];
  const body = lit.slice(1, -1);
  if (q === '`') return body;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    if (e in ESCAPES) out += ESCAPES[e];
    else if (e === 'x') {
      out += String.fromCharCode(escaped(body, i + 1, 2, 16, 0xff));
      i += 2;
    } else if (e === 'u') {
      out += String.fromCodePoint(escaped(body, i + 1, 4, 16, 0x10ffff));
      i += 4;
    } else if (e === 'U') {
      out += String.fromCodePoint(escaped(body, i + 1, 8, 16, 0x10ffff));
      i += 8;
    } else if (e >= '0' && e <= '7') {
      out += String.fromCharCode(escaped(body, i, 3, 8, 0xff));
      i += 2;
    } else throw new SelectorError(`unknown escape sequence \\${e}`, i);
  }
  return out;
}

/** The matchers of a VectorSelector node (metric name and label matchers). */
export function selectorMatchers(node: SyntaxNode, text: string): Matcher[] {
  const matchers: Matcher[] = [];
  const ident = node.getChild('Identifier');
  if (ident) matchers.push({ name: '__name__', op: '=', value: text.slice(ident.from, ident.to) });
  const list = node.getChild('LabelMatchers');
  if (list) {
    for (let m = list.firstChild; m; m = m.nextSibling) {
      if (m.name !== 'UnquotedLabelMatcher' && m.name !== 'QuotedLabelMatcher' && m.name !== 'QuotedLabelName') continue;
      if (m.name === 'QuotedLabelName') {
        // {"metric.name"}: a quoted metric name on its own.
        const s = m.getChild('StringLiteral')!;
        matchers.push({ name: '__name__', op: '=', value: unquote(text.slice(s.from, s.to)) });
        continue;
      }
      const nameNode = m.getChild('LabelName') ?? m.getChild('QuotedLabelName')?.getChild('StringLiteral');
      const op = m.getChild('MatchOp');
      const val = m.getChild('StringLiteral', 'MatchOp') ?? m.lastChild;
      if (!nameNode || !op || !val) throw new SelectorError('incomplete label matcher', m.from);
      const rawName = text.slice(nameNode.from, nameNode.to);
      const matcher: Matcher = {
        name: nameNode.name === 'StringLiteral' ? unquote(rawName) : rawName,
        op: text.slice(op.from, op.to) as Matcher['op'],
        value: unquote(text.slice(val.from, val.to)),
      };
      if (matcher.op === '=~' || matcher.op === '!~') {
        // Prometheus reports a bad regex at the matcher's label, with Go's message.
        const problem = regexProblem(matcher.value);
        if (problem) throw new SelectorError(`invalid regular expression in label matcher ${rawName}${matcher.op}${JSON.stringify(matcher.value)}: ${problem}`, m.from);
      }
      matchers.push(matcher);
    }
  }
  return matchers;
}

/**
 * Parse a series selector such as `http_requests_total{job="api", code=~"5.."}`.
 * Throws SelectorError with the position of the first problem.
 */
export function parseSelector(text: string): Matcher[] {
  // Heroic keys often hold dots (cpu.usage), which PromQL names cannot: accept `cpu.usage` and
  // `cpu.usage{host="a"}` as the metric name plus matchers.
  const dotted = HEROIC_KEY.exec(text.trim());
  if (dotted && dotted[1].includes('.')) {
    const rest = dotted[2] ? dotted[2].slice(1, -1).trim() : '';
    return parseSelector(`{__name__=${JSON.stringify(dotted[1])}${rest ? `, ${rest}` : ''}}`);
  }
  const tree = parser.parse(text);
  let error: number | null = null;
  tree.iterate({
    enter(n) {
      if (error === null && n.type.isError) error = n.from;
    },
  });
  if (error !== null) throw new SelectorError(`parse error at position ${error}: invalid selector ${JSON.stringify(text)}`, error);
  const top = tree.topNode.firstChild;
  if (!top || top.name !== 'VectorSelector') {
    throw new SelectorError(`expected a series selector like metric{label="value"}, got ${JSON.stringify(text)}`, 0);
  }
  const matchers = selectorMatchers(top, text);
  if (!matchers.some((m) => (m.op === '=' && m.value !== '') || (m.op === '=~' && !compileRegex(m.value, 'prometheus').test('')))) {
    throw new SelectorError('a selector must contain at least one matcher that does not match the empty string', 0);
  }
  return matchers;
}

const HEROIC_KEY = /^([a-zA-Z_:][a-zA-Z0-9_:.\-]*)(\{[\s\S]*\})?$/;
