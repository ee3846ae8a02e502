/**
 * The evaluator: walks the AST over a grid of evaluation times. Leaves (selectors and range
 * functions over selectors) are computed by the data source in ClickHouse; operators and
 * aggregations above them run here over step matrices, and a function call runs what the
 * function table (function-table.ts) gives for it.
 */
import { aggregate } from './aggregate.js';
import { COST, Frame, labelsBytes, sampleSeriesBytes, stepSeriesBytes, type QueryBudget } from './budget.js';
import { typeOf, type Aggregate, type AtModifier, type Call, type Expr, type MatrixSelector, type Subquery, type VectorSelector } from './ast.js';
import { scalarScalar, vectorScalar, vectorVector } from './binary.js';
import { functionDef, type LeafFunction } from './function-table.js';
import type { Evaluator as CallEvaluator } from './call.js';
import { allocSeries, broadcast, gridTime, mergeSameLabels, sameLabelset, withoutName, type EvalValue, type Grid, type SampleSeries, type StepSeries } from './matrix.js';
import type { DataSource } from './source.js';
import { pushableAggregate } from './plan.js';
import { leafArg } from './range-calls.js';
import type { GridPlan } from './sql.js';
import { ExecError } from './types.js';
import { formatG, type Annotations } from './annotations.js';
import { extendWindow, smoothedValue } from './extended.js';

export interface EvalContext {
  source: DataSource;
  /** The query's own start and end, for `@ start()` / `@ end()`. */
  queryStart: number;
  queryEnd: number;
  /** Instant-vector lookback (Prometheus: 5 minutes). */
  lookback: number;
  /** Subquery resolution when none is given (Prometheus' default evaluation interval). */
  defaultSubqueryStep: number;
  /** Most steps a subquery may evaluate (guards `x[30d:1s]`). */
  maxSubquerySteps: number;
  /**
   * Longest label value label_replace and label_join may make (MAX_QUERY_LABEL_BYTES): matching
   * a regex takes time in proportion to the value, in one call that cannot yield (re2js: about
   * 1 s per million characters on the shared 2-core VM).
   */
  maxLabelBytes: number;
  /** The query's memory and time (budget.ts): every loop below ticks it, every value is charged. */
  budget: QueryBudget;
  /** Where warnings and infos go (Prometheus' annotations); none are kept when absent. */
  notes?: Annotations;
  /** A range query (sort functions warn that they change nothing there). */
  range?: boolean;
}

/**
 * One Evaluator per node being evaluated: `m` is that node's frame, which holds its children's
 * results and what it builds; see eval().
 */
export class Evaluator implements CallEvaluator {
  readonly m: Frame;

  constructor(readonly ctx: EvalContext) {
    this.m = new Frame(ctx.budget);
  }

  atTime(at: AtModifier): number {
    return at === 'start' ? this.ctx.queryStart : at === 'end' ? this.ctx.queryEnd : at.time;
  }

  /**
   * Evaluate e on grid g. The node runs in its own frame; once it is done, everything the frame
   * held (its children's results, its scratch) is given back and its result is charged to the
   * caller's frame. So the budget counts what is alive: a chain of 17 label_replace calls holds
   * two levels at a time, not seventeen.
   */
  async eval(e: Expr, g: Grid): Promise<EvalValue> {
    if (e.kind === 'paren') return this.eval(e.expr, g);
    this.ctx.budget.check();
    const node = new Evaluator(this.ctx);
    let v: EvalValue;
    try {
      v = await node.node(e, g);
    } finally {
      node.m.close();
    }
    await this.holdValue(v);
    return v;
  }

  /** Charge a value to this frame. */
  async holdValue(v: EvalValue): Promise<void> {
    let samples = 0;
    let bytes = 0;
    if (v.type === 'scalar') {
      samples = v.v.length;
      bytes = COST.scalar * samples;
    } else if (v.type === 'string') bytes = COST.char * v.s.length;
    else {
      for (const s of v.series) {
        if (this.m.tick(8)) await this.m.pause();
        if (v.type === 'vector') {
          samples += (s as StepSeries).v.length;
          bytes += stepSeriesBytes(s as StepSeries);
        } else {
          samples += (s as SampleSeries).t.length;
          bytes += sampleSeriesBytes(s as SampleSeries);
        }
      }
    }
    this.m.hold(samples, bytes);
  }

