/**
 * Aggregation operators (sum, avg, topk, ...) over step matrices, per step, with Prometheus'
 * grouping (`by` keeps the listed labels, `without` drops them and the metric name).
 */
import type { AggregateOp } from './ast.js';
import { LABEL_NAME } from '../../ingest/names.js';
import { formatValue } from './format.js';
import { compensatedMean, quantile } from './functions.js';
import type { Meter } from './budget.js';
import { allocSeries, labelsKey, type StepSeries } from './matrix.js';
import type { Labels } from './types.js';
import { ExecError } from './types.js';

export interface AggregateSpec {
  op: AggregateOp;
  grouping: string[];
  without: boolean;
  /** Per-step scalar parameter (topk's k, quantile's φ), or count_values' label name. */
  param?: Float64Array | string;
}

/** The labels of the group a series falls into. */
function groupLabels(labels: Labels, grouping: string[], without: boolean): Labels {
  const out: Labels = {};
  if (without) {
    // `without` drops the metric name, and with it __type__ and __unit__ (they describe the name).
    for (const k in labels) if (k !== '__name__' && k !== '__type__' && k !== '__unit__' && !grouping.includes(k)) out[k] = labels[k];
  } else {
    for (const k of grouping) if (labels[k] !== undefined && labels[k] !== '') out[k] = labels[k];
  }
  return out;
}

interface Group {
  labels: Labels;
  members: StepSeries[];
}

async function groupSeries(input: StepSeries[], grouping: string[], without: boolean, meter: Meter): Promise<Group[]> {
  const groups = new Map<string, Group>();
  for (const s of input) {
    if (meter.tick(16)) await meter.pause();
    const labels = groupLabels(s.labels, grouping, without);
    const k = labelsKey(labels);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { labels, members: [] }));
    g.members.push(s);
  }
  return [...groups.values()];
}

/** Evaluate one aggregation over n steps; what it builds is charged to `meter`. */
export async function aggregate(spec: AggregateSpec, input: StepSeries[], n: number, meter: Meter): Promise<StepSeries[]> {
  const { op } = spec;
  if (op === 'count_values') return countValues(spec, input, n, meter);
  if (op === 'topk' || op === 'bottomk' || op === 'limitk' || op === 'limit_ratio') return selectK(spec, input, n, meter);
  const out: StepSeries[] = [];
  for (const g of await groupSeries(input, spec.grouping, spec.without, meter)) {
    const res = allocSeries(g.labels, n, meter);
    const vals: number[] = [];
    for (let i = 0; i < n; i++) {
      if (meter.tick(g.members.length)) await meter.pause();
      vals.length = 0;
      for (const m of g.members) if (m.has[i]) vals.push(m.v[i]);
      if (vals.length === 0) continue;
      const q = spec.param instanceof Float64Array ? spec.param[i] : NaN;
      res.v[i] = reduce(op, vals, q);
      res.has[i] = 1;
    }
    out.push(res);
  }
  return out;
}

function kahanSum(vals: number[]): number {
  let sum = 0;
  let c = 0;
  for (const x of vals) {
    const t = sum + x;
    if (!Number.isFinite(t)) {
      sum = t;
      c = 0;
      continue;
    }
    if (Math.abs(sum) >= Math.abs(x)) c += sum - t + x;
    else c += x - t + sum;
    sum = t;
  }
  return Number.isFinite(sum) ? sum + c : sum;
}

