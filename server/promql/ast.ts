/**
 * The typed PromQL syntax tree Metronome evaluates. Built from the lezer parse tree by parse.ts;
 * every node keeps its source span so errors can point at it. Durations and times are in
 * milliseconds.
 */
import type { Matcher } from './selector.js';

export type ValueType = 'scalar' | 'vector' | 'matrix' | 'string';

/** `@` modifier: a fixed unix time in ms, or the query's start/end. */
export type AtModifier = { time: number } | 'start' | 'end';

interface Span {
  /** 0-based offset of the first character. */
  pos: number;
  end: number;
}

interface NumberLiteral extends Span {
  kind: 'number';
  value: number;
}

interface StringLiteral extends Span {
  kind: 'string';
  value: string;
}

/**
 * A duration expression in seconds, as Prometheus 3 computes them (durations.ts). Kept only when
 * it names step() or range(): the number next to it is then filled per query.
 */
export type DurationExpr = Span &
  (
    | { op: 'literal'; value: number }
    | { op: 'step' | 'range' }
    | { op: 'neg'; args: [DurationExpr] }
    | { op: '+' | '-' | '*' | '/' | '%' | '^' | 'min_of' | 'max_of'; args: [DurationExpr, DurationExpr] }
  );

export interface VectorSelector extends Span {
  kind: 'vector';
  /** The metric name when given as an identifier or __name__="..." matcher. */
  name?: string;
  matchers: Matcher[];
  offset: number;
  offsetExpr?: DurationExpr;
  at: AtModifier | null;
  /**
   * Prometheus 3's range modifiers: `anchored` takes, besides the window's samples, the last one
   * before it as the window's start value; `smoothed` interpolates values at both window edges.
   */
  anchored?: boolean;
  smoothed?: boolean;
}

export interface MatrixSelector extends Span {
  kind: 'matrix';
  vector: VectorSelector;
  range: number;
  rangeExpr?: DurationExpr;
}

export interface Subquery extends Span {
  kind: 'subquery';
  expr: Expr;
  range: number;
  /** 0 means the default resolution (the range query's step, or 1 minute). */
  step: number;
  offset: number;
  rangeExpr?: DurationExpr;
  stepExpr?: DurationExpr;
  offsetExpr?: DurationExpr;
  at: AtModifier | null;
}

export interface Call extends Span {
  kind: 'call';
  func: string;
  args: Expr[];
}

export type AggregateOp =
  | 'sum'
  | 'avg'
  | 'min'
  | 'max'
  | 'count'
  | 'group'
  | 'stddev'
  | 'stdvar'
  | 'topk'
  | 'bottomk'
  | 'quantile'
  | 'count_values'
  | 'limitk'
  | 'limit_ratio';

export interface Aggregate extends Span {
  kind: 'aggregate';
  op: AggregateOp;
  expr: Expr;
  param: Expr | null;
  /** Labels of `by (...)`, or of `without (...)` when `without` is set. */
  grouping: string[];
  without: boolean;
}

export type BinaryOp =
  | '+'
  | '-'
  | '*'
  | '/'
  | '%'
  | '^'
  | 'atan2'
  | '=='
  | '!='
  | '>'
  | '<'
  | '>='
  | '<='
  | 'and'
  | 'or'
  | 'unless';

export interface VectorMatching {
  card: 'one-to-one' | 'many-to-one' | 'one-to-many' | 'many-to-many';
  /** `on(...)` when true, `ignoring(...)` when false (the default: ignoring nothing). */
  on: boolean;
  labels: string[];
  /** Extra labels copied from the "one" side with group_left/group_right(...). */
  include: string[];
  /**
   * Prometheus 3's fill modifiers: the value a side takes where it has no match, so the other
   * side's element is not dropped (`fill(0)` both, `fill_left`, `fill_right`).
   */
  fill?: { lhs?: number; rhs?: number };
}

interface Binary extends Span {
  kind: 'binary';
  op: BinaryOp;
  lhs: Expr;
  rhs: Expr;
  /** `bool` modifier on a comparison. */
  bool: boolean;
  matching: VectorMatching;
}

interface Unary extends Span {
  kind: 'unary';
  op: '-' | '+';
  expr: Expr;
}

interface Paren extends Span {
  kind: 'paren';
  expr: Expr;
}

export type Expr =
  | NumberLiteral
  | StringLiteral
  | VectorSelector
  | MatrixSelector
  | Subquery
  | Call
  | Aggregate
  | Binary
  | Unary
  | Paren;

export const COMPARISON_OPS: ReadonlySet<BinaryOp> = new Set(['==', '!=', '>', '<', '>=', '<=']);
export const SET_OPS: ReadonlySet<BinaryOp> = new Set(['and', 'or', 'unless']);

/** The type an expression evaluates to (Prometheus' static typing). */
export function typeOf(e: Expr): ValueType {
  switch (e.kind) {
    case 'number':
      return 'scalar';
    case 'string':
      return 'string';
    case 'vector':
      return 'vector';
    case 'matrix':
    case 'subquery':
      return 'matrix';
    case 'aggregate':
      return 'vector';
    case 'paren':
    case 'unary':
      return typeOf(e.expr);
    case 'binary':
      return typeOf(e.lhs) === 'scalar' && typeOf(e.rhs) === 'scalar' ? 'scalar' : 'vector';
    case 'call':
      return FUNCTION_RETURN[e.func] ?? 'vector';
  }
}

const FUNCTION_RETURN: Record<string, ValueType> = { time: 'scalar', scalar: 'scalar', pi: 'scalar', start: 'scalar', end: 'scalar', range: 'scalar', step: 'scalar', min_of: 'scalar', max_of: 'scalar' };

/** Prometheus' names for value types, as used in its error messages. */
export function typeName(t: ValueType): string {
  return t === 'vector' ? 'instant vector' : t === 'matrix' ? 'range vector' : t;
}
