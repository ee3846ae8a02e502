/**
 * PromQL text -> typed AST (ast.ts), with Prometheus' static checks. The grammar is the
 * Prometheus project's own lezer grammar; this module fixes the two places where that grammar
 * binds differently from Prometheus' Go parser (a modifier after a binary expression, and a
 * signed number literal before `^`) and rejects what Prometheus rejects, with positions.
 */
import type { SyntaxNode } from '@lezer/common';
import { parser } from '@prometheus-io/lezer-promql';
import {
  COMPARISON_OPS,
  SET_OPS,
  typeName,
  typeOf,
  type AggregateOp,
  type AtModifier,
  type BinaryOp,
  type DurationExpr,
  type Expr,
  type VectorMatching,
  type VectorSelector,
} from './ast.js';
import { compileRegex, regexProblem } from '../regex.js';
import { SelectorError, selectorMatchers, unquote } from './selector.js';
import { DurationError, durationSeconds, isDynamic } from './durations.js';
import { parsePromDuration } from '../time.js';
import { functionDef, UNSUPPORTED_FUNCTIONS } from './function-table.js';
import { PromQLError } from './types.js';

const BINARY_NODES: Record<string, BinaryOp> = {
  Add: '+',
  Sub: '-',
  Mul: '*',
  Div: '/',
  Mod: '%',
  Pow: '^',
  Atan2: 'atan2',
  Eql: '==',
  Neq: '!=',
  Gtr: '>',
  Lss: '<',
  Gte: '>=',
  Lte: '<=',
  And: 'and',
  Or: 'or',
  Unless: 'unless',
};

const AGGREGATE_OPS = new Set<AggregateOp>([
  'sum',
  'avg',
  'min',
  'max',
  'count',
  'group',
  'stddev',
  'stdvar',
  'topk',
  'bottomk',
  'quantile',
  'count_values',
  'limitk',
  'limit_ratio',
]);

const PARAM_TYPE: Partial<Record<AggregateOp, 'scalar' | 'string'>> = {
  topk: 'scalar',
  bottomk: 'scalar',
  quantile: 'scalar',
  count_values: 'string',
  limitk: 'scalar',
  limit_ratio: 'scalar',
};

/** Prometheus 3's experimental PromQL, by the name of its feature flag (config PROMQL_EXPERIMENTAL). */
export type PromQLFeature = 'duration_expr' | 'extended_range_selectors' | 'binop_fill_modifiers' | 'experimental_functions';

export const ALL_FEATURES: ReadonlySet<PromQLFeature> = new Set(['duration_expr', 'extended_range_selectors', 'binop_fill_modifiers', 'experimental_functions']);

/** Functions Prometheus 3 has behind its experimental-functions flag (of those Metronome has). */
const EXPERIMENTAL_FUNCTIONS = new Set(['info', 'start', 'end', 'range', 'step', 'min_of', 'max_of']);

/**
 * Parse a PromQL expression, with the experimental syntax `features` turns on (all by default).
 * Throws PromQLError with the position of the first problem.
 */
export function parseExpr(text: string, features: ReadonlySet<PromQLFeature> = ALL_FEATURES): Expr {
  if (text.trim() === '') throw new PromQLError('parse error: no expression found in input', 0);
  const { text: lezerText, renamed } = experimentalNames(trailingDots(text));
  const tree = parser.parse(lezerText);
  let errorNode: { from: number; to: number } | null = null;
  tree.iterate({
    enter(n) {
      if (errorNode === null && n.type.isError) errorNode = { from: n.from, to: n.to };
    },
  });
  if (errorNode !== null) throw syntaxError(text, (errorNode as { from: number }).from);
  const top = tree.topNode.firstChild;
  if (!top) throw new PromQLError('parse error: no expression found in input', 0);
  const p = new Builder(text, renamed, features);
  const expr = p.expr(top);
  check(expr);
  return expr;
}