function reduce(op: AggregateOp, vals: number[], q: number): number {
  switch (op) {
    case 'sum':
      return kahanSum(vals);
    case 'avg':
      return compensatedMean(vals);
    case 'count':
      return vals.length;
    case 'group':
      return 1;
    case 'min': {
      let m = vals[0];
      for (const x of vals) if (m > x || Number.isNaN(m)) m = x;
      return m;
    }
    case 'max': {
      let m = vals[0];
      for (const x of vals) if (m < x || Number.isNaN(m)) m = x;
      return m;
    }
    case 'stdvar':
    case 'stddev': {
      let count = 0;
      let mean = 0;
      let aux = 0;
      for (const x of vals) {
        count++;
        const delta = x - mean;
        mean += delta / count;
        aux += delta * (x - mean);
      }
      const v = aux / count;
      return op === 'stddev' ? Math.sqrt(v) : v;
    }
    case 'quantile':
      return quantile(q, vals);
    default:
      throw new ExecError(`aggregation ${op} is not supported here`);
  }
}

/**
 * count_values: one output series per group and distinct value. Each is a full step series, so
 * many distinct values over many steps reach MAX_QUERY_SAMPLES quickly (charged as created).
 */
async function countValues(spec: AggregateSpec, input: StepSeries[], n: number, meter: Meter): Promise<StepSeries[]> {
  const label = spec.param as string;
  if (!LABEL_NAME.test(label)) throw new ExecError(`invalid label name ${JSON.stringify(label)}`);
  const out = new Map<string, StepSeries>();
  for (const g of await groupSeries(input, spec.grouping, spec.without, meter)) {
    const byValue = new Map<string, StepSeries>();
    for (let i = 0; i < n; i++) {
      // formatValue is the costly part: a few units per member.
      if (meter.tick(4 * g.members.length)) await meter.pause();
      const counts = new Map<string, number>();
      for (const m of g.members) {
        if (!m.has[i]) continue;
        const v = formatValue(m.v[i]);
        counts.set(v, (counts.get(v) ?? 0) + 1);
      }
      for (const [v, c] of counts) {
        let s = byValue.get(v);
        if (!s) {
          const labels = { ...g.labels, [label]: v };
          const k = labelsKey(labels);
          s = out.get(k);
          if (!s) {
            out.set(k, (s = allocSeries(labels, n, meter)));
            // A new series is n steps to allocate: thousands of new values in one step add up.
            if (meter.tick(n)) await meter.pause();
          }
          byValue.set(v, s);
        }
        s.v[i] = c;
        s.has[i] = 1;
      }
    }
  }
  return [...out.values()];
}

