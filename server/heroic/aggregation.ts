/**
 * Heroic's aggregation JSON (aggregation/simple and heroic-component's Group, Chain) as a
 * typed tree. Every problem names the field it is in (`aggregation.each[0].sampling.value`).
 */
import { DurationSyntax, PROM_DURATION_UNITS } from '../time.js';

export class RequestProblem extends Error {
  override name = 'RequestProblem';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** Bucketed aggregations: one value per bucket from the points that fall in it. */
export const SAMPLING = ['sum', 'sum2', 'average', 'min', 'max', 'count', 'stddev', 'quantile'] as const;
export type SamplingKind = (typeof SAMPLING)[number];

/** A sampling aggregation; size/extent in ms, undefined where the request left them out. */
export interface SamplingAgg {
  type: SamplingKind;
  size?: number;
  extent?: number;
  /** quantile only: 0..1 (default 0.5). */
  q?: number;
}

export type Aggregation =
  | SamplingAgg
  | { type: 'empty' }
  | { type: 'group'; of: string[] | null; each: Aggregation }
  | { type: 'chain'; chain: Aggregation[] }
  | { type: 'topk' | 'bottomk'; k: number }
  | { type: 'abovek' | 'belowk'; k: number }
  | { type: 'pointsabove' | 'pointsbelow'; threshold: number }
  /** Point-wise over each group's points: differences, differences per second, negatives dropped. */
  | { type: 'delta' | 'deltaPerSecond' | 'notNegative' };

/**
 * Heroic's Duration as text: one term (`30s`, `5m`, `1H`, `1M` = 30 days) or a bare number of ms,
 * parsed by server/time.ts with Prometheus' units plus Heroic's `H` (hours) and `M` (months).
 */
const HEROIC_DURATION = new DurationSyntax({ ...PROM_DURATION_UNITS, H: 3_600_000, M: 2_592_000_000 }, { compound: false, bareUnitMs: 1 });

/** Heroic's TimeUtils.parseTimeUnit names (any case) and their ms. */
const TIME_UNITS: Record<string, number> = {
  MILLISECONDS: 1,
  MILLISECOND: 1,
  MS: 1,
  SECONDS: 1000,
  SECOND: 1000,
  S: 1000,
  MINUTES: 60_000,
  MINUTE: 60_000,
  M: 60_000,
  HOURS: 3_600_000,
  HOUR: 3_600_000,
  H: 3_600_000,
  DAYS: 86_400_000,
  DAY: 86_400_000,
  D: 86_400_000,
  WEEKS: 604_800_000,
  WEEK: 604_800_000,
  W: 604_800_000,
};

export function timeUnitMs(unit: unknown, field: string): number {
  if (typeof unit !== 'string' || !(unit.toUpperCase() in TIME_UNITS)) {
    throw new RequestProblem(field, `unknown time unit ${JSON.stringify(unit)}; use milliseconds, seconds, minutes, hours, days or weeks`);
  }
  return TIME_UNITS[unit.toUpperCase()];
}

/** Heroic's Duration: a number of ms, "30s"/"5m"/"1h", or {unit, value}. */
function durationMs(v: unknown, field: string): number {
  let ms: number;
  if (typeof v === 'number') ms = v;
  else if (typeof v === 'string') {
    const parsed = HEROIC_DURATION.parse(v.trim());
    if (parsed === null) throw new RequestProblem(field, `expected a duration like "30s", "5m", "1h" or a number of ms, got ${JSON.stringify(v)}`);
    ms = parsed;
  } else if (v && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    if (typeof o.value !== 'number') throw new RequestProblem(`${field}.value`, 'expected a number');
    ms = o.value * timeUnitMs(o.unit ?? 'MILLISECONDS', `${field}.unit`);
  } else throw new RequestProblem(field, 'expected a duration');
  if (!Number.isFinite(ms) || ms <= 0 || !Number.isInteger(ms)) throw new RequestProblem(field, `expected a positive whole number of ms, got ${ms}`);
  return ms;
}

function obj(v: unknown, field: string): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new RequestProblem(field, 'expected an object like {"type": "average"}');
  return v as Record<string, unknown>;
}

function num(v: unknown, field: string): number {
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new RequestProblem(field, 'expected a number');
  return v;
}

const KNOWN = [...SAMPLING, 'empty', 'group', 'chain', 'topk', 'bottomk', 'abovek', 'belowk', 'pointsabove', 'pointsbelow', 'delta', 'deltaPerSecond', 'notNegative'];