/**
 * Go reads `2.` as the number 2; lezer's number token needs a digit after the point. The point
 * becomes a space (same length, so positions stay), outside quoted strings only.
 */
function trailingDots(text: string): string {
  if (!text.includes('.')) return text;
  let out = '';
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\' && quote !== '`') {
        out += c + (text[i + 1] ?? '');
        i++;
        continue;
      }
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '.' && /[0-9]/.test(text[i - 1] ?? '') && !/[0-9a-zA-Z_.]/.test(text[i + 1] ?? '') && !/[a-zA-Z_:]\w*\d$/.test(out)) {
      out += ' ';
      continue;
    }
    out += c;
  }
  return out;
}

/** Names of Prometheus 3's query-context and duration functions, which its lexer reads in any case. */
const EXPERIMENTAL_NAMES = new Set(['step', 'range', 'start', 'end', 'min_of', 'max_of']);

/**
 * The lezer grammar knows `step()`, `range()`, `min_of()` and `max_of()` only inside durations
 * and `start()`/`end()` only after `@`, all in lower case; Prometheus 3 also has them as scalar
 * functions and reads them in any case. They are lowered, and where they stand for a function
 * they are written as a function lezer knows of the same length (positions stay); `renamed` maps
 * such a position back to the real name.
 */
function experimentalNames(text: string): { text: string; renamed: Map<number, string> } {
  const renamed = new Map<number, string>();
  if (!/(step|range|start|end|min_of|max_of)\s*\(/i.test(text)) return { text, renamed };
  const out = text.split('');
  // Open brackets, each with whether a duration is read inside it.
  const stack: boolean[] = [];
  let quote = '';
  let afterOffset = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\' && quote !== '`') i++;
      else if (c === quote) quote = '';
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      quote = c;
      continue;
    }
    const inDuration = stack.length > 0 && stack[stack.length - 1];
    if (c === '[') stack.push(true);
    else if (c === '(') stack.push(inDuration || afterOffset);
    else if (c === ']' || c === ')') stack.pop();
    if (c === '[' || c === '(' || c === ']' || c === ')' || c === ',') {
      afterOffset = false;
      continue;
    }
    if (/\s|[-+]/.test(c)) continue;
    const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(text.slice(i));
    if (!m) {
      afterOffset = false;
      continue;
    }
    const word = m[0];
    const lower = word.toLowerCase();
    const call = /^\s*\(/.test(text.slice(i + word.length));
    const prev = text.slice(0, i).trimEnd();
    if (call && EXPERIMENTAL_NAMES.has(lower) && !prev.endsWith('@')) {
      const durCtx: boolean = inDuration || afterOffset;
      let as = lower;
      if (!durCtx && (lower === 'start' || lower === 'end' || lower === 'min_of' || lower === 'max_of')) {
        as = lower === 'start' ? 'floor' : lower === 'end' ? 'exp' : 'minute';
      }
      if (as !== word) renamed.set(i, lower);
      for (let j = 0; j < as.length; j++) out[i + j] = as[j];
      // The call's parenthesis belongs to the duration when the name does.
      afterOffset = durCtx;
    } else {
      afterOffset = lower === 'offset';
    }
    i += word.length - 1;
  }
  return { text: out.join(''), renamed };
}

function syntaxError(text: string, at: number): PromQLError {
  // `foo(` where foo is not a function: lezer sees a selector followed by junk.
  const before = text.slice(0, at).match(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*$/);
  if (before && text[at] === '(' && !functionDef(before[1]) && !AGGREGATE_OPS.has(before[1] as AggregateOp)) {
    return new PromQLError(`parse error at position ${at - before[1].length}: unknown function with name ${JSON.stringify(before[1])}`, at - before[1].length);
  }
  if (at >= text.length) return new PromQLError(`parse error at position ${at}: unexpected end of input`, at);
  return new PromQLError(`parse error at position ${at}: unexpected ${JSON.stringify(text.slice(at, at + 10))}`, at);
}