  async node(e: Expr, g: Grid): Promise<EvalValue> {
    switch (e.kind) {
      case 'number':
        return { type: 'scalar', v: new Float64Array(g.n).fill(e.value) };
      case 'string':
        return { type: 'string', s: e.value };
      case 'paren':
        return this.eval(e.expr, g);
      case 'unary': {
        const v = await this.eval(e.expr, g);
        if (e.op === '+') return v;
        if (v.type === 'scalar') return { type: 'scalar', v: v.v.map((x) => -x) };
        if (v.type !== 'vector') throw new ExecError('unary minus on a non-numeric value');
        const out: StepSeries[] = [];
        for (const s of v.series) {
          if (this.m.tick(s.v.length)) await this.m.pause();
          const r = allocSeries(withoutName(s.labels), s.v.length, this.m);
          for (let i = 0; i < s.v.length; i++) r.v[i] = -s.v[i];
          r.has.set(s.has);
          out.push(r);
        }
        return { type: 'vector', series: await mergeSameLabels(out, sameLabelset, this.m) };
      }
      case 'vector':
        return { type: 'vector', series: e.smoothed ? await this.smoothedSelector(e, g) : await this.selector(e, g) };
      case 'matrix':
        return { type: 'matrix', series: e.vector.anchored || e.vector.smoothed ? await this.extendedMatrix(e, g) : await this.matrixSamples(e, g) };
      case 'subquery':
        return { type: 'matrix', series: await this.subquerySamples(e, g, true) };
      case 'aggregate': {
        let param: Float64Array | string | undefined;
        if (e.param) {
          const p = await this.eval(e.param, g);
          param = p.type === 'string' ? p.s : p.type === 'scalar' ? p.v : undefined;
        }
        if (e.op === 'quantile' && param instanceof Float64Array) this.checkQuantile(param, e.param!);
        const pushed = await this.pushedAggregate(e, g);
        if (pushed) return { type: 'vector', series: pushed };
        const input = await this.vector(e.expr, g);
        return { type: 'vector', series: await aggregate({ op: e.op, grouping: e.grouping, without: e.without, param }, input, g.n, this.m) };
      }
      case 'binary': {
        const [l, r] = await Promise.all([this.eval(e.lhs, g), this.eval(e.rhs, g)]);
        if (l.type === 'scalar' && r.type === 'scalar') return { type: 'scalar', v: scalarScalar(e.op, l.v, r.v) };
        if (l.type === 'vector' && r.type === 'scalar') return { type: 'vector', series: await vectorScalar(e.op, l.series, r.v, false, e.bool, this.m) };
        if (l.type === 'scalar' && r.type === 'vector') return { type: 'vector', series: await vectorScalar(e.op, r.series, l.v, true, e.bool, this.m) };
        if (l.type === 'vector' && r.type === 'vector') {
          return { type: 'vector', series: await vectorVector(e.op, l.series, r.series, e.matching, e.bool, g.n, this.m) };
        }
        throw new ExecError('binary expression must contain only scalar and instant vector types');
      }
      case 'call':
        return this.call(e, g);
    }
  }

  async vector(e: Expr, g: Grid): Promise<StepSeries[]> {
    const v = await this.eval(e, g);
    if (v.type !== 'vector') throw new ExecError(`expected instant vector, got ${v.type}`);
    return v.series;
  }

  async scalar(e: Expr, g: Grid): Promise<Float64Array> {
    const v = await this.eval(e, g);
    if (v.type !== 'scalar') throw new ExecError(`expected scalar, got ${v.type}`);
    return v.v;
  }

  /** The grid a selector reads after `offset` and `@`: one step when `@` pins it. */
  shifted(offset: number, at: AtModifier | null, g: Grid): Grid {
    if (at) return { start: this.atTime(at) - offset, step: g.step, n: 1 };
    return { start: g.start - offset, step: g.step, n: g.n };
  }

