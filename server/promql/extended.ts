/**
 * Prometheus 3's `anchored` and `smoothed` range modifiers, over one series' raw samples (times
 * ascending). `anchored`: a window also takes the last sample at or before its start as its
 * start value (no extrapolation). `smoothed`: values at both window edges are interpolated from
 * the samples around them, and `x smoothed` interpolates an instant vector at each step. As in
 * Prometheus' extendedRate, extendFloats, pickFirstSampleIndices and smoothSeries.
 */
import { ExecError } from './types.js';

/** Functions each modifier may be used with (Prometheus' AnchoredSafeFunctions, SmoothedSafeFunctions). */
const ANCHORED_FUNCTIONS: ReadonlySet<string> = new Set(['changes', 'delta', 'increase', 'rate', 'resets']);
const SMOOTHED_FUNCTIONS: ReadonlySet<string> = new Set(['delta', 'increase', 'rate']);

/** Refuse a function the modifier would give wrong answers with, naming those allowed. */
export function checkModifier(func: string, mod: 'anchored' | 'smoothed'): void {
  const allowed = mod === 'anchored' ? ANCHORED_FUNCTIONS : SMOOTHED_FUNCTIONS;
  if (!allowed.has(func)) throw new ExecError(`${mod} modifier can only be used with: ${[...allowed].sort().join(', ')} - not with ${func}`);
}

/** Samples of one series: t[lo..hi) is what a window reads. */
export interface Span {
  t: ArrayLike<number>;
  v: ArrayLike<number>;
  lo: number;
  hi: number;
}

/** Linear interpolation at t; for a counter, a drop counts from 0. */
function interpolate(t1: number, y1: number, t2: number, y2: number, t: number, counter: boolean): number {
  const a = counter && y2 < y1 ? 0 : y1;
  return a + ((y2 - a) * (t - t1)) / (t2 - t1);
}

/** First index in [lo, hi) whose time satisfies pred (times ascending), else hi. */
function search(s: Span, lo: number, hi: number, pred: (t: number) => boolean): number {
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (pred(s.t[mid])) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * rate, increase or delta over an anchored or smoothed window (rangeStart, rangeEnd]. `s` holds
 * the samples from one lookback before the window's start (and, smoothed, to one after its end).
 */
export function extendedRate(s: Span, rangeStart: number, rangeEnd: number, rangeSeconds: number, smoothed: boolean, counter: boolean, perSecond: boolean): number | undefined {
  if (s.hi === s.lo) return undefined;
  let last = s.hi - 1;
  let first = Math.max(s.lo, search(s, s.lo, last, (t) => t > rangeStart) - 1);
  if (smoothed) last = search(s, s.lo, last, (t) => t >= rangeEnd);
  if (s.t[last] <= rangeStart) return undefined;
  if (smoothed && s.t[first] > rangeEnd) return undefined;
  const left = smoothed && s.t[first] < rangeStart ? interpolate(s.t[first], s.v[first], s.t[first + 1], s.v[first + 1], rangeStart, counter) : s.v[first];
  const right = smoothed && last > s.lo && s.t[last] > rangeEnd ? interpolate(s.t[last - 1], s.v[last - 1], s.t[last], s.v[last], rangeEnd, counter) : s.v[last];
  let result = right - left;
  if (counter) {
    // Drops inside the window; the edges already count a drop in their interpolation.
    if (s.t[first] <= rangeStart) first++;
    if (s.t[last] >= rangeEnd) last--;
    let prev = left;
    let correction = 0;
    for (let i = first; i <= last; i++) {
      if (s.v[i] < prev) correction += prev;
      prev = s.v[i];
    }
    if (right < prev) correction += prev;
    result += correction;
  }
  return perSecond ? result / rangeSeconds : result;
}

/**
 * changes or resets over an anchored window: the last sample at or before the window's start is
 * its first value; nothing when no sample lies inside the window.
 */
export function anchoredCount(s: Span, rangeStart: number, resets: boolean): number | undefined {
  const after = search(s, s.lo, s.hi, (t) => t > rangeStart);
  if (after >= s.hi) return undefined;
  const first = Math.max(s.lo, after - 1);
  let n = 0;
  for (let i = first + 1; i < s.hi; i++) {
    const a = s.v[i - 1];
    const b = s.v[i];
    if (resets ? b < a : !(a === b || (Number.isNaN(a) && Number.isNaN(b)))) n++;
  }
  return n;
}

/**
 * A bare anchored or smoothed range selector's samples (instant query): the window's own
 * samples between a start value at rangeStart and an end value at rangeEnd.
 */
export function extendWindow(s: Span, rangeStart: number, rangeEnd: number, smoothed: boolean): { t: number[]; v: number[] } {
  if (s.hi === s.lo) return { t: [], v: [] };
  let last = s.hi - 1;
  let first = Math.max(s.lo, search(s, s.lo, last, (t) => t > rangeStart) - 1);
  if (smoothed) last = search(s, s.lo, last, (t) => t >= rangeEnd);
  if (s.t[last] <= rangeStart) return { t: [], v: [] };
  const left = smoothed && s.t[first] < rangeStart ? interpolate(s.t[first], s.v[first], s.t[first + 1], s.v[first + 1], rangeStart, false) : s.v[first];
  const right = smoothed && last > s.lo && s.t[last] > rangeEnd ? interpolate(s.t[last - 1], s.v[last - 1], s.t[last], s.v[last], rangeEnd, false) : s.v[last];
  if (s.t[first] <= rangeStart) first++;
  if (s.t[last] >= rangeEnd) last--;
  const t = [rangeStart];
  const v = [left];
  for (let i = first; i <= last; i++) {
    t.push(s.t[i]);
    v.push(s.v[i]);
  }
  t.push(rangeEnd);
  v.push(right);
  return { t, v };
}

/**
 * `x smoothed` at data time `at`: the sample there, else interpolated between the samples around
 * it, else the last one before it; s holds the samples within one lookback of `at`.
 */
export function smoothedValue(s: Span, at: number): number | undefined {
  const i = search(s, s.lo, s.hi, (t) => t >= at);
  if (i < s.hi && s.t[i] === at) return s.v[i];
  if (i > s.lo && i < s.hi) return interpolate(s.t[i - 1], s.v[i - 1], s.t[i], s.v[i], at, false);
  if (i > s.lo) return s.v[i - 1];
  return undefined;
}