function err(node: { from: number } | { pos: number }, message: string): PromQLError {
  const pos = 'pos' in node ? node.pos : node.from;
  return new PromQLError(`parse error at position ${pos}: ${message}`, pos);
}

class Builder {
  constructor(
    readonly text: string,
    readonly renamed: ReadonlyMap<number, string> = new Map(),
    readonly features: ReadonlySet<PromQLFeature> = ALL_FEATURES,
  ) {}

  /** Refuse experimental syntax whose feature is off. */
  need(feature: PromQLFeature, at: { from: number } | { pos: number }, what: string): void {
    if (!this.features.has(feature)) throw err(at, `${what} is experimental and not enabled (PROMQL_EXPERIMENTAL: ${feature})`);
  }

  src(n: SyntaxNode): string {
    return this.text.slice(n.from, n.to);
  }

  children(n: SyntaxNode): SyntaxNode[] {
    const out: SyntaxNode[] = [];
    for (let c = n.firstChild; c; c = c.nextSibling) out.push(c);
    return out;
  }

  expr(n: SyntaxNode): Expr {
    const span = { pos: n.from, end: n.to };
    switch (n.name) {
      case 'NumberDurationLiteral':
        return { kind: 'number', value: this.number(n), ...span };
      case 'StringLiteral':
        return { kind: 'string', value: this.string(n), ...span };
      case 'VectorSelector':
        return this.vectorSelector(n);
      case 'MatrixSelector': {
        const inner = this.expr(n.firstChild!);
        const [range, rangeExpr] = this.durationOf(n.getChild('DurationExpr')!);
        if (inner.kind !== 'vector') throw err(inner, 'ranges only allowed for vector selectors');
        if (inner.offset !== 0 || inner.offsetExpr || inner.at !== null) throw err(inner, 'no offset or @ modifiers allowed before range');
        if (!rangeExpr && range <= 0) throw err(n, `range must be positive, got ${range / 1000}s`);
        return { kind: 'matrix', vector: inner, range, ...(rangeExpr && { rangeExpr }), ...span };
      }
      case 'SubqueryExpr': {
        const inner = this.expr(n.firstChild!);
        const durs = n.getChildren('DurationExpr');
        const [range, rangeExpr] = this.durationOf(durs[0]);
        const [step, stepExpr] = durs[1] ? this.durationOf(durs[1]) : [0, undefined];
        if (typeOf(inner) !== 'vector') throw err(inner, `subquery is only allowed on instant vector, got ${typeName(typeOf(inner))}`);
        if (!rangeExpr && range <= 0) throw err(n, `range must be positive, got ${range / 1000}s`);
        if (durs[1] && !stepExpr && step <= 0) throw err(durs[1], `step must be positive, got ${step / 1000}s`);
        return { kind: 'subquery', expr: inner, range, step, offset: 0, at: null, ...(rangeExpr && { rangeExpr }), ...(stepExpr && { stepExpr }), ...span };
      }
      case 'OffsetExpr': {
        const inner = this.expr(n.firstChild!);
        const [offset, offsetExpr] = this.durationOf(n.getChild('OffsetDurationExpr')!, true);
        return this.modify(inner, n, (target) => {
          if (target.offset !== 0 || target.offsetExpr) throw err(n, 'offset may not be set multiple times');
          target.offset = offset;
          if (offsetExpr) target.offsetExpr = offsetExpr;
        });
      }
      case 'StepInvariantExpr': {
        const inner = this.expr(n.firstChild!);
        const pre = n.getChild('AtModifierPreprocessors');
        let at: AtModifier;
        if (pre) at = pre.getChild('AtStart') ? 'start' : 'end';
        else {
          const lit = n.getChild('NumberDurationLiteral')!;
          const secs = this.number(lit);
          if (!Number.isFinite(secs)) throw err(lit, `timestamp out of bounds for @ modifier: ${this.src(lit)}`);
          at = { time: Math.round(secs * 1000) };
        }
        return this.modify(inner, n, (target) => {
          if (target.at !== null) throw err(n, '@ <timestamp> may not be set multiple times');
          target.at = at;
        });
      }
      case 'ParenExpr': {
        const inner = this.expr(n.getChild('Expr')!);
        // `changes((x[5m]))`: parentheses around a range vector change nothing; the evaluator
        // reads range arguments as selectors or subqueries, so they are dropped here.
        if (inner.kind === 'matrix' || inner.kind === 'subquery') return inner;
        return { kind: 'paren', expr: inner, ...span };
      }
      case 'UnaryExpr': {
        const op = this.src(n.getChild('UnaryOp')!) as '-' | '+';
        const inner = this.expr(n.getChild('Expr')!);
        const t = typeOf(inner);
        if (t !== 'scalar' && t !== 'vector') throw err(n, `unary expression only allowed on expressions of type scalar or instant vector, got ${typeName(t)}`);
        if (inner.kind === 'number') return { kind: 'number', value: op === '-' ? -inner.value : inner.value, ...span };
        return { kind: 'unary', op, expr: inner, ...span };
      }
      case 'BinaryExpr':
        return this.binary(n);
      case 'FunctionCall': {
        const id = n.getChild('FunctionIdentifier')!;
        const func = this.renamed.get(id.from) ?? this.src(id);
        if (EXPERIMENTAL_FUNCTIONS.has(func)) this.need('experimental_functions', n, `function ${JSON.stringify(func)}`);
        const args = this.children(n.getChild('FunctionCallBody')!).filter((c) => c.type.is('Expr')).map((c) => this.expr(c));
        return { kind: 'call', func, args, ...span };
      }
      case 'AggregateExpr': {
        // Keywords are case-insensitive in PromQL (`SUM`, `Sum`); lezer accepts them as written.
        const op = this.src(n.getChild('AggregateOp')!).toLowerCase() as AggregateOp;
        const args = this.children(n.getChild('FunctionCallBody')!).filter((c) => c.type.is('Expr')).map((c) => this.expr(c));
        const mod = n.getChild('AggregateModifier');
        const without = !!mod?.getChild('Without');
        const grouping = mod ? this.labels(mod.getChild('GroupingLabels')!) : [];
        const wantParam = PARAM_TYPE[op] !== undefined;
        if (args.length !== (wantParam ? 2 : 1)) {
          throw err(n, `wrong number of arguments for aggregate expression provided, expected ${wantParam ? 2 : 1}, got ${args.length}`);
        }
        return { kind: 'aggregate', op, expr: args[args.length - 1], param: wantParam ? args[0] : null, grouping, without, ...span };
      }
      case 'AnchoredExpr':
      case 'SmoothedExpr': {
        const which = n.name === 'AnchoredExpr' ? 'anchored' : 'smoothed';
        this.need('extended_range_selectors', n, `${which} modifier`);
        const inner = this.expr(n.firstChild!);
        const target = inner.kind === 'matrix' ? inner.vector : inner;
        if (target.kind === 'subquery') throw err(n, `${which} modifier is not supported for subqueries`);
        if (target.kind !== 'vector') throw err(n, `${which} modifier not implemented`);
        target[which] = true;
        if (target.anchored && target.smoothed) throw err(n, 'anchored and smoothed modifiers cannot be used together');
        return { ...inner, end: n.to } as Expr;
      }
      default:
        throw err(n, `unexpected ${n.name}`);
    }
  }

