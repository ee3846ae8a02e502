/**
 * Prometheus 3's duration expressions (`x[5m * 2]`, `offset (1h / 2)`, `[step() + 1ms]`,
 * `offset min_of(range(), 8s)`) and the query-context functions `start()`, `end()`, `range()`,
 * `step()`. A duration without step() or range() is folded to milliseconds when parsed; one with
 * them is kept as a DurationExpr and resolved per query (resolveQueryContext), as Prometheus'
 * durationVisitor and foldQueryContextFunctions do before evaluation.
 */
import type { DurationExpr, Expr } from './ast.js';
import { ExecError } from './types.js';

/** What a query's context functions answer: its start, end and step (ms); 0 step for an instant query. */
export interface QueryContext {
  start: number;
  end: number;
  step: number;
}

/** Functions whose value is the query's own start, end, range or step. */
const QUERY_CONTEXT_FUNCTIONS: ReadonlySet<string> = new Set(['start', 'end', 'range', 'step']);

/** A duration expression's value in seconds (Prometheus computes them on seconds). */
export function durationSeconds(d: DurationExpr, ctx: QueryContext | null): number {
  switch (d.op) {
    case 'literal':
      return d.value;
    case 'step':
    case 'range':
      if (!ctx) throw new Error(`${d.op}() needs the query context`);
      return (d.op === 'step' ? ctx.step : ctx.end - ctx.start) / 1000;
    case 'neg':
      return -durationSeconds(d.args[0], ctx);
  }
  const a = durationSeconds(d.args[0], ctx);
  const b = durationSeconds(d.args[1], ctx);
  switch (d.op) {
    case 'min_of':
      return Math.min(a, b);
    case 'max_of':
      return Math.max(a, b);
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      if (b === 0) throw new DurationError(d, 'division by zero');
      return a / b;
    case '%':
      if (b === 0) throw new DurationError(d, 'modulo by zero');
      return a % b;
    case '^':
      return a ** b;
  }
}

/** A duration expression that has no valid value: `reason` says why, `at` is its span in the query. */
export class DurationError extends Error {
  override name = 'DurationError';
  constructor(
    readonly at: { pos: number; end: number },
    readonly reason: string,
  ) {
    super(`${at.pos}:${at.end}: ${reason}`);
  }
}

/** Whether the expression needs the query context (step() or range()). */
export function isDynamic(d: DurationExpr): boolean {
  if (d.op === 'step' || d.op === 'range') return true;
  return 'args' in d && (d.args as DurationExpr[]).some(isDynamic);
}

/** A duration in ms, checked as Prometheus checks it: finite, and positive unless it is an offset. */
function durationMs(d: DurationExpr, ctx: QueryContext | null, allowNegative: boolean): number {
  const s = durationSeconds(d, ctx);
  if (!Number.isFinite(s)) throw new DurationError(d, 'duration is NaN or infinite');
  if (s <= 0 && !allowNegative) throw new DurationError(d, 'duration must be greater than 0');
  if (Math.abs(s) > 2 ** 63 / 1e9) throw new DurationError(d, 'duration is out of range');
  return Math.trunc(s * 1000);
}

/**
 * The expression with step()/range() durations resolved and start()/end()/range()/step() calls
 * folded to numbers for this query; `contextual` tells whether any was there (such a query's
 * steps depend on the query's own bounds and are not cached across queries).
 */
export function resolveQueryContext(e: Expr, ctx: QueryContext): { expr: Expr; contextual: boolean } {
  let contextual = false;
  const dur = (d: DurationExpr | undefined, current: number, allowNegative: boolean): number => {
    if (!d) return current;
    contextual = true;
    try {
      return durationMs(d, ctx, allowNegative);
    } catch (err) {
      if (err instanceof DurationError) throw new ExecError(err.message);
      throw err;
    }
  };
  const walk = (x: Expr): Expr => {
    switch (x.kind) {
      case 'number':
      case 'string':
        return x;
      case 'vector':
        return x.offsetExpr ? { ...x, offset: dur(x.offsetExpr, x.offset, true) } : x;
      case 'matrix': {
        const vector = walk(x.vector) as typeof x.vector;
        return vector === x.vector && !x.rangeExpr ? x : { ...x, vector, range: dur(x.rangeExpr, x.range, false) };
      }
      case 'subquery':
        return { ...x, expr: walk(x.expr), range: dur(x.rangeExpr, x.range, false), step: dur(x.stepExpr, x.step, false), offset: dur(x.offsetExpr, x.offset, true) };
      case 'call': {
        if (QUERY_CONTEXT_FUNCTIONS.has(x.func) && x.args.length === 0) {
          contextual = true;
          const v = x.func === 'start' ? ctx.start : x.func === 'end' ? ctx.end : x.func === 'range' ? ctx.end - ctx.start : ctx.step;
          return { kind: 'number', value: v / 1000, pos: x.pos, end: x.end };
        }
        return { ...x, args: x.args.map(walk) };
      }
      case 'aggregate':
        return { ...x, expr: walk(x.expr), param: x.param && walk(x.param) };
      case 'binary':
        return { ...x, lhs: walk(x.lhs), rhs: walk(x.rhs) };
      case 'unary':
      case 'paren':
        return { ...x, expr: walk(x.expr) } as Expr;
    }
  };
  const expr = walk(e);
  return { expr, contextual };
}