  /** The leaf plan of fn over a selector on grid g, after offset and @. */
  leafPlan(fn: LeafFunction, sel: VectorSelector, window: number, g: Grid, arg?: number): { plan: GridPlan; sg: Grid } {
    const sg = this.shifted(sel.offset, sel.at, g);
    return { sg, plan: { fn, matchers: sel.matchers, start: sg.start, end: gridTime(sg, sg.n - 1), step: sg.step, window, arg } };
  }

  async leafGrid(fn: LeafFunction, sel: VectorSelector, window: number, g: Grid, arg?: number): Promise<StepSeries[]> {
    const { plan, sg } = this.leafPlan(fn, sel, window, g, arg);
    const series = await this.ctx.source.grid(plan);
    return sg.n === g.n ? series : this.broadcastAll(series, g.n);
  }

  async broadcastAll(series: StepSeries[], n: number): Promise<StepSeries[]> {
    const out: StepSeries[] = [];
    for (const s of series) {
      if (this.m.tick(n)) await this.m.pause();
      out.push(broadcast(s, n, this.m));
    }
    return out;
  }

  /** The leaf (selector or range function) below an aggregation, when both can run in ClickHouse. */
  async pushedAggregate(e: Aggregate, g: Grid): Promise<StepSeries[] | null> {
    const agg = pushableAggregate(e);
    if (!agg) return null;
    const inner = unparen(e.expr);
    if (usesRangeModifier(inner)) return null;
    let leaf: { plan: GridPlan; sg: Grid } | null = null;
    if (inner.kind === 'vector') leaf = this.leafPlan('sample', inner, this.ctx.lookback, g);
    else if (inner.kind === 'call') {
      const m = inner.args.find((a) => a.kind === 'matrix') as MatrixSelector;
      const arg = await this.constScalarArg(inner, g);
      if (arg === null) return null;
      leaf = this.leafPlan(inner.func as LeafFunction, m.vector, m.range, g, leafArg(inner.func, m, arg));
    }
    if (!leaf) return null;
    const series = await this.ctx.source.aggregate(leaf.plan, agg);
    if (!series) return null;
    return leaf.sg.n === g.n ? series : this.broadcastAll(series, g.n);
  }

  /** The function's scalar argument when it is the same at every step; undefined when it has none; null otherwise. */
  async constScalarArg(e: Call, g: Grid): Promise<number | undefined | null> {
    const a = e.args.find((x) => typeOf(x) === 'scalar');
    if (!a) return undefined;
    const v = await this.scalar(a, g);
    return v.every((x) => x === v[0] || (Number.isNaN(x) && Number.isNaN(v[0]))) ? v[0] : null;
  }

  selector(sel: VectorSelector, g: Grid): Promise<StepSeries[]> {
    return this.leafGrid('sample', sel, this.ctx.lookback, g);
  }

  /** A function call, computed as the function table says. */
  call(e: Call, g: Grid): Promise<EvalValue> {
    const def = functionDef(e.func);
    if (!def?.call) throw new ExecError(`function ${JSON.stringify(e.func)} is not implemented`);
    return def.call(this, e, g, def);
  }

  /** Raw samples of a range selector over all of the grid's windows, held by this frame. */
  async matrixSamples(m: MatrixSelector, g: Grid): Promise<SampleSeries[]> {
    const sg = this.shifted(m.vector.offset, m.vector.at, g);
    const out = await this.ctx.source.samples({ matchers: m.vector.matchers, from: sg.start - m.range, to: gridTime(sg, sg.n - 1) });
    await this.holdValue({ type: 'matrix', series: out });
    return out;
  }

