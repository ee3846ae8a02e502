/**
 * Heroic's query request (QueryMetrics: range, filter, aggregation or aggregators, features,
 * options.bucketStrategy) to an answer in Heroic's QueryMetricsResponse shape. The range is
 * prepared as CoreQueryManager prepares it: the default size from the range (the largest of
 * Heroic's interval factors below range / 240), then with the shift_range feature (on by default)
 * rounded down to the cadence and moved back a whole number of cadences when its end is within
 * 10 s of now, so the newest bucket is complete.
 */
import { randomUUID } from 'node:crypto';
import { FilterError, filterSql } from '../series/heroic-filter.js';
import { matchingSeries } from '../series/catalog.js';
import type { Store } from '../store/index.js';
import { MetronomeError } from '../errors.js';
import { cadenceOf, parseAggregation, RequestProblem, timeUnitMs, type Aggregation } from './aggregation.js';
import type { BucketStrategy } from './buckets.js';
import { evaluate, type Group } from './evaluate.js';

const FEATURES = [
  'com.spotify.heroic.deterministic_aggregations',
  'com.spotify.heroic.distributed_aggregations',
  'com.spotify.heroic.shift_range',
  'com.spotify.heroic.sliced_data_fetch',
  'com.spotify.heroic.end_bucket_stategy',
  'com.spotify.heroic.cache_query',
  'com.spotify.heroic.metadata.live_cursor',
];
const DEFAULT_FEATURES = ['com.spotify.heroic.shift_range', 'com.spotify.heroic.end_bucket_stategy', 'com.spotify.heroic.sliced_data_fetch'];
const SHIFT_TOLERANCE_MS = 10_000;
const INTERVAL_GOAL = 240;
const INTERVAL_FACTORS = [
  1, 5, 10, 50, 100, 250, 500, 1000, 5000, 10_000, 15_000, 30_000, 60_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000,
  43_200_000, 86_400_000, 172_800_000, 259_200_000, 604_800_000, 1_209_600_000,
];

export interface HeroicQuery {
  range: { start: number; end: number };
  filter: unknown;
  aggregation?: Aggregation;
  features: Set<string>;
  strategy?: BucketStrategy;
}

/** Check a QueryMetrics body; `field` prefixes the names in errors (`queries.A`). */
export function parseQuery(body: unknown, field: string, now: number, batchRange?: unknown): HeroicQuery {
  const at = (f: string) => (field ? `${field}.${f}` : f);
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new RequestProblem(field || 'body', 'expected a JSON object (QueryMetrics)');
  const o = body as Record<string, unknown>;
  if (typeof o.query === 'string') throw new RequestProblem(at('query'), 'HQL query strings are not supported; send filter, range and aggregation as JSON');
  const range = queryRange(o.range ?? batchRange, at('range'), now);
  let filter: unknown = o.filter ?? ['true'];
  // Legacy QueryMetrics: key and tags become a filter.
  if ((o.key !== undefined || o.tags !== undefined) && o.filter === undefined) {
    const parts: unknown[] = [];
    if (typeof o.key === 'string') parts.push(['key', o.key]);
    if (o.tags && typeof o.tags === 'object') for (const [k, v] of Object.entries(o.tags)) parts.push(['=', k, String(v)]);
    filter = ['and', ...parts];
  }
  try {
    filterSql(filter, at('filter'));
  } catch (e) {
    if (e instanceof FilterError) throw new RequestProblem(e.path, e.reason);
    throw e;
  }
  let aggregation: Aggregation | undefined;
  if (o.aggregation !== undefined && o.aggregation !== null) aggregation = parseAggregation(o.aggregation, at('aggregation'));
  else if (Array.isArray(o.aggregators) && o.aggregators.length > 0) aggregation = parseAggregation(o.aggregators, at('aggregators'));
  else if (o.aggregators !== undefined && o.aggregators !== null && !Array.isArray(o.aggregators)) throw new RequestProblem(at('aggregators'), 'expected a list of aggregations');
  const features = new Set(DEFAULT_FEATURES);
  if (o.features !== undefined && o.features !== null) {
    if (!Array.isArray(o.features)) throw new RequestProblem(at('features'), 'expected a list of feature names');
    o.features.forEach((f, i) => {
      const name = typeof f === 'string' && f.startsWith('-') ? f.slice(1) : f;
      if (typeof name !== 'string' || !FEATURES.includes(name)) throw new RequestProblem(at(`features[${i}]`), `unknown feature ${JSON.stringify(f)}; known: ${FEATURES.join(', ')} (prefix - to disable)`);
      if ((f as string).startsWith('-')) features.delete(name);
      else features.add(name);
    });
  }
  let strategy: BucketStrategy | undefined;
  const opts = o.options as Record<string, unknown> | undefined;
  if (opts && typeof opts === 'object' && opts.bucketStrategy !== undefined && opts.bucketStrategy !== null) {
    if (opts.bucketStrategy !== 'start' && opts.bucketStrategy !== 'end') throw new RequestProblem(at('options.bucketStrategy'), 'expected "start" or "end"');
    strategy = opts.bucketStrategy;
  }
  return { range, filter, aggregation, features, strategy };
}