  /** Attach offset/@ to the expression Prometheus' parser would attach it to. */
  modify(inner: Expr, n: SyntaxNode, set: (t: VectorSelector | Extract<Expr, { kind: 'subquery' }>) => void): Expr {
    let target: Expr = inner;
    // Go's parser binds offset and @ tighter than any operator: `a + b offset 5m` offsets b.
    while (target.kind === 'binary' || target.kind === 'unary') target = target.kind === 'binary' ? target.rhs : target.expr;
    if (target.kind === 'matrix') set(target.vector);
    else if (target.kind === 'vector' || target.kind === 'subquery') set(target);
    else {
      const what = n.name === 'OffsetExpr' ? 'offset' : '@';
      throw err(n, `${what} modifier must be preceded by an instant vector selector or range vector selector or a subquery`);
    }
    if (target !== inner) return inner;
    return { ...inner, end: n.to } as Expr;
  }

  binary(n: SyntaxNode): Expr {
    const kids = this.children(n);
    const exprs = kids.filter((c) => c.type.is('Expr'));
    const opNode = kids.find((c) => BINARY_NODES[c.name] !== undefined);
    if (!opNode || exprs.length !== 2) throw err(n, 'incomplete binary expression');
    const opText = this.src(opNode).toLowerCase();
    if (opNode.name === 'TrimUpper' || opNode.name === 'TrimLower') throw err(opNode, `operator ${opText} is not supported`);
    const op = BINARY_NODES[opNode.name];
    let lhs = this.expr(exprs[0]);
    const rhs = this.expr(exprs[1]);
    const bool = !!n.getChild('BoolModifier');
    const fillNode = n.getChild('FillModifier');
    const mm = n.getChild('MatchingModifierClause');
    let matching: VectorMatching = { card: SET_OPS.has(op) ? 'many-to-many' : 'one-to-one', on: false, labels: [], include: [] };
    if (mm) {
      const groups = mm.getChildren('GroupingLabels');
      const on = !!mm.getChild('On');
      const left = !!mm.getChild('GroupLeft');
      const right = !!mm.getChild('GroupRight');
      matching = {
        card: left ? 'many-to-one' : right ? 'one-to-many' : matching.card,
        on,
        labels: this.labels(groups[0]),
        include: groups[1] ? this.labels(groups[1]) : [],
      };
      if ((left || right) && SET_OPS.has(op)) throw err(mm, `no grouping allowed for "${op}" operation`);
      for (const l of matching.include) {
        if (on && matching.labels.includes(l)) throw err(mm, `label "${l}" must not occur in ON and GROUP clause at once`);
      }
    }
    if (fillNode) {
      this.need('binop_fill_modifiers', fillNode, 'fill modifier');
      if (SET_OPS.has(op)) throw err(fillNode, `fill modifiers are not allowed for "${op}" operation`);
      matching.fill = {};
      for (const c of this.children(fillNode)) {
        const value = this.number(c.getChild('NumberDurationLiteral')!);
        if (c.name !== 'FillRightClause') matching.fill.lhs = value;
        if (c.name !== 'FillLeftClause') matching.fill.rhs = value;
      }
    }
    // Go lexes `-2 ^ 2` as -(2 ^ 2); lezer reads a signed literal. Restore Go's reading.
    if (op === '^' && lhs.kind === 'number' && /^\s*-/.test(this.src(exprs[0]))) {
      const pos = lhs.pos;
      lhs = { ...lhs, value: -lhs.value, pos: lhs.pos + 1 };
      const inner: Expr = { kind: 'binary', op, lhs, rhs, bool, matching, pos: lhs.pos, end: n.to };
      return { kind: 'unary', op: '-', expr: inner, pos, end: n.to };
    }
    // lezer reads `a + b @ 60 * 0` as `((a + b) @ 60) * 0`; modify() moved the @ onto b, and Go
    // binds `* 0` to it too: `a + (b @ 60 * 0)`. Rotate the tighter operator down to where Go puts it.
    if (lhs.kind === 'binary' && (exprs[0].name === 'OffsetExpr' || exprs[0].name === 'StepInvariantExpr')) {
      return rotate(lhs, { kind: 'binary', op, lhs, rhs, bool, matching, pos: n.from, end: n.to });
    }
    return { kind: 'binary', op, lhs, rhs, bool, matching, pos: n.from, end: n.to };
  }

