/**
 * Step matrices: what the evaluator passes between nodes. A query is evaluated at every step
 * of a grid (one step for an instant query); an instant vector becomes a list of series, each
 * with one value slot per step and a presence flag (a series absent at a step has has[i] = 0;
 * NaN is a value like any other).
 */
import { COST, labelsBytes, type Meter } from './budget.js';
import { ExecError, type Labels } from './types.js';

/** Evaluation times: start, start + step, ... (n steps), unix ms. */
export interface Grid {
  start: number;
  step: number;
  n: number;
}

export interface StepSeries {
  labels: Labels;
  v: Float64Array;
  has: Uint8Array;
}

/** Raw samples of one series in a window, ascending by time. */
export interface SampleSeries {
  labels: Labels;
  t: number[];
  v: number[];
}

export type EvalValue =
  | { type: 'scalar'; v: Float64Array }
  | { type: 'string'; s: string }
  | { type: 'vector'; series: StepSeries[] }
  /** Only as the result of an instant query of a range selector or subquery. */
  | { type: 'matrix'; series: SampleSeries[] };

export function gridTime(g: Grid, i: number): number {
  return g.start + i * g.step;
}

export function newSeries(labels: Labels, n: number): StepSeries {
  return { labels, v: new Float64Array(n), has: new Uint8Array(n) };
}

/** newSeries, charged to the query's budget first (n step values, the series, its labels). */
export function allocSeries(labels: Labels, n: number, m: Meter): StepSeries {
  m.hold(n, COST.series + COST.step * n + labelsBytes(labels));
  return newSeries(labels, n);
}

/** A stable identity for a label set (sorted name/value pairs). */
export function labelsKey(labels: Labels): string {
  const names = Object.keys(labels).sort();
  let out = '';
  for (const n of names) out += `${n}\xff${labels[n]}\xfe`;
  return out;
}

/** Prometheus' `{a="b", c="d"}` rendering, for error messages. */
export function labelsString(labels: Labels): string {
  const names = Object.keys(labels).sort();
  return `{${names.map((n) => `${n}=${JSON.stringify(labels[n])}`).join(', ')}}`;
}

/** Prometheus' error for two series with the same labels in one vector (mergeSameLabels' onClash). */
export const sameLabelset = (l: Labels) => new ExecError(`vector cannot contain metrics with the same labelset ${labelsString(l)}`);

export function withoutName(labels: Labels): Labels {
  if (!('__name__' in labels) && !('__type__' in labels) && !('__unit__' in labels)) return labels;
  // __type__ and __unit__ (Prometheus 3's type-and-unit labels) describe the metric name and go with it.
  const { __name__: _name, __type__: _type, __unit__: _unit, ...rest } = labels;
  return rest;
}

/** Drop labels with empty values: Prometheus treats an empty label as absent. */
export function cleanLabels(labels: Labels): Labels {
  for (const k in labels) {
    if (labels[k] === '') {
      const out: Labels = {};
      for (const n in labels) if (labels[n] !== '') out[n] = labels[n];
      return out;
    }
  }
  return labels;
}

/**
 * Merge series that share a label set (after the metric name was dropped, say). They may
 * share it only if they never hold a value at the same step: Prometheus' "vector cannot
 * contain metrics with the same labelset". `onClash` builds the error.
 */
export async function mergeSameLabels(series: StepSeries[], onClash: (labels: Labels) => Error, m: Meter): Promise<StepSeries[]> {
  const byKey = new Map<string, StepSeries>();
  const out: StepSeries[] = [];
  for (const s of series) {
    const k = labelsKey(s.labels);
    // Building and hashing the key reads every label character.
    if (m.tick(1 + (k.length >> 4))) await m.pause();
    const prev = byKey.get(k);
    if (!prev) {
      byKey.set(k, s);
      out.push(s);
      continue;
    }
    if (m.tick(s.has.length)) await m.pause();
    for (let i = 0; i < s.has.length; i++) {
      if (!s.has[i]) continue;
      if (prev.has[i]) throw onClash(s.labels);
      prev.has[i] = 1;
      prev.v[i] = s.v[i];
    }
  }
  return out;
}

