/**
 * Step matrices: what the evaluator passes between nodes. A query is evaluated at every step
 * of a grid (one step for an instant query); an instant vector becomes a list of series, each
 * with one value slot per step and a presence flag (a series absent at a step has has[i] = 0;
 * NaN is a value like any other).
 */
import type { Labels } from './types.js';

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

export function withoutName(labels: Labels): Labels {
  if (!('__name__' in labels)) return labels;
  const { __name__: _drop, ...rest } = labels;
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

/** True when a series has at least one value on the grid. */
export function anyPresent(s: StepSeries): boolean {
  for (let i = 0; i < s.has.length; i++) if (s.has[i]) return true;
  return false;
}

/**
 * Merge series that share a label set (after the metric name was dropped, say). They may
 * share it only if they never hold a value at the same step: Prometheus' "vector cannot
 * contain metrics with the same labelset". `onClash` builds the error.
 */
export function mergeSameLabels(series: StepSeries[], onClash: (labels: Labels) => Error): StepSeries[] {
  const byKey = new Map<string, StepSeries>();
  const out: StepSeries[] = [];
  for (const s of series) {
    const k = labelsKey(s.labels);
    const prev = byKey.get(k);
    if (!prev) {
      byKey.set(k, s);
      out.push(s);
      continue;
    }
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
export function broadcast(s: StepSeries, n: number): StepSeries {
  const out = newSeries(s.labels, n);
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
export function compareLabels(a: Labels, b: Labels): number {
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
