/**
 * Range functions in the evaluator: over a range selector, a leaf the data source computes when
 * the function table says it can; otherwise (subqueries, functions without SQL forms, a scalar
 * argument that varies) the function's window value over raw samples slid along the steps.
 * `anchored` and `smoothed` windows take extended.ts' functions.
 */
import { typeOf, type Call, type Expr, type MatrixSelector, type Subquery } from './ast.js';
import { absentOf } from './calls.js';
import { anchoredCount, checkModifier, extendedRate } from './extended.js';
import type { CallImpl, Evaluator, FunctionDef } from './call.js';
import { allocSeries, gridTime, mergeSameLabels, sameLabelset, withoutName, type EvalValue, type Grid, type StepSeries } from './matrix.js';
import type { Labels } from './types.js';

export async function rangeCall(ev: Evaluator, e: Call, g: Grid, def: FunctionDef): Promise<EvalValue> {
  return { type: 'vector', series: await overWindows(ev, e, g, def) };
}

/** absent_over_time: absent() of count_over_time. */
export function absentOverTime(count: FunctionDef): CallImpl {
  return async (ev, e, g) => {
    const m = e.args[0] as MatrixSelector | Subquery;
    const counted = await overWindows(ev, { ...e, func: 'count_over_time' }, g, count);
    return { type: 'vector', series: await absentOf(ev, counted, m.kind === 'matrix' ? m.vector : null, g) };
  };
}

/** A range function over a range selector or subquery, one value per step and series. */
async function overWindows(ev: Evaluator, e: Call, g: Grid, def: FunctionDef): Promise<StepSeries[]> {
  const f = e.func;
  const mi = e.args.findIndex((a) => typeOf(a) === 'matrix');
  const m = e.args[mi] as MatrixSelector | Subquery;
  // The scalar arguments, in order: at most two (double_exponential_smoothing's factors).
  const [scalarArg, secondArg] = e.args.filter((a, i) => i !== mi && typeOf(a) === 'scalar');
  const argValues = scalarArg ? await ev.scalar(scalarArg, g) : null;
  const second = secondArg ? await ev.scalar(secondArg, g) : null;
  if (f === 'quantile_over_time' && argValues) ev.checkQuantile(argValues, scalarArg);
  if (m.kind === 'matrix' && (m.vector.anchored || m.vector.smoothed)) return extendedRangeCall(ev, e, m, g, def);
  const constArg = await ev.constScalarArg(e, g);
  if (m.kind === 'matrix' && def.leaf && constArg !== null) {
    const series = await ev.leafGrid(f, m.vector, m.range, g, leafArg(f, m, constArg));
    if (def.counter) counterInfo(ev, series, m);
    return def.keepsName ? series : mergeSameLabels(series.map((s) => ({ ...s, labels: withoutName(s.labels) })), sameLabelset, ev.m);
  }
  // In TypeScript: raw samples (or subquery points) slid over each step's window.
  const offset = m.kind === 'matrix' ? m.vector.offset : m.offset;
  const at = m.kind === 'matrix' ? m.vector.at : m.at;
  const sg = ev.shifted(offset, at, g);
  const samples = m.kind === 'matrix' ? await ev.matrixSamples(m, g) : await ev.subquerySamples(m, g);
  if (def.counter) counterInfo(ev, samples, m);
  const fn = def.range!;
  // Each window's function reads its samples once (quantiles sort them: a few units more).
  const perSample = f === 'quantile_over_time' || f === 'mad_over_time' ? 8 : 1;
  const out: StepSeries[] = [];
  for (const s of samples) {
    const r = allocSeries(def.keepsName ? s.labels : withoutName(s.labels), g.n, ev.m);
    let lo = 0;
    let hi = 0;
    let any = false;
    for (let i = 0; i < g.n; i++) {
      const end = gridTime(sg, Math.min(i, sg.n - 1));
      const start = end - m.range;
      while (hi < s.t.length && s.t[hi] <= end) hi++;
      while (lo < hi && s.t[lo] <= start) lo++;
      if (ev.m.tick(4 + (hi - lo) * perSample)) await ev.m.pause();
      // predict_linear's intercept is the evaluation time itself, not the offset one (as Prometheus).
      const evalT = gridTime(g, i);
      const v = fn({ t: s.t, v: s.v, lo, hi, rangeStart: start, rangeEnd: end, evalT }, argValues ? argValues[i] : NaN, second ? second[i] : NaN);
      if (v === undefined) continue;
      r.v[i] = v;
      r.has[i] = 1;
      any = true;
    }
    if (any) out.push(r);
  }
  return mergeSameLabels(out, sameLabelset, ev.m);
}

/** rate/increase/delta/changes/resets over `x[r] anchored` or `x[r] smoothed` (extended.ts). */
async function extendedRangeCall(ev: Evaluator, e: Call, m: MatrixSelector, g: Grid, def: FunctionDef): Promise<StepSeries[]> {
  const f = e.func;
  const smoothed = !!m.vector.smoothed;
  checkModifier(f, smoothed ? 'smoothed' : 'anchored');
  const lb = ev.ctx.lookback;
  const { samples, sg } = await ev.widenedSamples(m.vector, m.range, g, lb, smoothed ? lb : 0);
  const out: StepSeries[] = [];
  for (const s of samples) {
    const r = allocSeries(withoutName(s.labels), g.n, ev.m);
    let any = false;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < g.n; i++) {
      const end = gridTime(sg, Math.min(i, sg.n - 1));
      const start = end - m.range;
      while (hi < s.t.length && s.t[hi] <= end + (smoothed ? lb : 0)) hi++;
      while (lo < hi && s.t[lo] <= start - lb) lo++;
      if (ev.m.tick(4 + hi - lo)) await ev.m.pause();
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
  if (def.counter) counterInfo(ev, samples, m);
  return mergeSameLabels(out, sameLabelset, ev.m);
}

/** rate and increase over a series whose name or __type__ says it may not be a counter: Prometheus' info. */
function counterInfo(ev: Evaluator, series: readonly { labels: Labels }[], arg: Expr): void {
  const notes = ev.ctx.notes;
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

/** predict_linear's `t` for the grid function, whose intercept is the offset grid time. */
export function leafArg(fn: string, m: MatrixSelector, arg: number | undefined): number | undefined {
  return fn === 'predict_linear' && arg !== undefined ? arg + m.vector.offset / 1000 : arg;
}
