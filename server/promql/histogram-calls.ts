/**
 * histogram_quantile, histogram_quantiles and histogram_fraction over classic histograms: bucket
 * series grouped by their labels but `le`, one value per histogram and step (functions.ts'
 * bucketQuantile and bucketFraction), with Prometheus' warnings and infos.
 */
import type { Call, Expr } from './ast.js';
import { stringArg } from './calls.js';
import type { Evaluator } from './call.js';
import { bucketFraction, bucketQuantile, type Bucket } from './functions.js';
import { formatG } from './annotations.js';
import { allocSeries, labelsKey, mergeSameLabels, sameLabelset, withoutName, type EvalValue, type Grid, type StepSeries } from './matrix.js';
import type { Labels } from './types.js';

interface BucketGroup {
  /** Output labels: the bucket series' labels without `le` and the name. */
  labels: Labels;
  name: string;
  buckets: { upper: number; s: StepSeries }[];
}

export async function histogramQuantile(ev: Evaluator, e: Call, g: Grid): Promise<EvalValue> {
  const q = await ev.scalar(e.args[0], g);
  ev.checkQuantile(q, e.args[0]);
  const groups = await bucketGroups(ev, await ev.vector(e.args[1], g), e.args[1]);
  return { type: 'vector', series: await perHistogram(ev, groups, g.n, (grp) => grp.labels, (b, i, grp) => quantileOf(ev, q[i], b, grp, e.args[1])) };
}

/** histogram_quantiles(v, label, φ...): one series per histogram and φ, the φ in `label`. */
export async function histogramQuantiles(ev: Evaluator, e: Call, g: Grid): Promise<EvalValue> {
  const label = stringArg(e.args[1]);
  const qs: Float64Array[] = [];
  for (const a of e.args.slice(2)) {
    const q = await ev.scalar(a, g);
    ev.checkQuantile(q, a);
    qs.push(q);
  }
  const groups = await bucketGroups(ev, await ev.vector(e.args[0], g), e.args[0]);
  const out: StepSeries[] = [];
  for (const q of qs) {
    // The label holds the φ of the first step (φ is a constant in practice), in OpenMetrics form.
    const value = openMetricsFloat(q[0]);
    out.push(...(await perHistogram(ev, groups, g.n, (grp) => ({ ...grp.labels, [label]: value }), (b, i, grp) => quantileOf(ev, q[i], b, grp, e.args[0]))));
  }
  return { type: 'vector', series: await mergeSameLabels(out, sameLabelset, ev.m) };
}

export async function histogramFraction(ev: Evaluator, e: Call, g: Grid): Promise<EvalValue> {
  const lower = await ev.scalar(e.args[0], g);
  const upper = await ev.scalar(e.args[1], g);
  const groups = await bucketGroups(ev, await ev.vector(e.args[2], g), e.args[2]);
  return { type: 'vector', series: await perHistogram(ev, groups, g.n, (grp) => grp.labels, (b, i) => bucketFraction(lower[i], upper[i], b)) };
}

/**
 * Classic histograms in a vector: bucket series grouped by their labels but `le` (the name
 * included, as Prometheus groups them); the output labels drop the name, so two histograms
 * that differ only by name collide afterwards. A missing or malformed `le` is a warning.
 */
async function bucketGroups(ev: Evaluator, input: StepSeries[], arg: Expr): Promise<BucketGroup[]> {
  const groups = new Map<string, BucketGroup>();
  for (const s of input) {
    if (ev.m.tick(16)) await ev.m.pause();
    const le = s.labels.le;
    const upper = le === undefined ? NaN : parseLe(le);
    if (Number.isNaN(upper)) {
      const name = s.labels.__name__ ? ` for metric name ${JSON.stringify(s.labels.__name__)}` : '';
      ev.ctx.notes?.warn(`bucket label "le" is missing or has a malformed value of ${JSON.stringify(le ?? '')}${name}`, arg.pos);
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
async function perHistogram(
  ev: Evaluator,
  groups: BucketGroup[],
  n: number,
  labels: (g: BucketGroup) => Labels,
  fn: (b: Bucket[], i: number, g: BucketGroup) => number,
): Promise<StepSeries[]> {
  const out: StepSeries[] = [];
  for (const grp of groups) {
    const r = allocSeries(labels(grp), n, ev.m);
    let any = false;
    for (let i = 0; i < n; i++) {
      if (ev.m.tick(4 * grp.buckets.length)) await ev.m.pause();
      const buckets: Bucket[] = [];
      for (const b of grp.buckets) if (b.s.has[i]) buckets.push({ upper: b.upper, count: b.s.v[i] });
      if (buckets.length === 0) continue;
      r.v[i] = fn(buckets, i, grp);
      r.has[i] = 1;
      any = true;
    }
    if (any) out.push(r);
  }
  return mergeSameLabels(out, sameLabelset, ev.m);
}

/** bucketQuantile, with Prometheus' info when decreasing bucket counts had to be flattened. */
function quantileOf(ev: Evaluator, q: number, buckets: Bucket[], g: BucketGroup, arg: Expr): number {
  const out = { forced: false };
  const v = bucketQuantile(q, buckets, out);
  if (out.forced) {
    const name = g.name ? ` for metric name ${JSON.stringify(g.name)}` : '';
    ev.ctx.notes?.info(
      `input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)${name}`,
      arg.pos,
    );
  }
  return v;
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