  vectorSelector(n: SyntaxNode): VectorSelector {
    let matchers;
    try {
      matchers = selectorMatchers(n, this.text);
    } catch (e) {
      if (e instanceof SelectorError) throw new PromQLError(`parse error at position ${e.position}: ${e.reason}`, e.position);
      throw e;
    }
    for (const s of n.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? []) this.string(s.getChild('StringLiteral')!);
    const names = matchers.filter((m) => m.name === '__name__');
    if (names.length > 1 && n.getChild('Identifier')) throw err(n, `metric name must not be set twice: ${JSON.stringify(names[0].value)} or ${JSON.stringify(names[1].value)}`);
    const name = names.length === 1 && names[0].op === '=' ? names[0].value : undefined;
    return { kind: 'vector', name, matchers, offset: 0, at: null, pos: n.from, end: n.to };
  }

  labels(g: SyntaxNode): string[] {
    return this.children(g)
      .filter((c) => c.name === 'LabelName' || c.name === 'QuotedLabelName')
      .map((c) => (c.name === 'LabelName' ? this.src(c) : this.string(c.getChild('StringLiteral')!)));
  }

  string(n: SyntaxNode): string {
    const t = this.src(n);
    if (t.length < 2 || t[t.length - 1] !== t[0]) throw err(n, 'unterminated quoted string');
    try {
      return unquote(t);
    } catch (e) {
      throw err(n, (e as Error).message);
    }
  }