/** QueryDateRange: absolute {start, end} in ms or relative {unit, value} back from now. Required. */
function queryRange(r: unknown, field: string, now: number): { start: number; end: number } {
  if (r === undefined || r === null) throw new RequestProblem(field, 'a range is required, e.g. {"type": "relative", "unit": "HOURS", "value": 1}');
  if (typeof r !== 'object' || Array.isArray(r)) throw new RequestProblem(field, 'expected an object');
  const o = r as Record<string, unknown>;
  if (o.type === 'absolute') {
    if (typeof o.start !== 'number' || !Number.isFinite(o.start)) throw new RequestProblem(`${field}.start`, 'expected unix ms');
    if (typeof o.end !== 'number' || !Number.isFinite(o.end)) throw new RequestProblem(`${field}.end`, 'expected unix ms');
    if (o.end <= o.start) throw new RequestProblem(`${field}.end`, 'end must be after start');
    return { start: Math.floor(o.start), end: Math.floor(o.end) };
  }
  if (o.type === 'relative') {
    const unit = timeUnitMs(o.unit ?? 'DAYS', `${field}.unit`);
    if (typeof o.value !== 'number' || !Number.isFinite(o.value) || o.value <= 0) throw new RequestProblem(`${field}.value`, 'expected a positive number');
    return { start: now - Math.floor(o.value * unit), end: now };
  }
  throw new RequestProblem(`${field}.type`, 'expected "absolute" or "relative"');
}

/** CoreQueryManager.cadenceFromRange: the largest interval factor below range / 240. */
export function cadenceFromRange(diff: number): number {
  const nominal = Math.floor(diff / INTERVAL_GOAL);
  let best = -1;
  for (const f of INTERVAL_FACTORS) if (f < nominal) best = f;
  return best > 0 ? best : Math.max(nominal, 1);
}

/** CoreQueryManager.buildShiftedRange. */
export function shiftedRange(raw: { start: number; end: number }, cadence: number, now: number, field: string) {
  if (raw.start > now) throw new RequestProblem(`${field}.start`, 'start is after now');
  const rounded = cadence > 0 ? { start: raw.start - (raw.start % cadence), end: raw.end - (raw.end % cadence) } : { ...raw };
  const nowDelta = now - rounded.end;
  if (nowDelta > SHIFT_TOLERANCE_MS) return rounded;
  const diff = Math.abs(Math.min(nowDelta, 0)) + SHIFT_TOLERANCE_MS;
  const shift = cadence <= 0 ? diff : Math.ceil(diff / cadence) * cadence;
  return { start: Math.max(0, rounded.start - shift), end: Math.max(0, rounded.end - shift) };
}

export interface RunLimits {
  maxSeries: number;
  maxBuckets: number;
  maxSamples: number;
  timeoutMs: number;
  /** ClickHouse's max_memory_usage for each read (MAX_QUERY_BYTES). */
  maxBytes: number;
}