  /** Evaluate a subquery's inner expression at its own aligned steps, as samples. */
  async subquerySamples(sq: Subquery, g: Grid, onlyLastWindow = false): Promise<SampleSeries[]> {
    const step = sq.step || this.ctx.defaultSubqueryStep;
    const sg = this.shifted(sq.offset, sq.at, g);
    const lo = sg.start - sq.range;
    const hi = gridTime(sg, sg.n - 1);
    let start = Math.floor(lo / step) * step;
    if (start <= lo) start += step;
    const n = hi >= start ? Math.floor((hi - start) / step) + 1 : 0;
    if (n > this.ctx.maxSubquerySteps) {
      throw new ExecError(`subquery would evaluate ${n} steps (more than ${this.ctx.maxSubquerySteps}); use a larger subquery step`);
    }
    if (n === 0) return [];
    const inner = await this.vector(sq.expr, { start, step, n });
    const out: SampleSeries[] = [];
    for (const s of inner) {
      if (this.m.tick(n)) await this.m.pause();
      const t: number[] = [];
      const v: number[] = [];
      this.m.hold(0, COST.series + labelsBytes(s.labels));
      for (let i = 0; i < n; i++) {
        if (!s.has[i]) continue;
        const at = start + i * step;
        if (onlyLastWindow && at <= hi - sq.range) continue;
        t.push(at);
        v.push(s.v[i]);
      }
      this.m.hold(t.length, COST.sample * t.length);
      if (t.length) out.push({ labels: s.labels, t, v });
    }
    return out;
  }

  /**
   * Raw samples for anchored/smoothed windows and smoothed selectors: `before` more before the
   * first step's window (the lookback), `after` more after the last step.
   */
  async widenedSamples(sel: VectorSelector, range: number, g: Grid, before: number, after: number): Promise<{ samples: SampleSeries[]; sg: Grid }> {
    const sg = this.shifted(sel.offset, sel.at, g);
    const samples = await this.ctx.source.samples({ matchers: sel.matchers, from: sg.start - range - before, to: gridTime(sg, sg.n - 1) + after });
    await this.holdValue({ type: 'matrix', series: samples });
    return { samples, sg };
  }

  /** A bare `x[r] anchored` or `x[r] smoothed` (an instant query's range vector). */
  async extendedMatrix(m: MatrixSelector, g: Grid): Promise<SampleSeries[]> {
    const smoothed = !!m.vector.smoothed;
    const lb = this.ctx.lookback;
    const { samples, sg } = await this.widenedSamples(m.vector, m.range, g, lb, smoothed ? lb : 0);
    const end = gridTime(sg, sg.n - 1);
    const out: SampleSeries[] = [];
    for (const s of samples) {
      if (this.m.tick(s.t.length)) await this.m.pause();
      const w = extendWindow({ t: s.t, v: s.v, lo: 0, hi: s.t.length }, end - m.range, end, smoothed);
      if (w.t.length) out.push({ labels: s.labels, ...w });
    }
    return out;
  }

  /** `x smoothed`: at each step the value interpolated at the step's time (extended.ts). */
  async smoothedSelector(sel: VectorSelector, g: Grid): Promise<StepSeries[]> {
    const lb = this.ctx.lookback;
    const { samples, sg } = await this.widenedSamples(sel, 0, g, lb, lb);
    const out: StepSeries[] = [];
    for (const s of samples) {
      const r = allocSeries(s.labels, g.n, this.m);
      let any = false;
      let lo = 0;
      let hi = 0;
      for (let i = 0; i < g.n; i++) {
        const at = gridTime(sg, Math.min(i, sg.n - 1));
        while (hi < s.t.length && s.t[hi] <= at + lb) hi++;
        while (lo < hi && s.t[lo] <= at - lb) lo++;
        if (this.m.tick(4)) await this.m.pause();
        const v = smoothedValue({ t: s.t, v: s.v, lo, hi }, at);
        if (v === undefined) continue;
        r.v[i] = v;
        r.has[i] = 1;
        any = true;
      }
      if (any) out.push(r);
    }
    return out;
  }

  /** Warn (once per value) about a quantile outside [0, 1], as Prometheus does. */
  checkQuantile(q: Float64Array, arg: Expr): void {
    for (const x of q) if (!(x >= 0 && x <= 1)) this.ctx.notes?.warn(`quantile value should be between 0 and 1, got ${formatG(x)}`, arg.pos);
  }
}

/** Whether a selector below carries anchored or smoothed (never pushed to ClickHouse). */
function usesRangeModifier(e: Expr): boolean {
  if (e.kind === 'vector') return !!(e.smoothed || e.anchored);
  if (e.kind === 'call') return e.args.some((a) => a.kind === 'matrix' && (a.vector.anchored || a.vector.smoothed));
  return false;
}

function unparen(e: Expr): Expr {
  return e.kind === 'paren' ? unparen(e.expr) : e;
}