  number(n: SyntaxNode): number {
    const t = this.src(n).trim();
    const sign = t[0] === '-' ? -1 : 1;
    const body = t.replace(/^[+-]\s*/, '');
    const lower = body.toLowerCase();
    let v: number;
    if (lower === 'inf') v = Infinity;
    else if (lower === 'nan') v = NaN;
    else if (/^0x[0-9a-f]+$/.test(lower)) v = parseInt(lower.slice(2), 16);
    else {
      const d = parsePromDuration(body);
      v = d !== null ? d / 1000 : Number(body.replace(/_/g, ''));
    }
    if (Number.isNaN(v) && lower !== 'nan') throw err(n, `bad number or duration syntax: ${JSON.stringify(t)}`);
    return sign * v;
  }

  /**
   * A duration in ms (`5m`, `300` seconds, `1h+30m`, `min_of(step(), 1s)`), and its expression
   * when it needs the query's step or range (then resolved per query, durations.ts).
   */
  durationOf(n: SyntaxNode, allowNegative = false): [number, DurationExpr | undefined] {
    const d = this.durationTree(n);
    if (d.op !== 'literal' && !(d.op === 'neg' && d.args[0].op === 'literal')) this.need('duration_expr', d, 'duration expression');
    if (isDynamic(d)) return [0, d];
    if (d.op === 'literal' && d.ms !== undefined) return [d.ms, undefined];
    let secs: number;
    try {
      secs = durationSeconds(d, null);
    } catch (e) {
      if (e instanceof DurationError) throw err(d, e.reason);
      throw e;
    }
    if (!Number.isFinite(secs)) throw err(d, `duration expression ${JSON.stringify(this.text.slice(d.pos, d.end))} is not finite`);
    if (!allowNegative && secs <= 0 && d.op !== 'literal') throw err(d, 'duration must be greater than 0');
    return [Math.trunc(secs * 1000), undefined];
  }

