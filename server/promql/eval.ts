/**
 * The evaluator: walks the AST over a grid of evaluation times. Leaves (selectors and range
 * functions over selectors) are computed by the data source in ClickHouse; everything above
 * them (binary operators, most functions, aggregations) runs here over step matrices.
 */
import { aggregate } from './aggregate.js';
import { LABEL_NAME } from '../../ingest/names.js';
import { COST, Frame, labelsBytes, sampleSeriesBytes, stepSeriesBytes, type Meter, type QueryBudget } from './budget.js';
import { typeOf, type Aggregate, type AtModifier, type Call, type Expr, type MatrixSelector, type Subquery, type VectorSelector } from './ast.js';
import { scalarScalar, vectorScalar, vectorVector } from './binary.js';
import { DATE_FUNCTIONS, KEEPS_NAME, RANGE_FUNCTIONS, bucketFraction, bucketQuantile, compareFloat, roundTo, unaryMath, type Bucket, type Window } from './functions.js';
import {
  allocSeries,
  broadcast,
  gridTime,
  labelsKey,
  labelsString,
  mergeSameLabels,
  newSeries,
  sortAsync,
  withoutName,
  type EvalValue,
  type Grid,
  type SampleSeries,
  type StepSeries,
} from './matrix.js';
import type { DataSource } from './source.js';
import { isLeafFunction, pushableAggregate } from './plan.js';
import type { GridPlan, LeafFunction } from './sql.js';
import { MetronomeError } from '../errors.js';
import { ExecError, type Labels } from './types.js';
import { compileRegex, type Regex } from '../regex.js';
import { Annotations, formatG } from './annotations.js';
import { combineInfo, infoTimeOf, planInfo } from './info.js';
import { anchoredCount, checkModifier, extendedRate, extendWindow, smoothedValue } from './extended.js';

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

const sameLabelset = (l: Labels) => new ExecError(`vector cannot contain metrics with the same labelset ${labelsString(l)}`);
/** label_replace and label_join say it without the label set, as Prometheus does. */
const sameLabelsetPlain = () => new ExecError('vector cannot contain metrics with the same labelset');

/**
 * One Evaluator per node being evaluated: `m` is that node's frame, which holds its children's
 * results and what it builds; see eval().
 */
export class Evaluator {
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
      if (arg === null || !this.leafCapable(inner.func, m, arg)) return null;
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

  /** Whether ClickHouse computes fn over this range selector as a leaf. */
  leafCapable(fn: string, m: MatrixSelector, arg: number | undefined | null): boolean {
    if (!isLeafFunction(fn) || arg === null) return false;
    // deriv and predict_linear run here, over raw samples in time order with Prometheus'
    // compensated regression: ClickHouse's grid functions sum over rows in the order its threads
    // read them, and answered predict_linear(x[50m], 3600) - (x + deriv(x[50m]) * 3600) with
    // 0 or 2.3e-13 from one run to the next (functions.test:466 of Prometheus' suite).
    if (fn === 'deriv' || fn === 'predict_linear') return false;
    return true;
  }