/** Run a checked query and answer in Heroic's QueryMetricsResponse shape. */
export async function runQuery(store: Store, q: HeroicQuery, limits: RunLimits, now: number, field: string, signal?: AbortSignal) {
  const t0 = performance.now();
  const defaultSize = cadenceFromRange(q.range.end - q.range.start);
  const cadence = cadenceOf(q.aggregation, defaultSize);
  const range = q.features.has('com.spotify.heroic.shift_range') ? shiftedRange(q.range, cadence, now, field ? `${field}.range` : 'range') : q.range;
  const strategy = q.strategy ?? (q.features.has('com.spotify.heroic.end_bucket_stategy') ? 'end' : 'start');
  const series = await matchingSeries(store, { filter: q.filter, range, limit: limits.maxSeries + 1 }, { signal });
  if (series.length > limits.maxSeries) throw new MetronomeError('MTR_QUERY_TOO_MANY_SERIES', [limits.maxSeries]);
  const ctx = {
    store,
    range,
    strategy,
    defaultSize,
    maxBuckets: limits.maxBuckets,
    maxSamples: limits.maxSamples,
    signal,
    settings: { max_execution_time: Math.max(1, Math.ceil(limits.timeoutMs / 1000)), max_memory_usage: limits.maxBytes },
    field: field ? `${field}.aggregation` : 'aggregation',
    sampleSize: 0,
  };
  const groups = await evaluate(ctx, series, q.aggregation);
  return format(groups, range, cadence, ctx.sampleSize, Math.round((performance.now() - t0) * 1000));
}

/** Heroic's QueryMetricsResponseSerializer: key when all series share one, tags with one value, tagCounts for the rest. */
function format(groups: Group[], range: { start: number; end: number }, cadence: number, sampleSize: number, elapsedUs: number) {
  const result = groups.map((g) => {
    const keys = new Set(g.series.map((s) => s.key));
    const values = new Map<string, Set<string>>();
    for (const s of g.series) for (const [k, v] of Object.entries(s.tags)) (values.get(k) ?? values.set(k, new Set()).get(k)!).add(v);
    const tags: Record<string, string> = {};
    const tagCounts: Record<string, number> = {};
    for (const [k, vs] of [...values].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (vs.size === 1) tags[k] = [...vs][0];
      else tagCounts[k] = vs.size;
    }
    return {
      type: 'points',
      hash: hashOf(g),
      shard: {},
      cadence,
      values: g.points,
      key: keys.size === 1 ? [...keys][0] : null,
      tags,
      tagCounts,
      resource: {},
      resourceCounts: {},
    };
  });
  // commonTags: tags every group has, with all their values.
  let common: Map<string, Set<string>> | undefined;
  for (const g of groups) {
    const mine = new Map<string, Set<string>>();
    for (const s of g.series) for (const [k, v] of Object.entries(s.tags)) (mine.get(k) ?? mine.set(k, new Set()).get(k)!).add(v);
    if (!common) common = mine;
    else for (const k of [...common.keys()]) (mine.has(k) ? mine.get(k)!.forEach((v) => common!.get(k)!.add(v)) : common.delete(k));
  }
  const commonTags: Record<string, string[]> = {};
  for (const [k, vs] of [...(common ?? new Map<string, Set<string>>())].sort(([a], [b]) => (a < b ? -1 : 1))) commonTags[k] = [...vs].sort();
  return {
    queryId: randomUUID(),
    range,
    trace: { what: { name: 'com.spotify.heroic.CoreQueryManager#query' }, elapsed: elapsedUs, children: [] },
    limits: [],
    cached: false,
    cache: null,
    commonTags,
    commonResource: {},
    result,
    preAggregationSampleSize: sampleSize,
    errors: [],
  };
}

/** A stable hex id of a group's key (Heroic: hashGroup), for clients that key panels by it. */
function hashOf(g: Group): string {
  let h = 0x811c9dc5;
  const text = JSON.stringify(Object.entries(g.key).sort()) + g.series.map((s) => s.id).join(',');
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16);
}