/** A stable 32-bit hash of a label set, for limit_ratio's sampling. */
function labelsHash(labels: Labels): number {
  const key = labelsKey(labels);
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * The k series topk (or bottomk) keeps at step i, chosen as Prometheus chooses them: a k-sized
 * heap fed in input order (label order for a selector), its least element evicted (heap.Pop,
 * then heap.Push of the newcomer) by a strictly better value or whenever it is NaN. Which of
 * equal values stay depends on those heap moves, so they are replicated step for step; checked
 * against a real Prometheus 2.42 on tied gauges (test/promql-oracle.test.ts). NaN ranks below
 * every number for both.
 */
export function heapSelect(members: readonly StepSeries[], k: number, i: number, top: boolean): StepSeries[] {
  const h: StepSeries[] = [];
  // less(a, b): a is evicted before b.
  const less = (a: number, b: number) => Number.isNaN(h[a].v[i]) || (top ? h[a].v[i] < h[b].v[i] : h[a].v[i] > h[b].v[i]);
  const swap = (a: number, b: number) => {
    const t = h[a];
    h[a] = h[b];
    h[b] = t;
  };
  const up = (j: number) => {
    while (j > 0) {
      const p = (j - 1) >> 1;
      if (!less(j, p)) break;
      swap(p, j);
      j = p;
    }
  };
  const down = (i0: number, n = h.length): boolean => {
    let j = i0;
    for (;;) {
      const l = 2 * j + 1;
      if (l >= n) break;
      const c = l + 1 < n && less(l + 1, l) ? l + 1 : l;
      if (!less(c, j)) break;
      swap(j, c);
      j = c;
    }
    return j > i0;
  };
  for (const m of members) {
    const x = m.v[i];
    if (h.length < k) {
      h.push(m);
      up(h.length - 1);
      continue;
    }
    const least = h[0].v[i];
    if (!((top ? least < x : least > x) || Number.isNaN(least))) continue;
    if (k === 1) {
      h[0] = m;
      continue;
    }
    // heap.Pop, then heap.Push.
    swap(0, h.length - 1);
    down(0, h.length - 1);
    h[h.length - 1] = m;
    up(h.length - 1);
  }
  return h;
}

/** topk, bottomk, limitk, limit_ratio: keep whole input series, selected per step. */
async function selectK(spec: AggregateSpec, input: StepSeries[], n: number, meter: Meter): Promise<StepSeries[]> {
  const param = spec.param as Float64Array;
  // Refused even over an empty vector, as Prometheus does.
  if (param.some(Number.isNaN)) throw new ExecError(spec.op === 'limit_ratio' ? 'Ratio value is NaN' : 'Parameter value is NaN');
  const selected = new Map<StepSeries, StepSeries>();
  let allocated = 0;
  const pick = (s: StepSeries, i: number) => {
    let o = selected.get(s);
    if (!o) {
      selected.set(s, (o = allocSeries(s.labels, n, meter)));
      allocated += n;
    }
    o.v[i] = s.v[i];
    o.has[i] = 1;
  };
  for (const g of await groupSeries(input, spec.grouping, spec.without, meter)) {
    for (let i = 0; i < n; i++) {
      // limit_ratio hashes every member's labels at every step; a first pick allocates n steps.
      if (meter.tick(allocated + (spec.op === 'limit_ratio' ? 16 * g.members.length : 2 * g.members.length))) await meter.pause();
      allocated = 0;
      const present = g.members.filter((m) => m.has[i]);
      if (present.length === 0) continue;
      if (spec.op === 'limit_ratio') {
        const r = param[i];
        if (Number.isNaN(r)) throw new ExecError('Ratio value is NaN');
        const ratio = Math.max(-1, Math.min(1, r));
        for (const m of present) {
          const x = labelsHash(m.labels) / 2 ** 32;
          if (ratio >= 0 ? x < ratio : x >= 1 + ratio) pick(m, i);
        }
        continue;
      }
      const kf = param[i];
      if (Number.isNaN(kf)) throw new ExecError('Parameter value is NaN');
      const k = Math.min(Math.trunc(Math.max(kf, -1e18)), present.length);
      if (k < 1) continue;
      if (spec.op === 'limitk') {
        present.slice(0, k).forEach((m) => pick(m, i));
        continue;
      }
      heapSelect(present, k, i, spec.op === 'topk').forEach((m) => pick(m, i));
    }
  }
  if (n === 1 && (spec.op === 'topk' || spec.op === 'bottomk')) return byValue(spec, input, selected, meter);
  // Keep input order for a stable output.
  return input.filter((s) => selected.has(s)).map((s) => selected.get(s)!);
}

/**
 * An instant topk/bottomk answers as Prometheus does: group by group (in order of first
 * appearance), each group's series by value, best first and NaN last; equal values keep input
 * order. Which series are kept is heapSelect's business; this only orders them.
 */
async function byValue(spec: AggregateSpec, input: StepSeries[], selected: Map<StepSeries, StepSeries>, meter: Meter): Promise<StepSeries[]> {
  const out: StepSeries[] = [];
  const top = spec.op === 'topk';
  for (const g of await groupSeries(input, spec.grouping, spec.without, meter)) {
    const kept = g.members.filter((m) => selected.has(m)).map((m) => selected.get(m)!);
    if (meter.tick(4 * kept.length)) await meter.pause();
    kept.sort((a, b) => {
      const x = a.v[0];
      const y = b.v[0];
      if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) ? (Number.isNaN(y) ? 0 : 1) : -1;
      return top ? y - x : x - y;
    });
    out.push(...kept);
  }
  return out;
}