  durationTree(n: SyntaxNode): DurationExpr & { ms?: number } {
    const span = { pos: n.from, end: n.to };
    if (n.name === 'NumberDurationLiteralInDurationContext') {
      const t = this.src(n);
      const ms = parsePromDuration(t);
      if (ms !== null) return { op: 'literal', value: ms / 1000, ms, ...span };
      const secs = Number(t.replace(/_/g, ''));
      if (Number.isNaN(secs) && !/^nan$/i.test(t)) throw err(n, `bad duration syntax: ${JSON.stringify(t)}`);
      return { op: 'literal', value: secs, ms: Number.isFinite(secs) ? Math.round(secs * 1000) : undefined, ...span };
    }
    const kids = this.children(n);
    const first = kids[0];
    if (!first) throw err(n, `bad duration syntax: ${JSON.stringify(this.src(n))}`);
    if (first.name === 'DurationStep') return { op: 'step', ...span };
    if (first.name === 'DurationRange') return { op: 'range', ...span };
    const parts = kids.filter((c) => c.name === 'DurationExpr' || c.name === 'OffsetDurationExpr' || c.name === 'NumberDurationLiteralInDurationContext');
    if (first.name === 'DurationMinOf' || first.name === 'DurationMaxOf') {
      const [a, b] = parts.map((c) => this.durationTree(c));
      return { op: first.name === 'DurationMinOf' ? 'min_of' : 'max_of', args: [a, b], ...span };
    }
    if (first.name === 'UnaryOp') {
      const inner = this.durationTree(parts[0]);
      return this.src(first) === '-' ? { op: 'neg', args: [inner], ...span } : { ...inner, ...span };
    }
    if (parts.length === 1 && kids.length === 1) return this.durationTree(parts[0]);
    const opNode = kids.find((c) => ['Add', 'Sub', 'Mul', 'Div', 'Mod', 'Pow'].includes(c.name));
    if (parts.length === 1 && !opNode) return { ...this.durationTree(parts[0]), ...span };
    if (parts.length !== 2 || !opNode) throw err(n, `bad duration syntax: ${JSON.stringify(this.src(n))}`);
    const op = ({ Add: '+', Sub: '-', Mul: '*', Div: '/', Mod: '%', Pow: '^' } as const)[opNode.name as 'Add'];
    return { op, args: [this.durationTree(parts[0]), this.durationTree(parts[1])], ...span };
  }
}

const PRECEDENCE: Record<BinaryOp, number> = {
  or: 1,
  and: 2,
  unless: 2,
  '==': 3,
  '!=': 3,
  '>': 3,
  '<': 3,
  '>=': 3,
  '<=': 3,
  '+': 4,
  '-': 4,
  '*': 5,
  '/': 5,
  '%': 5,
  atan2: 5,
  '^': 6,
};

/** `outer` is `lhs op rhs` with lhs a binary that binds looser: give op lhs's right operand instead. */
function rotate(lhs: Extract<Expr, { kind: 'binary' }>, outer: Extract<Expr, { kind: 'binary' }>): Expr {
  const looser = PRECEDENCE[lhs.op] < PRECEDENCE[outer.op] || (lhs.op === '^' && outer.op === '^');
  if (!looser) return outer;
  const inner = lhs.rhs.kind === 'binary' ? rotate(lhs.rhs, { ...outer, lhs: lhs.rhs, pos: lhs.rhs.pos }) : { ...outer, lhs: lhs.rhs, pos: lhs.rhs.pos };
  return { ...lhs, rhs: inner, end: outer.end };
}