  selector(sel: VectorSelector, g: Grid): Promise<StepSeries[]> {
    return this.leafGrid('sample', sel, this.ctx.lookback, g);
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

  async call(e: Call, g: Grid): Promise<EvalValue> {
    const f = e.func;
    if (RANGE_FUNCTIONS[f] || f === 'absent_over_time') return { type: 'vector', series: await this.rangeCall(e, g) };
    const math = unaryMath(f);
    if (math) return { type: 'vector', series: await this.mapValues(await this.vector(e.args[0], g), math) };
    const date = DATE_FUNCTIONS[f];
    if (date) {
      const input = e.args.length
        ? await this.vector(e.args[0], g)
        : [{ labels: {}, v: Float64Array.from({ length: g.n }, (_, i) => gridTime(g, i) / 1000), has: new Uint8Array(g.n).fill(1) }];
      return { type: 'vector', series: await this.mapValues(input, (x) => (Number.isFinite(x) ? date(new Date(x * 1000)) : NaN)) };
    }
    switch (f) {
      case 'time':
        return { type: 'scalar', v: Float64Array.from({ length: g.n }, (_, i) => gridTime(g, i) / 1000) };
      case 'pi':
        return { type: 'scalar', v: new Float64Array(g.n).fill(Math.PI) };
      case 'min_of':
      case 'max_of': {
        const a = await this.scalar(e.args[0], g);
        const b = await this.scalar(e.args[1], g);
        return { type: 'scalar', v: a.map((x, i) => (f === 'min_of' ? Math.min(x, b[i]) : Math.max(x, b[i]))) };
      }
      case 'vector': {
        const v = await this.scalar(e.args[0], g);
        return { type: 'vector', series: [{ labels: {}, v, has: new Uint8Array(g.n).fill(1) }] };
      }
      case 'scalar': {
        const input = await this.vector(e.args[0], g);
        const out = new Float64Array(g.n);
        for (let i = 0; i < g.n; i++) {
          if (this.m.tick(input.length)) await this.m.pause();
          let count = 0;
          let v = NaN;
          for (const s of input) {
            if (s.has[i]) {
              count++;
              v = s.v[i];
            }
          }
          out[i] = count === 1 ? v : NaN;
        }
        return { type: 'scalar', v: out };
      }
      case 'clamp':
      case 'clamp_min':
      case 'clamp_max': {
        const input = await this.vector(e.args[0], g);
        const a = await this.scalar(e.args[1], g);
        const b = f === 'clamp' ? await this.scalar(e.args[2], g) : null;
        return {
          type: 'vector',
          series: await this.mapSteps(input, (x, i) => {
            if (f === 'clamp_min') return Math.max(a[i], x);
            if (f === 'clamp_max') return Math.min(a[i], x);
            if (b![i] < a[i]) return undefined;
            return Math.max(a[i], Math.min(b![i], x));
          }),
        };
      }
      case 'round': {
        const input = await this.vector(e.args[0], g);
        const to = e.args[1] ? await this.scalar(e.args[1], g) : null;
        return { type: 'vector', series: await this.mapSteps(input, (x, i) => roundTo(x, to ? to[i] : 1)) };
      }
      case 'timestamp':
        return { type: 'vector', series: await this.timestamp(e, g) };
      case 'absent':
        return { type: 'vector', series: await this.absent(await this.vector(e.args[0], g), e.args[0], g) };
      case 'info':
        return { type: 'vector', series: await this.info(e, g) };
      case 'histogram_quantile':
        return { type: 'vector', series: await this.histogramQuantile(e, g) };
      case 'histogram_quantiles':
        return { type: 'vector', series: await this.histogramQuantiles(e, g) };
      case 'histogram_fraction':
        return { type: 'vector', series: await this.histogramFraction(e, g) };
      case 'label_replace':
        return { type: 'vector', series: await this.labelReplace(await this.vector(e.args[0], g), e.args.slice(1).map(str)) };
      case 'label_join':
        return { type: 'vector', series: await this.labelJoin(await this.vector(e.args[0], g), e.args.slice(1).map(str)) };
      case 'sort':
      case 'sort_desc':
        this.sortWarning(e);
        return { type: 'vector', series: await sortByValue(await this.vector(e.args[0], g), f === 'sort_desc', this.m) };
      case 'sort_by_label':
      case 'sort_by_label_desc':
        this.sortWarning(e);
        return { type: 'vector', series: await sortByLabels(await this.vector(e.args[0], g), e.args.slice(1).map(str), f === 'sort_by_label_desc', this.m) };
      case 'double_exponential_smoothing':
        return { type: 'vector', series: await this.rangeCall(e, g) };
      default:
        throw new ExecError(`function ${JSON.stringify(f)} is not implemented`);
    }
  }

  sortWarning(e: Call): void {
    if (this.ctx.range) this.ctx.notes?.warn('sort is ineffective for range queries since results are always ordered by labels', e.pos);
  }

  /** rate and increase over a series whose name or __type__ says it may not be a counter: Prometheus' info. */
  counterInfo(series: readonly { labels: Labels }[], arg: Expr): void {
    const notes = this.ctx.notes;
    if (!notes) return;
    for (const s of series) {
      const name = s.labels.__name__;
      const type = s.labels.__type__;
      if (type !== undefined) {
        if (type !== 'counter' && type !== 'histogram') {
          notes.info(`metric might not be a counter, __type__ label is not set to "counter" or "histogram", got ${JSON.stringify(type)}: ${JSON.stringify(name ?? '')}`, arg.pos);
        }
      } else if (name !== undefined && !/(_total|_sum|_count|_bucket)$/.test(name)) {
        notes.info(`metric might not be a counter, name does not end in _total/_sum/_count/_bucket: ${JSON.stringify(name)}`, arg.pos);
      }
    }
  }

  /** Apply fn to every present value; drops the metric name as Prometheus' math functions do. */
  mapValues(input: StepSeries[], fn: (x: number) => number): Promise<StepSeries[]> {
    return this.mapSteps(input, (x) => fn(x));
  }

  async mapSteps(input: StepSeries[], fn: (x: number, i: number) => number | undefined): Promise<StepSeries[]> {
    const out: StepSeries[] = [];
    for (const s of input) {
      if (this.m.tick(s.v.length)) await this.m.pause();
      const r = allocSeries(withoutName(s.labels), s.v.length, this.m);
      let any = false;
      for (let i = 0; i < s.v.length; i++) {
        if (!s.has[i]) continue;
        const v = fn(s.v[i], i);
        if (v === undefined) continue;
        r.v[i] = v;
        r.has[i] = 1;
        any = true;
      }
      if (any) out.push(r);
    }
    return mergeSameLabels(out, sameLabelset, this.m);
  }

  /** A range function over a range selector or subquery, one value per step and series. */
  async rangeCall(e: Call, g: Grid): Promise<StepSeries[]> {
    const f = e.func;
    const mi = e.args.findIndex((a) => typeOf(a) === 'matrix');
    const m = e.args[mi] as MatrixSelector | Subquery;
    const scalarArg = e.args.find((a, i) => i !== mi && typeOf(a) === 'scalar');
    const argValues = scalarArg ? await this.scalar(scalarArg, g) : null;
    let second: Float64Array | null = null;
    if (f === 'double_exponential_smoothing') second = await this.scalar(e.args[2], g);
    if (f === 'absent_over_time') return this.absentOverTime(e, m, g);
    if (f === 'quantile_over_time' && argValues) this.checkQuantile(argValues, scalarArg!);
    const keepName = KEEPS_NAME.has(f);
    const counter = f === 'rate' || f === 'increase';
    if (m.kind === 'matrix' && (m.vector.anchored || m.vector.smoothed)) return this.extendedRangeCall(e, m, g);
    const constArg = await this.constScalarArg(e, g);
    if (m.kind === 'matrix' && f !== 'quantile_over_time' && this.leafCapable(f, m, constArg)) {
      const series = await this.leafGrid(f as LeafFunction, m.vector, m.range, g, leafArg(f, m, constArg ?? undefined));
      if (counter) this.counterInfo(series, m);
      return keepName ? series : mergeSameLabels(series.map((s) => ({ ...s, labels: withoutName(s.labels) })), sameLabelset, this.m);
    }
    // In TypeScript: raw samples (or subquery points) slid over each step's window.
    const offset = m.kind === 'matrix' ? m.vector.offset : m.offset;
    const at = m.kind === 'matrix' ? m.vector.at : m.at;
    const sg = this.shifted(offset, at, g);
    const samples = m.kind === 'matrix' ? await this.matrixSamples(m, g) : await this.subquerySamples(m, g);
    if (counter) this.counterInfo(samples, m);
    const fn = f === 'double_exponential_smoothing' ? smoothing(second!) : RANGE_FUNCTIONS[f];
    const out: StepSeries[] = [];
    for (const s of samples) {
      const r = allocSeries(keepName ? s.labels : withoutName(s.labels), g.n, this.m);
      let lo = 0;
      let hi = 0;
      let any = false;
      for (let i = 0; i < g.n; i++) {
        const end = gridTime(sg, Math.min(i, sg.n - 1));
        const start = end - m.range;
        while (hi < s.t.length && s.t[hi] <= end) hi++;
        while (lo < hi && s.t[lo] <= start) lo++;
        // Each window's function reads its samples once (quantiles sort them: a few units more).
        if (this.m.tick(4 + (hi - lo) * (f === 'quantile_over_time' || f === 'mad_over_time' ? 8 : 1))) await this.m.pause();
        // predict_linear's intercept is the evaluation time itself, not the offset one (as Prometheus).
        const evalT = gridTime(g, i);
        const v = fn({ t: s.t, v: s.v, lo, hi, rangeStart: start, rangeEnd: end, evalT }, argValues ? argValues[i] : NaN, i);
        if (v === undefined) continue;
        r.v[i] = v;
        r.has[i] = 1;
        any = true;
      }
      if (any) out.push(r);
    }
    return mergeSameLabels(out, sameLabelset, this.m);
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

  /** rate/increase/delta/changes/resets over `x[r] anchored` or `x[r] smoothed` (extended.ts). */
  async extendedRangeCall(e: Call, m: MatrixSelector, g: Grid): Promise<StepSeries[]> {
    const f = e.func;
    const smoothed = !!m.vector.smoothed;
    checkModifier(f, smoothed ? 'smoothed' : 'anchored');
    const lb = this.ctx.lookback;
    const { samples, sg } = await this.widenedSamples(m.vector, m.range, g, lb, smoothed ? lb : 0);
    const out: StepSeries[] = [];
    for (const s of samples) {
      const r = allocSeries(withoutName(s.labels), g.n, this.m);
      let any = false;
      let lo = 0;
      let hi = 0;
      for (let i = 0; i < g.n; i++) {
        const end = gridTime(sg, Math.min(i, sg.n - 1));
        const start = end - m.range;
        while (hi < s.t.length && s.t[hi] <= end + (smoothed ? lb : 0)) hi++;
        while (lo < hi && s.t[lo] <= start - lb) lo++;
        if (this.m.tick(4 + hi - lo)) await this.m.pause();
        const span = { t: s.t, v: s.v, lo, hi };
        const v =
          f === 'changes' || f === 'resets'
            ? anchoredCount(span, start, f === 'resets')
            : extendedRate(span, start, end, m.range / 1000, smoothed, f !== 'delta', f === 'rate');
        if (v === undefined) continue;
        r.v[i] = v;
        r.has[i] = 1;
        any = true;
      }
      if (any) out.push(r);
    }
    if (f === 'rate' || f === 'increase') this.counterInfo(samples, m);
    return mergeSameLabels(out, sameLabelset, this.m);
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

  /**
   * info(v [, selector]) (info.ts): the info series are read as an instant vector at each step,
   * their value the time of the sample picked, at the @ time and offset of v's first selector.
   */
  async info(e: Call, g: Grid): Promise<StepSeries[]> {
    const base = await this.vector(e.args[0], g);
    const selector = e.args[1] ? unparen(e.args[1]) : null;
    if (selector && selector.kind !== 'vector') throw new ExecError('info(): the second argument must be a label selector');
    const plan = planInfo(base, selector);
    let info: StepSeries[] = [];
    if (plan.select) {
      const t = infoTimeOf(e.args[0]) ?? { at: null, offset: 0 };
      const sel: VectorSelector = { kind: 'vector', matchers: plan.select, offset: t.offset, at: t.at, pos: e.pos, end: e.end };
      info = await this.leafGrid('timestamp', sel, this.ctx.lookback, g);
    }
    return combineInfo(base, info, plan, g.n, this.m);
  }

  async absentOverTime(e: Call, m: MatrixSelector | Subquery, g: Grid): Promise<StepSeries[]> {
    const counted = await this.rangeCall({ ...e, func: 'count_over_time' }, g);
    return this.absent(counted, m.kind === 'matrix' ? m.vector : null, g);
  }

  /** absent() of an evaluated vector; `sel` gives the labels when it is a selector. */
  async absent(input: StepSeries[], arg: Expr | null, g: Grid): Promise<StepSeries[]> {
    const present = new Uint8Array(g.n);
    for (const s of input) {
      if (this.m.tick(g.n)) await this.m.pause();
      for (let i = 0; i < g.n; i++) if (s.has[i]) present[i] = 1;
    }
    return absentSeries(present, arg?.kind === 'vector' ? arg : null, g.n);
  }

  async timestamp(e: Call, g: Grid): Promise<StepSeries[]> {
    const arg = e.args[0];
    // On a selector, the timestamp of the sample the lookback picked; otherwise the step time.
    let input: StepSeries[];
    if (arg.kind === 'vector') return this.mapValues(await this.leafGrid('timestamp', arg, this.ctx.lookback, g), (x) => x);
    input = await this.vector(arg, g);
    return this.mapSteps(input, (_x, i) => gridTime(g, i) / 1000);
  }

  /**
   * Classic histograms in a vector: bucket series grouped by their labels but `le` (the name
   * included, as Prometheus groups them); the output labels drop the name, so two histograms
   * that differ only by name collide afterwards. A missing or malformed `le` is a warning.
   */
  async bucketGroups(input: StepSeries[], arg: Expr): Promise<BucketGroup[]> {
    const groups = new Map<string, BucketGroup>();
    for (const s of input) {
      if (this.m.tick(16)) await this.m.pause();
      const le = s.labels.le;
      const upper = le === undefined ? NaN : parseLe(le);
      if (Number.isNaN(upper)) {
        const name = s.labels.__name__ ? ` for metric name ${JSON.stringify(s.labels.__name__)}` : '';
        this.ctx.notes?.warn(`bucket label "le" is missing or has a malformed value of ${JSON.stringify(le ?? '')}${name}`, arg.pos);
        continue;
      }
      const { le: _le, ...rest } = s.labels;
      const k = labelsKey(rest);
      let grp = groups.get(k);
      if (!grp) groups.set(k, (grp = { labels: withoutName(rest), name: rest.__name__ ?? '', buckets: [] }));
      grp.buckets.push({ upper, s });
    }
    return [...groups.values()];
  }

  /** One value per classic histogram and step from its buckets; series that collide without their name fail. */
  async perHistogram(groups: BucketGroup[], n: number, labels: (g: BucketGroup) => Labels, fn: (b: Bucket[], i: number, g: BucketGroup) => number): Promise<StepSeries[]> {
    const out: StepSeries[] = [];
    for (const grp of groups) {
      const r = allocSeries(labels(grp), n, this.m);
      let any = false;
      for (let i = 0; i < n; i++) {
        if (this.m.tick(4 * grp.buckets.length)) await this.m.pause();
        const buckets: Bucket[] = [];
        for (const b of grp.buckets) if (b.s.has[i]) buckets.push({ upper: b.upper, count: b.s.v[i] });
        if (buckets.length === 0) continue;
        r.v[i] = fn(buckets, i, grp);
        r.has[i] = 1;
        any = true;
      }
      if (any) out.push(r);
    }
    return mergeSameLabels(out, sameLabelset, this.m);
  }

  /** Warn (once per value) about a quantile outside [0, 1], as Prometheus does. */
  checkQuantile(q: Float64Array, arg: Expr): void {
    for (const x of q) if (!(x >= 0 && x <= 1)) this.ctx.notes?.warn(`quantile value should be between 0 and 1, got ${formatG(x)}`, arg.pos);
  }

  /** bucketQuantile, with Prometheus' info when decreasing bucket counts had to be flattened. */
  quantileOf(q: number, buckets: Bucket[], g: BucketGroup, arg: Expr): number {
    const out = { forced: false };
    const v = bucketQuantile(q, buckets, out);
    if (out.forced) {
      const name = g.name ? ` for metric name ${JSON.stringify(g.name)}` : '';
      this.ctx.notes?.info(
        `input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)${name}`,
        arg.pos,
      );
    }
    return v;
  }

  async histogramQuantile(e: Call, g: Grid): Promise<StepSeries[]> {
    const q = await this.scalar(e.args[0], g);
    this.checkQuantile(q, e.args[0]);
    const groups = await this.bucketGroups(await this.vector(e.args[1], g), e.args[1]);
    return this.perHistogram(groups, g.n, (grp) => grp.labels, (b, i, grp) => this.quantileOf(q[i], b, grp, e.args[1]));
  }

  /** histogram_quantiles(v, label, φ...): one series per histogram and φ, the φ in `label`. */
  async histogramQuantiles(e: Call, g: Grid): Promise<StepSeries[]> {
    const label = str(e.args[1]);
    const qs: Float64Array[] = [];
    for (const a of e.args.slice(2)) {
      const q = await this.scalar(a, g);
      this.checkQuantile(q, a);
      qs.push(q);
    }
    const groups = await this.bucketGroups(await this.vector(e.args[0], g), e.args[0]);
    const out: StepSeries[] = [];
    for (const q of qs) {
      // The label holds the φ of the first step (φ is a constant in practice), in OpenMetrics form.
      const value = openMetricsFloat(q[0]);
      out.push(...(await this.perHistogram(groups, g.n, (grp) => ({ ...grp.labels, [label]: value }), (b, i, grp) => this.quantileOf(q[i], b, grp, e.args[0]))));
    }
    return mergeSameLabels(out, sameLabelset, this.m);
  }

  async histogramFraction(e: Call, g: Grid): Promise<StepSeries[]> {
    const lower = await this.scalar(e.args[0], g);
    const upper = await this.scalar(e.args[1], g);
    const groups = await this.bucketGroups(await this.vector(e.args[2], g), e.args[2]);
    return this.perHistogram(groups, g.n, (grp) => grp.labels, (b, i) => bucketFraction(lower[i], upper[i], b));
  }

  /**
   * label_replace: a value may grow at every level ("$1$1" doubles it), so each new label set is
   * charged before it is built (MAX_QUERY_BYTES); 17 levels over 32 series used to exhaust the heap.
   */
  async labelReplace(input: StepSeries[], [dst, replacement, src, regex]: string[]): Promise<StepSeries[]> {
    let re: Regex;
    try {
      re = compileRegex(regex, 'prometheus');
    } catch (err) {
      throw new ExecError(`invalid regular expression in label_replace(): ${regex}`);
    }
    if (!LABEL_NAME.test(dst)) throw new ExecError(`invalid destination label name in label_replace(): ${dst}`);
    const out: StepSeries[] = [];
    for (const s of input) {
      // Matching reads the source value, at about 1 µs a character (re2js).
      if (this.m.tick(16 + 64 * (s.labels[src] ?? '').length)) await this.m.pause();
      const m = re.exec(s.labels[src] ?? '');
      if (!m) {
        out.push(s);
        continue;
      }
      const value = re.expand(replacement, m);
      this.checkLabel('label_replace', value);
      this.m.hold(0, COST.series + labelsBytes(s.labels) + COST.char * value.length);
      const labels = { ...s.labels };
      if (value === '') delete labels[dst];
      else labels[dst] = value;
      out.push({ ...s, labels });
    }
    return mergeSameLabels(out, sameLabelsetPlain, this.m);
  }

  /** Refuse a label value longer than MAX_QUERY_LABEL_BYTES (a character count above it needs no encoding). */
  checkLabel(fn: string, value: string | { length: number }): void {
    const max = this.ctx.maxLabelBytes;
    if (value.length > max || (typeof value === 'string' && value.length * 3 > max && Buffer.byteLength(value) > max)) {
      throw new MetronomeError('MTR_QUERY_LABEL_TOO_LONG', [fn, max]);
    }
  }

  /** label_join: the joined value is charged before it is built. */
  async labelJoin(input: StepSeries[], [dst, sep, ...srcs]: string[]): Promise<StepSeries[]> {
    if (!LABEL_NAME.test(dst)) throw new ExecError(`invalid destination label name in label_join(): ${dst}`);
    const out: StepSeries[] = [];
    for (const s of input) {
      let length = sep.length * Math.max(0, srcs.length - 1);
      for (const l of srcs) length += (s.labels[l] ?? '').length;
      if (this.m.tick(16 + (length >> 2))) await this.m.pause();
      if (length > this.ctx.maxLabelBytes) this.checkLabel('label_join', { length });
      this.m.hold(0, COST.series + labelsBytes(s.labels) + COST.char * length);
      const value = srcs.map((l) => s.labels[l] ?? '').join(sep);
      this.checkLabel('label_join', value);
      const labels = { ...s.labels };
      if (value === '') delete labels[dst];
      else labels[dst] = value;
      out.push({ ...s, labels });
    }
    return mergeSameLabels(out, sameLabelsetPlain, this.m);
  }
}

function str(e: Expr): string {
  if (e.kind === 'string') return e.value;
  if (e.kind === 'paren') return str(e.expr);
  throw new ExecError('expected a string literal');
}

/** absent()'s labels: the equality matchers of the selector, except the metric name. */
function absentSeries(present: Uint8Array, sel: VectorSelector | null, n: number): StepSeries[] {
  const labels: Labels = {};
  if (sel) {
    const seen = new Set<string>();
    for (const m of sel.matchers) {
      if (m.name === '__name__') continue;
      if (m.op === '=' && !seen.has(m.name)) labels[m.name] = m.value;
      else delete labels[m.name];
      seen.add(m.name);
    }
  }
  const r = newSeries(labels, n);
  let any = false;
  for (let i = 0; i < n; i++) {
    if (present[i]) continue;
    r.v[i] = 1;
    r.has[i] = 1;
    any = true;
  }
  return any ? [r] : [];
}

interface BucketGroup {
  /** Output labels: the bucket series' labels without `le` and the name. */
  labels: Labels;
  name: string;
  buckets: { upper: number; s: StepSeries }[];
}

/** A float as OpenMetrics writes it (`0.0`, `1.0`, `0.25`, `+Inf`): histogram_quantiles' label values. */
function openMetricsFloat(x: number): string {
  if (Number.isInteger(x) && Math.abs(x) < 1e21) return `${x}.0`;
  return formatG(x);
}

function parseLe(le: string): number {
  const t = le.trim();
  if (t === '+Inf' || t === 'Inf' || t === '+inf' || t === 'inf') return Infinity;
  if (t === '-Inf' || t === '-inf') return -Infinity;
  if (t === '' || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^0x[0-9a-fA-F]+$/.test(t)) return NaN;
  return Number(t);
}

/** Order for an instant query's vector (range results are ordered by labels at the edge). NaN last. */
function sortByValue(input: StepSeries[], desc: boolean, m: Meter): Promise<StepSeries[]> {
  return sortAsync(input, (a, b) => {
    const x = a.v[0];
    const y = b.v[0];
    if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) ? (Number.isNaN(y) ? 0 : 1) : -1;
    return desc ? compareFloat(y, x) : compareFloat(x, y);
  }, m);
}

async function sortByLabels(input: StepSeries[], names: string[], desc: boolean, m: Meter): Promise<StepSeries[]> {
  const collator = new Intl.Collator('en', { numeric: true });
  // Each series' key once, not twice per comparison.
  const keyed = input.map((s) => ({ s, key: labelsKey(s.labels) }));
  const sorted = await sortAsync(keyed, (a, b) => {
    for (const n of names.length ? names : []) {
      const c = collator.compare(a.s.labels[n] ?? '', b.s.labels[n] ?? '');
      if (c !== 0) return desc ? -c : c;
    }
    const c = a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
    return desc ? -c : c;
  }, m);
  return sorted.map((x) => x.s);
}

/** double_exponential_smoothing(v, sf, tf) (Holt's linear method), as Prometheus computes it. */
function smoothing(trend: Float64Array) {
  return (w: Window, sf: number, i: number): number | undefined => {
    const tf = trend[i];
    if (!(sf > 0 && sf < 1) || !(tf > 0 && tf < 1)) throw new ExecError('invalid smoothing or trend factor: must be between 0 and 1');
    const n = w.hi - w.lo;
    if (n < 2) return undefined;
    let s0 = 0;
    let s1 = w.v[w.lo];
    let b = w.v[w.lo + 1] - w.v[w.lo];
    for (let j = 1; j < n; j++) {
      const x = sf * w.v[w.lo + j];
      if (j > 1) b = tf * (s1 - s0) + (1 - tf) * b;
      const y = (1 - sf) * (s1 + b);
      s0 = s1;
      s1 = x + y;
    }
    return s1;
  };
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

/** predict_linear's `t` for the grid function, whose intercept is the offset grid time. */
function leafArg(fn: string, m: MatrixSelector, arg: number | undefined): number | undefined {
  return fn === 'predict_linear' && arg !== undefined ? arg + m.vector.offset / 1000 : arg;
}
