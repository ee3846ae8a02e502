/**
 * The evaluator's implementations of PromQL functions over step values, as function-table.ts
 * lists them: element-wise and calendar functions, clamp and round, time and scalar/vector
 * conversions, absent, timestamp, sort and info.
 */
import type { Call, Expr, VectorSelector } from './ast.js';
import type { Meter } from './budget.js';
import type { Evaluator } from './call.js';
import type { CallImpl } from './call.js';
import { compareFloat, roundTo } from './functions.js';
import { combineInfo, infoTimeOf, planInfo } from './info.js';
import { allocSeries, gridTime, labelsKey, mergeSameLabels, newSeries, sameLabelset, sortAsync, withoutName, type EvalValue, type Grid, type StepSeries } from './matrix.js';
import { ExecError, type Labels } from './types.js';

const vec = (series: StepSeries[]): EvalValue => ({ type: 'vector', series });

/** Apply fn to every present value; drops the metric name as Prometheus' element-wise functions do. */
async function mapSteps(ev: Evaluator, input: StepSeries[], fn: (x: number, i: number) => number | undefined): Promise<StepSeries[]> {
  const out: StepSeries[] = [];
  for (const s of input) {
    if (ev.m.tick(s.v.length)) await ev.m.pause();
    const r = allocSeries(withoutName(s.labels), s.v.length, ev.m);
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
  return mergeSameLabels(out, sameLabelset, ev.m);
}

/** An element-wise math function of one instant vector. */
export function math(fn: (x: number) => number): CallImpl {
  return async (ev, e, g) => vec(await mapSteps(ev, await ev.vector(e.args[0], g), (x) => fn(x)));
}

/** A calendar function of the values (unix seconds), or of the step's time without an argument. */
export function date(fn: (d: Date) => number): CallImpl {
  return async (ev, e, g) => {
    const input = e.args.length
      ? await ev.vector(e.args[0], g)
      : [{ labels: {}, v: Float64Array.from({ length: g.n }, (_, i) => gridTime(g, i) / 1000), has: new Uint8Array(g.n).fill(1) }];
    return vec(await mapSteps(ev, input, (x) => (Number.isFinite(x) ? fn(new Date(x * 1000)) : NaN)));
  };
}

/** clamp(v, min, max), clamp_min(v, min) or clamp_max(v, max): which bounds the scalar arguments are. */
export function clamp(bounds: 'min' | 'max' | 'both'): CallImpl {
  return async (ev, e, g) => {
    const input = await ev.vector(e.args[0], g);
    const a = await ev.scalar(e.args[1], g);
    const b = bounds === 'both' ? await ev.scalar(e.args[2], g) : null;
    return vec(
      await mapSteps(ev, input, (x, i) => {
        if (bounds === 'min') return Math.max(a[i], x);
        if (bounds === 'max') return Math.min(a[i], x);
        if (b![i] < a[i]) return undefined;
        return Math.max(a[i], Math.min(b![i], x));
      }),
    );
  };
}

export async function round(ev: Evaluator, e: Call, g: Grid): Promise<EvalValue> {
  const input = await ev.vector(e.args[0], g);
  const to = e.args[1] ? await ev.scalar(e.args[1], g) : null;
  return vec(await mapSteps(ev, input, (x, i) => roundTo(x, to ? to[i] : 1)));
}

export async function timeScalar(_ev: Evaluator, _e: Call, g: Grid): Promise<EvalValue> {
  return { type: 'scalar', v: Float64Array.from({ length: g.n }, (_, i) => gridTime(g, i) / 1000) };
}

export async function piScalar(_ev: Evaluator, _e: Call, g: Grid): Promise<EvalValue> {
  return { type: 'scalar', v: new Float64Array(g.n).fill(Math.PI) };
}

/** A function of two scalars, step by step (min_of, max_of). */
export function scalarPair(fn: (a: number, b: number) => number): CallImpl {
  return async (ev, e, g) => {
    const a = await ev.scalar(e.args[0], g);
    const b = await ev.scalar(e.args[1], g);
    return { type: 'scalar', v: a.map((x, i) => fn(x, b[i])) };
  };
}

export async function vector(ev: Evaluator, e: Call, g: Grid): Promise<EvalValue> {
  const v = await ev.scalar(e.args[0], g);
  return vec([{ labels: {}, v, has: new Uint8Array(g.n).fill(1) }]);
}

/** scalar(v): the value of a vector of one element, else NaN, at each step. */
export async function scalar(ev: Evaluator, e: Call, g: Grid): Promise<EvalValue> {
  const input = await ev.vector(e.args[0], g);
  const out = new Float64Array(g.n);
  for (let i = 0; i < g.n; i++) {
    if (ev.m.tick(input.length)) await ev.m.pause();
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

export async function timestamp(ev: Evaluator, e: Call, g: Grid): Promise<EvalValue> {
  const arg = e.args[0];
  // On a selector, the timestamp of the sample the lookback picked; otherwise the step time.
  if (arg.kind === 'vector') return vec(await mapSteps(ev, await ev.leafGrid('timestamp', arg, ev.ctx.lookback, g), (x) => x));
  const input = await ev.vector(arg, g);
  return vec(await mapSteps(ev, input, (_x, i) => gridTime(g, i) / 1000));
}

export async function absent(ev: Evaluator, e: Call, g: Grid): Promise<EvalValue> {
  return vec(await absentOf(ev, await ev.vector(e.args[0], g), e.args[0], g));
}

/** absent() of an evaluated vector; `arg` gives the labels when it is a selector. */
export async function absentOf(ev: Evaluator, input: StepSeries[], arg: Expr | null, g: Grid): Promise<StepSeries[]> {
  const present = new Uint8Array(g.n);
  for (const s of input) {
    if (ev.m.tick(g.n)) await ev.m.pause();
    for (let i = 0; i < g.n; i++) if (s.has[i]) present[i] = 1;
  }
  return absentSeries(present, arg?.kind === 'vector' ? arg : null, g.n);
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

/**
 * info(v [, selector]) (info.ts): the info series are read as an instant vector at each step,
 * their value the time of the sample picked, at the @ time and offset of v's first selector.
 */
export async function info(ev: Evaluator, e: Call, g: Grid): Promise<EvalValue> {
  const base = await ev.vector(e.args[0], g);
  const selector = e.args[1] ? unparen(e.args[1]) : null;
  if (selector && selector.kind !== 'vector') throw new ExecError('info(): the second argument must be a label selector');
  const plan = planInfo(base, selector);
  let series: StepSeries[] = [];
  if (plan.select) {
    const t = infoTimeOf(e.args[0]) ?? { at: null, offset: 0 };
    const sel: VectorSelector = { kind: 'vector', matchers: plan.select, offset: t.offset, at: t.at, pos: e.pos, end: e.end };
    series = await ev.leafGrid('timestamp', sel, ev.ctx.lookback, g);
  }
  return vec(await combineInfo(base, series, plan, g.n, ev.m));
}

function sortWarning(ev: Evaluator, e: Call): void {
  if (ev.ctx.range) ev.ctx.notes?.warn('sort is ineffective for range queries since results are always ordered by labels', e.pos);
}

/** sort (sort_desc with `desc`). */
export function sortByValue(desc: boolean): CallImpl {
  return async (ev, e, g) => {
    sortWarning(ev, e);
    return vec(await byValue(await ev.vector(e.args[0], g), desc, ev.m));
  };
}

/** sort_by_label (sort_by_label_desc with `desc`). */
export function sortByLabel(desc: boolean): CallImpl {
  return async (ev, e, g) => {
    sortWarning(ev, e);
    return vec(await byLabels(await ev.vector(e.args[0], g), e.args.slice(1).map(stringArg), desc, ev.m));
  };
}

/** Order for an instant query's vector (range results are ordered by labels at the edge). NaN last. */
function byValue(input: StepSeries[], desc: boolean, m: Meter): Promise<StepSeries[]> {
  return sortAsync(input, (a, b) => {
    const x = a.v[0];
    const y = b.v[0];
    if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) ? (Number.isNaN(y) ? 0 : 1) : -1;
    return desc ? compareFloat(y, x) : compareFloat(x, y);
  }, m);
}

async function byLabels(input: StepSeries[], names: string[], desc: boolean, m: Meter): Promise<StepSeries[]> {
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

/** A string literal argument. */
export function stringArg(e: Expr): string {
  if (e.kind === 'string') return e.value;
  if (e.kind === 'paren') return stringArg(e.expr);
  throw new ExecError('expected a string literal');
}

function unparen(e: Expr): Expr {
  return e.kind === 'paren' ? unparen(e.expr) : e;
}