/** Repeat a single-step series over n steps (for `@` evaluated once). */
export function broadcast(s: StepSeries, n: number, m: Meter): StepSeries {
  const out = allocSeries(s.labels, n, m);
  if (s.has[0]) {
    out.has.fill(1);
    out.v.fill(s.v[0]);
  }
  return out;
}

/** Parse a ClickHouse JSON float (nan/inf arrive quoted with output_format_json_quote_denormals). */
export function chFloat(x: unknown): number {
  if (typeof x === 'number') return x;
  if (x === 'nan' || x === '-nan') return NaN;
  if (x === 'inf' || x === '+inf') return Infinity;
  if (x === '-inf') return -Infinity;
  return Number(x);
}

/** Prometheus' label order: pairwise by name, then value. */
function compareLabels(a: Labels, b: Labels): number {
  const an = Object.keys(a).sort();
  const bn = Object.keys(b).sort();
  for (let i = 0; i < Math.min(an.length, bn.length); i++) {
    if (an[i] !== bn[i]) return an[i] < bn[i] ? -1 : 1;
    const av = a[an[i]];
    const bv = b[bn[i]];
    if (av !== bv) return av < bv ? -1 : 1;
  }
  return an.length - bn.length;
}

/** The key answers are ordered by (see sortByLabelOrder): sorted name/value pairs, as one string. */
export function labelOrderKey(labels: Labels): string {
  const names = Object.keys(labels).sort();
  let k = '';
  for (const n of names) k += `${n}\x00${labels[n]}\x01`;
  return k;
}

/**
 * Sort in compareLabels' order by one key string per label set (names and values joined with
 * \x00 and \x01, which order before any other character, so the order is the same for labels
 * without those two characters): comparing 20,000 six-label series this way took 82 ms against
 * 455 ms for compareLabels, on the shared 2-core VM. The keys are charged to `m` while sorting.
 */
export async function sortByLabelOrder<T extends { labels: Labels }>(items: T[], m: Meter): Promise<T[]> {
  const keyed: { item: T; k: string }[] = [];
  for (const item of items) {
    const k = labelOrderKey(item.labels);
    m.hold(0, COST.char * k.length);
    keyed.push({ item, k });
    if (m.tick(8 + (k.length >> 4))) await m.pause();
  }
  const sorted = await sortAsync(keyed, (x, y) => (x.k < y.k ? -1 : x.k > y.k ? 1 : compareLabels(x.item.labels, y.item.labels)), m);
  return sorted.map((x) => x.item);
}

/**
 * A stable sort that yields to the event loop: runs of 512 sorted by Array.sort, then merged
 * pairwise with a tick per merge. Array.sort cannot be paused; 20,000 series by label key take
 * 36-66 ms natively and 63-171 ms here (five runs each on the shared 2-core VM), never more
 * than a few ms without a yield. Returns a new array.
 */
export async function sortAsync<T>(items: readonly T[], cmp: (a: T, b: T) => number, m: Meter): Promise<T[]> {
  const RUN = 512;
  if (items.length <= RUN) return items.slice().sort(cmp);
  // Runs sorted natively (stable in V8), then merged pairwise.
  let src: T[] = [];
  for (let lo = 0; lo < items.length; lo += RUN) {
    const run = items.slice(lo, lo + RUN).sort(cmp);
    for (const x of run) src.push(x);
    if (m.tick(16 * run.length)) await m.pause();
  }
  let dst = new Array<T>(src.length);
  for (let width = RUN; width < src.length; width *= 2) {
    for (let lo = 0; lo < src.length; lo += 2 * width) {
      const mid = Math.min(lo + width, src.length);
      const hi = Math.min(lo + 2 * width, src.length);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) dst[k++] = cmp(src[j], src[i]) < 0 ? src[j++] : src[i++];
      while (i < mid) dst[k++] = src[i++];
      while (j < hi) dst[k++] = src[j++];
      if (m.tick(4 * (hi - lo))) await m.pause();
    }
    [src, dst] = [dst, src];
  }
  return src;
}