/** Prometheus' type checks over the whole tree. */
function check(e: Expr): void {
  switch (e.kind) {
    case 'number':
    case 'string':
      return;
    case 'vector':
      if (!e.matchers.some((m) => !matchesEmpty(m))) throw err(e, 'vector selector must contain at least one non-empty matcher');
      return;
    case 'matrix':
      return check(e.vector);
    case 'subquery':
    case 'paren':
    case 'unary':
      return check(e.expr);
    case 'call': {
      if (UNSUPPORTED_FUNCTIONS.has(e.func)) throw err(e, `function ${JSON.stringify(e.func)} is not supported (Metronome stores no native histograms)`);
      const sig = functionDef(e.func);
      if (!sig) throw err(e, `unknown function with name ${JSON.stringify(e.func)}`);
      const n = e.args.length;
      const min = sig.args.length - (sig.optional ?? 0);
      const max = sig.variadic ? Infinity : sig.args.length;
      if (!sig.optional && !sig.variadic && n !== sig.args.length) {
        throw err(e, `expected ${sig.args.length} argument(s) in call to ${JSON.stringify(e.func)}, got ${n}`);
      }
      if (n < min) throw err(e, `expected at least ${min} argument(s) in call to ${JSON.stringify(e.func)}, got ${n}`);
      if (n > max) throw err(e, `expected at most ${max} argument(s) in call to ${JSON.stringify(e.func)}, got ${n}`);
      e.args.forEach((a, i) => {
        const want = sig.args[Math.min(i, sig.args.length - 1)];
        const got = typeOf(a);
        if (got !== want) {
          throw err(a, `expected type ${typeName(want)} in call to function ${JSON.stringify(e.func)}, got ${typeName(got)}`);
        }
        // info()'s label selector picks data labels: it may match the empty string.
        if (e.func === 'info' && i === 1) {
          if (unparenExpr(a).kind !== 'vector') throw err(a, 'expected label selectors as the second argument to "info" function');
          return;
        }
        check(a);
      });
      if (e.func === 'label_replace') checkLabelReplaceRegex(e.args[4]);
      return;
    }
    case 'aggregate': {
      const t = typeOf(e.expr);
      if (t !== 'vector') throw err(e.expr, `expected type instant vector in aggregation expression, got ${typeName(t)}`);
      if (e.param) {
        const want = PARAM_TYPE[e.op]!;
        const got = typeOf(e.param);
        if (got !== want) throw err(e.param, `expected type ${typeName(want)} in aggregation parameter, got ${typeName(got)}`);
        check(e.param);
      }
      return check(e.expr);
    }
    case 'binary': {
      const lt = typeOf(e.lhs);
      const rt = typeOf(e.rhs);
      for (const [side, t] of [
        [e.lhs, lt],
        [e.rhs, rt],
      ] as const) {
        if (t !== 'scalar' && t !== 'vector') throw err(side, 'binary expression must contain only scalar and instant vector types');
      }
      if (e.bool && !COMPARISON_OPS.has(e.op)) throw err(e, 'bool modifier can only be used on comparison operators');
      if (COMPARISON_OPS.has(e.op) && lt === 'scalar' && rt === 'scalar' && !e.bool) throw err(e, 'comparisons between scalars must use BOOL modifier');
      if (SET_OPS.has(e.op) && (lt === 'scalar' || rt === 'scalar')) {
        throw err(e, `set operator ${JSON.stringify(e.op)} not allowed in binary scalar expression`);
      }
      const hasMatching = e.matching.on || e.matching.labels.length > 0 || e.matching.card === 'many-to-one' || e.matching.card === 'one-to-many';
      if (hasMatching && (lt !== 'vector' || rt !== 'vector')) throw err(e, 'vector matching only allowed between instant vectors');
      check(e.lhs);
      check(e.rhs);
      return;
    }
  }
}

/**
 * label_replace's regex, when it is a literal, is checked here rather than at evaluation
 * (Prometheus fails the evaluation with "invalid regular expression in label_replace()"): a rule
 * or dashboard with a bad pattern is refused when written, with the position.
 */
function checkLabelReplaceRegex(arg: Expr): void {
  let lit = arg;
  while (lit.kind === 'paren') lit = lit.expr;
  if (lit.kind !== 'string') return;
  const problem = regexProblem(lit.value);
  if (problem) throw err(lit, `invalid regular expression in label_replace(): ${JSON.stringify(lit.value)}: ${problem}`);
}

function unparenExpr(e: Expr): Expr {
  return e.kind === 'paren' ? unparenExpr(e.expr) : e;
}

function matchesEmpty(m: { op: string; value: string }): boolean {
  switch (m.op) {
    case '=':
      return m.value === '';
    case '!=':
      return m.value !== '';
    case '=~':
      return compileRegex(m.value, 'prometheus').test('');
    default:
      return !compileRegex(m.value, 'prometheus').test('');
  }
}

/** A parse or type problem of an expression, or null when it is valid (for rule editors). */
export function checkExpr(text: string): { message: string; position: number } | null {
  try {
    parseExpr(text);
    return null;
  } catch (e) {
    if (e instanceof PromQLError) return { message: e.message, position: e.position };
    throw e;
  }
}