/** Parse one aggregation (an object, or a list meaning a chain, as `aggregators` is). */
export function parseAggregation(v: unknown, field: string): Aggregation {
  // A list is a chain (Chain.fromList); an empty one aggregates nothing.
  if (Array.isArray(v)) return v.length === 0 ? { type: 'empty' } : { type: 'chain', chain: v.map((a, i) => parseAggregation(a, `${field}[${i}]`)) };
  const o = obj(v, field);
  const type = o.type;
  switch (type) {
    case 'sum':
    case 'sum2':
    case 'average':
    case 'min':
    case 'max':
    case 'count':
    case 'stddev':
    case 'quantile': {
      const a: SamplingAgg = { type };
      // SamplingQuery: {unit, value, extent} with value and extent in `unit`; or size/extent durations.
      if (o.sampling !== undefined && o.sampling !== null) {
        const s = obj(o.sampling, `${field}.sampling`);
        const unit = s.unit === undefined ? 1 : timeUnitMs(s.unit, `${field}.sampling.unit`);
        const sized = s.value ?? s.size;
        if (sized !== undefined && sized !== null) {
          a.size = typeof sized === 'number' ? durationMs(sized * unit, `${field}.sampling.value`) : durationMs(sized, `${field}.sampling.value`);
        }
        if (s.extent !== undefined && s.extent !== null) {
          a.extent = typeof s.extent === 'number' ? durationMs(s.extent * unit, `${field}.sampling.extent`) : durationMs(s.extent, `${field}.sampling.extent`);
        }
      }
      if (o.size !== undefined && o.size !== null) a.size = durationMs(o.size, `${field}.size`);
      if (o.extent !== undefined && o.extent !== null) a.extent = durationMs(o.extent, `${field}.extent`);
      if (type === 'quantile') {
        a.q = o.q === undefined || o.q === null ? 0.5 : num(o.q, `${field}.q`);
        if (!(a.q >= 0 && a.q <= 1)) throw new RequestProblem(`${field}.q`, 'expected a quantile between 0 and 1');
      }
      return a;
    }
    case 'empty':
    case 'delta':
    case 'deltaPerSecond':
    case 'notNegative':
      return { type };
    case 'group': {
      let of: string[] | null = null;
      if (o.of !== undefined && o.of !== null) {
        if (!Array.isArray(o.of) || o.of.some((t) => typeof t !== 'string')) throw new RequestProblem(`${field}.of`, 'expected a list of tag names, or null for each series');
        of = o.of as string[];
      }
      if (o.each === undefined || o.each === null) return { type, of, each: { type: 'empty' } };
      const each = Array.isArray(o.each) ? (o.each.length === 1 ? parseAggregation(o.each[0], `${field}.each[0]`) : parseAggregation(o.each, `${field}.each`)) : parseAggregation(o.each, `${field}.each`);
      return { type, of, each };
    }
    case 'chain': {
      if (!Array.isArray(o.chain) || o.chain.length === 0) throw new RequestProblem(`${field}.chain`, 'expected a non-empty list of aggregations');
      return { type, chain: o.chain.map((a, i) => parseAggregation(a, `${field}.chain[${i}]`)) };
    }
    case 'topk':
    case 'bottomk': {
      const k = num(o.k, `${field}.k`);
      if (!Number.isInteger(k) || k < 0) throw new RequestProblem(`${field}.k`, 'expected a non-negative whole number');
      checkNoChild(o, field);
      return { type, k };
    }
    case 'abovek':
    case 'belowk':
      checkNoChild(o, field);
      return { type, k: num(o.k, `${field}.k`) };
    case 'pointsabove':
    case 'pointsbelow':
      return { type, threshold: num(o.threshold, `${field}.threshold`) };
    default:
      throw new RequestProblem(`${field}.type`, `unknown aggregation ${JSON.stringify(type)}; supported: ${KNOWN.join(', ')}`);
  }
}

/** Heroic's filter aggregations take `of` only as an empty placeholder (verifyNoChild). */
function checkNoChild(o: Record<string, unknown>, field: string): void {
  if (o.of === undefined || o.of === null) return;
  const of = obj(o.of, `${field}.of`);
  if (of.type !== 'empty') throw new RequestProblem(`${field}.of`, 'must be {"type": "empty"} or absent: chain the aggregation before it instead');
}

/** The answer's cadence as Heroic reports it: the sampling size that made the last buckets, or -1. */
export function cadenceOf(a: Aggregation | undefined, defaultSize: number): number {
  if (!a) return -1;
  switch (a.type) {
    case 'group':
      return cadenceOf(a.each, defaultSize);
    case 'chain': {
      // ChainInstance: the last non-negative cadence of its parts.
      let c = -1;
      for (const x of a.chain) {
        const n = cadenceOf(x, defaultSize);
        if (n >= 0) c = n;
      }
      return c;
    }
    case 'empty':
    case 'delta':
    case 'deltaPerSecond':
    case 'notNegative':
    case 'topk':
    case 'bottomk':
    case 'abovek':
    case 'belowk':
    case 'pointsabove':
    case 'pointsbelow':
      return -1;
    default:
      return a.size ?? defaultSize;
  }
}
