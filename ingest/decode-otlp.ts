import protobuf from 'protobufjs';
import { otlpLabelName } from './names.js';
import type { MetricMetadata, StaleMark } from './decode-remote-write.js';
import { DecodeBudget, DecodeLimitError, NO_DECODE_LIMITS, type DecodeLimits } from './decode-limits.js';
import { checkOtlpJson, checkOtlpPoint, checkOtlpProtobuf, checkOtlpResource } from './otlp-limits.js';
import { ProtoError, ProtoReader, utf8, WIRE_LEN, WIRE_VARINT } from './protobuf.js';
import { drain } from './slices.js';
import type { IssueList } from './validate.js';
import type { SeriesSamples, WriteBatch } from './types.js';

/**
 * OTLP/HTTP metrics (ExportMetricsServiceRequest), protobuf or JSON, mapped to Prometheus-style
 * series following OpenTelemetry's "Prometheus and OpenMetrics compatibility" rules:
 *
 * - names: characters outside [a-zA-Z0-9_:] become `_`, runs of `_` collapse, leading and
 *   trailing `_` go; the unit is appended as a word (`ms` -> `_milliseconds`, `By` ->
 *   `_bytes`, `By/s` -> `_bytes_per_second`, `{packets}` dropped, `1` -> `_ratio` on gauges)
 *   unless the name already contains it; cumulative monotonic sums get `_total`;
 * - gauges -> one series; cumulative sums -> counter (monotonic) or gauge (not monotonic);
 * - explicit-bucket histograms -> `<name>_bucket{le}` (cumulative counts, last `le="+Inf"`),
 *   `<name>_count` and `<name>_sum` (when the point has a sum); summaries -> `<name>{quantile}`,
 *   `<name>_count`, `<name>_sum`;
 * - data point attributes -> tags (invalid characters become `_`; two attributes that map to
 *   the same tag have their values joined with `;` in key order); resource attribute
 *   `service.name` -> tag `service`, `service.instance.id` -> tag `instance`; other resource
 *   and scope attributes are not stored;
 * - a point flagged "no recorded value" is Prometheus' staleness marker: returned in
 *   `staleMarks`, not stored.
 *
 * Not stored, and counted as rejected data points in the OTLP partial-success answer: delta
 * sums and delta histograms (converting them needs per-series running totals that would be lost
 * on restart; configure exporters with cumulative temporality), exponential histograms, and
 * non-finite values. Malformed points (bucket counts that do not fit the bounds) are issues:
 * the whole request is rejected, as for every protocol.
 *
 * Decoding uses protobufjs with the message definitions below, a subset of
 * opentelemetry-proto v1 (field numbers as upstream; unused fields such as exemplars left out,
 * which protobuf and the JSON mapping both skip).
 */
const PROTO = `
syntax = "proto3";
package otlp;
message AnyValue {
  oneof value {
    string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4;
    ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message Resource { repeated KeyValue attributes = 1; }
message InstrumentationScope { string name = 1; string version = 2; }
message ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
message ExportMetricsServiceResponse { ExportMetricsPartialSuccess partial_success = 1; }
message ExportMetricsPartialSuccess { int64 rejected_data_points = 1; string error_message = 2; }
message ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; }
message ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; }
message Metric {
  string name = 1; string description = 2; string unit = 3;
  oneof data {
    Gauge gauge = 5; Sum sum = 7; Histogram histogram = 9;
    ExponentialHistogram exponential_histogram = 10; Summary summary = 11;
  }
}
enum AggregationTemporality {
  AGGREGATION_TEMPORALITY_UNSPECIFIED = 0; AGGREGATION_TEMPORALITY_DELTA = 1; AGGREGATION_TEMPORALITY_CUMULATIVE = 2;
}
message Gauge { repeated NumberDataPoint data_points = 1; }
message Sum { repeated NumberDataPoint data_points = 1; AggregationTemporality aggregation_temporality = 2; bool is_monotonic = 3; }
message Histogram { repeated HistogramDataPoint data_points = 1; AggregationTemporality aggregation_temporality = 2; }
message ExponentialHistogram { repeated ExponentialHistogramDataPoint data_points = 1; AggregationTemporality aggregation_temporality = 2; }
message Summary { repeated SummaryDataPoint data_points = 1; }
message NumberDataPoint {
  repeated KeyValue attributes = 7; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  oneof value { double as_double = 4; sfixed64 as_int = 6; }
  uint32 flags = 8;
}
message HistogramDataPoint {
  repeated KeyValue attributes = 9; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  fixed64 count = 4; optional double sum = 5; repeated fixed64 bucket_counts = 6;
  repeated double explicit_bounds = 7; uint32 flags = 10;
}
message ExponentialHistogramDataPoint { repeated KeyValue attributes = 1; fixed64 time_unix_nano = 3; }
message ValueAtQuantile { double quantile = 1; double value = 2; }
message SummaryDataPoint {
  repeated KeyValue attributes = 7; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  fixed64 count = 4; double sum = 5; repeated ValueAtQuantile quantile_values = 6; uint32 flags = 8;
}
message Status { int32 code = 1; string message = 2; }
`;

const root = protobuf.parse(PROTO, { keepCase: false }).root;
const RequestType = root.lookupType('otlp.ExportMetricsServiceRequest');
const ResponseType = root.lookupType('otlp.ExportMetricsServiceResponse');
const StatusType = root.lookupType('otlp.Status');

const TEMPORALITY_DELTA = 1;
const TEMPORALITY_CUMULATIVE = 2;
const FLAG_NO_RECORDED_VALUE = 1;

// What protobufjs hands back: 64-bit integers are Long (protobuf) or Long/number/string (JSON).
type Int64 = protobuf.Long | number | string | null | undefined;
interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: Int64;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
  bytesValue?: Uint8Array;
}
interface KeyValue {
  key?: string;
  value?: AnyValue | null;
}
interface NumberPoint {
  attributes?: KeyValue[];
  timeUnixNano?: Int64;
  asDouble?: number;
  asInt?: Int64;
  flags?: number;
}
interface HistogramPoint {
  attributes?: KeyValue[];
  timeUnixNano?: Int64;
  count?: Int64;
  sum?: number | null;
  bucketCounts?: Int64[];
  explicitBounds?: number[];
  flags?: number;
}
interface SummaryPoint {
  attributes?: KeyValue[];
  timeUnixNano?: Int64;
  count?: Int64;
  sum?: number;
  quantileValues?: { quantile?: number; value?: number }[];
  flags?: number;
}
interface Metric {
  name?: string;
  description?: string;
  unit?: string;
  gauge?: { dataPoints?: NumberPoint[] };
  sum?: { dataPoints?: NumberPoint[]; aggregationTemporality?: number; isMonotonic?: boolean };
  histogram?: { dataPoints?: HistogramPoint[]; aggregationTemporality?: number };
  exponentialHistogram?: { dataPoints?: unknown[] };
  summary?: { dataPoints?: SummaryPoint[] };
}
interface Request {
  resourceMetrics?: {
    resource?: { attributes?: KeyValue[] } | null;
    scopeMetrics?: { metrics?: Metric[] }[];
  }[];
}

export interface OtlpResult {
  batch: WriteBatch;
  metadata: MetricMetadata[];
  staleMarks: StaleMark[];
  /** Per series of the batch, where its data point is in the request (to report issues). */
  origins: string[];
  /** Data points not stored, and why (for the partial-success answer). */
  rejected: number;
  rejectedReasons: string[];
}

export class OtlpDecodeError extends Error {
  override name = 'OtlpDecodeError';
}

/**
 * Parse a protobuf body. Throws OtlpDecodeError for bytes that are not a request, and
 * DecodeLimitError (before protobufjs allocates anything) for a request past `limits`.
 */
export function parseOtlpProtobuf(body: Uint8Array, limits: DecodeLimits = NO_DECODE_LIMITS): Request {
  if (limits !== NO_DECODE_LIMITS) {
    try {
      checkOtlpProtobuf(body, limits);
    } catch (e) {
      if (e instanceof ProtoError) throw new OtlpDecodeError(`protobuf: ${e.message}`);
      throw e;
    }
  }
  try {
    return RequestType.decode(body) as unknown as Request;
  } catch (e) {
    throw new OtlpDecodeError(`protobuf: ${(e as Error).message}`);
  }
}

const ResourceType = root.lookupType('otlp.Resource');
const MetricType = root.lookupType('otlp.Metric');
/** Per kind of Metric (its field number): the name, the container type and its data point type. */
const KINDS: Record<number, { name: string; container: protobuf.Type; point: protobuf.Type }> = {
  5: { name: 'gauge', container: root.lookupType('otlp.Gauge'), point: root.lookupType('otlp.NumberDataPoint') },
  7: { name: 'sum', container: root.lookupType('otlp.Sum'), point: root.lookupType('otlp.NumberDataPoint') },
  9: { name: 'histogram', container: root.lookupType('otlp.Histogram'), point: root.lookupType('otlp.HistogramDataPoint') },
  10: { name: 'exponentialHistogram', container: root.lookupType('otlp.ExponentialHistogram'), point: root.lookupType('otlp.ExponentialHistogramDataPoint') },
  11: { name: 'summary', container: root.lookupType('otlp.Summary'), point: root.lookupType('otlp.SummaryDataPoint') },
};

/**
 * `parseOtlpProtobuf` in slices, yielding every 1,024 data points (see slices.ts): protobufjs
 * decodes a whole message in one call (100,000 points: 430-690 ms on the event loop), so the
 * request is walked down to its data points here and protobufjs decodes each resource and each
 * data point alone. The objects are the same as a whole-message decode gives (the metric and
 * its container are created with only the fields present, as decode leaves them), except the
 * instrumentation scope, which nothing reads.
 */
export function* parseOtlpProtobufSteps(body: Uint8Array, limits: DecodeLimits = NO_DECODE_LIMITS): Generator<void, Request> {
  // Limits are counted as the walk reaches each resource and point, before protobufjs decodes it.
  const budget = limits !== NO_DECODE_LIMITS ? new DecodeBudget(limits) : null;
  const r = new ProtoReader(body);
  const scan = new ProtoReader(body);
  const sub = (start: number, end: number) => body.subarray(start, end);
  const resourceMetrics: NonNullable<Request['resourceMetrics']> = [];
  let points = 0;
  try {
    for (const [f, s, e] of fields(r, 0, body.length)) {
      if (f !== 1) continue;
      const rm: NonNullable<Request['resourceMetrics']>[number] = { scopeMetrics: [] };
      resourceMetrics.push(rm);
      for (const [f2, s2, e2] of fields(r, s, e)) {
        if (f2 === 1) {
          if (budget) {
            scan.pos = s2;
            parseGuard(() => checkOtlpResource(scan, e2, () => `resourceMetrics[${resourceMetrics.length - 1}]`, budget));
          }
          rm.resource = ResourceType.decode(sub(s2, e2)) as unknown as { attributes?: KeyValue[] };
        }
        if (f2 !== 2) continue;
        const metrics: Metric[] = [];
        rm.scopeMetrics!.push({ metrics });
        for (const [f3, s3, e3] of fields(r, s2, e2)) {
          if (f3 !== 2) continue;
          const head: Record<string, unknown> = {};
          let kind: { name: string; container: protobuf.Type; point: protobuf.Type } | undefined;
          let container: Record<string, unknown> | undefined;
          for (const [f4, s4, e4, w4] of fields(r, s3, e3, true)) {
            if (f4 >= 1 && f4 <= 3 && w4 === WIRE_LEN) head[f4 === 1 ? 'name' : f4 === 2 ? 'description' : 'unit'] = utf8(body, s4, e4);
            const k = KINDS[f4];
            if (k === undefined || w4 !== WIRE_LEN) continue;
            kind = k;
            const dataPoints: unknown[] = [];
            const rest: Record<string, unknown> = {};
            for (const [f5, s5, e5, w5] of fields(r, s4, e4, true)) {
              if (f5 === 1 && w5 === WIRE_LEN) {
                if ((++points & 1023) === 0) yield;
                if (budget) {
                  scan.pos = s5;
                  const at = [resourceMetrics.length - 1, rm.scopeMetrics!.length - 1, metrics.length, dataPoints.length];
                  const path = () => `resourceMetrics[${at[0]}].scopeMetrics[${at[1]}].metrics[${at[2]}].${k.name}.dataPoints[${at[3]}]`;
                  parseGuard(() => checkOtlpPoint(scan, e5, k.name, path, budget));
                }
                dataPoints.push(k.point.decode(sub(s5, e5)));
              } else if ((f5 === 2 || f5 === 3) && w5 === WIRE_VARINT) {
                const v = new ProtoReader(body, s5, e5).uint32();
                rest[f5 === 2 ? 'aggregationTemporality' : 'isMonotonic'] = f5 === 2 ? v : v !== 0;
              }
            }
            container = k.container.create(rest) as unknown as Record<string, unknown>;
            container.dataPoints = dataPoints;
          }
          const m = MetricType.create(head) as unknown as Record<string, unknown>;
          if (kind && container) m[kind.name] = container;
          metrics.push(m as Metric);
        }
      }
    }
  } catch (e) {
    if (e instanceof DecodeLimitError || !(e instanceof Error)) throw e;
    throw new OtlpDecodeError(`protobuf: ${e.message}`);
  }
  return { resourceMetrics };
}

function parseGuard(check: () => void): void {
  try {
    check();
  } catch (e) {
    if (e instanceof ProtoError) throw new OtlpDecodeError(`protobuf: ${e.message}`);
    throw e;
  }
}

/**
 * The fields of the message in body[start, end): [field number, payload start, payload end, wire type].
 * A varint's payload is the varint itself; fixed fields their bytes.
 */
function* fields(r: ProtoReader, start: number, end: number, all = false): Generator<[number, number, number, number]> {
  let pos = start;
  while (pos < end) {
    r.pos = pos;
    r.end = end;
    const tag = r.uint32();
    const w = tag & 7;
    let s = r.pos;
    if (w === WIRE_LEN) {
      const e = r.lenEnd();
      s = r.pos;
      pos = e;
      yield [tag >>> 3, s, e, w];
      continue;
    }
    r.skip(w);
    pos = r.pos;
    if (all) yield [tag >>> 3, s, pos, w];
  }
}

/** Parse a JSON body (OTLP/JSON: lowerCamelCase keys, 64-bit integers as strings or numbers). */
export function parseOtlpJson(text: string, limits: DecodeLimits = NO_DECODE_LIMITS): Request {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new OtlpDecodeError(`JSON: ${(e as Error).message}`);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new OtlpDecodeError('JSON: expected an ExportMetricsServiceRequest object');
  }
  if (limits !== NO_DECODE_LIMITS) checkOtlpJson(obj as Record<string, unknown>, limits);
  try {
    return RequestType.fromObject(obj as Record<string, unknown>) as unknown as Request;
  } catch (e) {
    throw new OtlpDecodeError(`JSON: ${(e as Error).message.replace(/^\.otlp\.[A-Za-z]+/, '')}`);
  }
}

/** The ExportMetricsServiceResponse, protobuf-encoded or as OTLP/JSON. */
export function otlpResponse(json: boolean, rejected: number, message: string): Uint8Array | string {
  const partial = rejected > 0 ? { rejectedDataPoints: rejected, errorMessage: message } : undefined;
  if (json) return JSON.stringify(partial ? { partialSuccess: { rejectedDataPoints: String(rejected), errorMessage: message } } : {});
  return ResponseType.encode(ResponseType.fromObject(partial ? { partialSuccess: partial } : {})).finish();
}

/** A google.rpc.Status, the body OTLP/HTTP sends with every 4xx and 5xx. */
export function otlpStatus(json: boolean, grpcCode: number, message: string): Uint8Array | string {
  if (json) return JSON.stringify({ code: grpcCode, message });
  return StatusType.encode(StatusType.fromObject({ code: grpcCode, message })).finish();
}

/** Map a parsed request to series. Malformed points are added to `issues`; more series than `limits` allow throw DecodeLimitError. */
export function decodeOtlp(req: Request, now: number, issues: IssueList, limits: DecodeLimits = NO_DECODE_LIMITS): OtlpResult {
  return drain(decodeOtlpSteps(req, now, issues, limits));
}

/** `decodeOtlp` in slices: yields every 1,024 data points (see slices.ts). */
export function* decodeOtlpSteps(req: Request, now: number, issues: IssueList, limits: DecodeLimits = NO_DECODE_LIMITS): Generator<void, OtlpResult> {
  const budget = new DecodeBudget(limits);
  let sliced = 0;
  const series: SeriesSamples[] = [];
  const origins: string[] = [];
  const metadata: MetricMetadata[] = [];
  const staleMarks: StaleMark[] = [];
  let origin = '';
  const seenMeta = new Set<string>();
  let points = 0;
  let rejected = 0;
  const reasons = new Set<string>();
  const reject = (n: number, reason: string) => {
    if (n <= 0) return;
    rejected += n;
    reasons.add(reason);
  };
  const push = (key: string, tags: Record<string, string>, ts: number, value: number, stale: boolean) => {
    if (stale) {
      staleMarks.push({ key, tags, ts });
      return;
    }
    budget.addSeries(1, origin);
    series.push({ key, tags, timestamps: [ts], values: [value] });
    origins.push(origin);
    points++;
  };

  const rms = req.resourceMetrics ?? [];
  for (let ri = 0; ri < rms.length; ri++) {
    const rm = rms[ri];
    const resourceTags: Record<string, string> = {};
    for (const kv of rm.resource?.attributes ?? []) {
      if (kv.key === 'service.name') resourceTags.service = anyToString(kv.value);
      else if (kv.key === 'service.instance.id') resourceTags.instance = anyToString(kv.value);
    }
    const sms = rm.scopeMetrics ?? [];
    for (let si = 0; si < sms.length; si++) {
      const ms = sms[si].metrics ?? [];
      for (let mi = 0; mi < ms.length; mi++) {
        const m = ms[mi];
        const path = `resourceMetrics[${ri}].scopeMetrics[${si}].metrics[${mi}]`;
        const baseName = normalizeName(m.name ?? '');
        if (baseName === '') {
          issues.add({
            code: 'MTR_WRITE_OTLP_METRIC_NAME',
            field: `${path}.name`,
            message: `${path} has no usable name (${JSON.stringify(m.name ?? '')}); a name needs a letter or digit`,
          });
          continue;
        }
        const unit = promUnit(m.unit ?? '');
        const meta = (name: string, type: string) => {
          if (seenMeta.has(name)) return;
          seenMeta.add(name);
          metadata.push({ metric: name, type, help: wellFormed(m.description ?? ''), unit: unit === 'ratio' && type !== 'gauge' ? '' : unit });
        };
        const tagsOf = (attrs: KeyValue[] | undefined) => ({ ...attributesToTags(attrs), ...resourceTags });
        switch (metricKind(m)) {
          case 'gauge': {
            const name = withUnit(baseName, unit);
            meta(name, 'gauge');
            for (let i = 0, all = m.gauge?.dataPoints ?? []; i < all.length; i++) {
              const p = all[i];
              if ((++sliced & 1023) === 0) yield;
              origin = `${path}.gauge.dataPoints[${i}]`;
              numberPoint(name, p, tagsOf(p.attributes));
            }
            break;
          }
          case 'sum': {
            const s = m.sum!;
            const pts = s.dataPoints ?? [];
            if (s.aggregationTemporality !== TEMPORALITY_CUMULATIVE) {
              reject(
                pts.length,
                s.aggregationTemporality === TEMPORALITY_DELTA
                  ? `sum "${m.name}": delta temporality is not supported; configure the exporter for cumulative temporality (e.g. OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=cumulative)`
                  : `sum "${m.name}": aggregation temporality unspecified`,
              );
              break;
            }
            const name = s.isMonotonic ? withTotal(withUnit(baseName, unit === 'ratio' ? '' : unit)) : withUnit(baseName, unit);
            meta(name, s.isMonotonic ? 'counter' : 'gauge');
            for (let i = 0; i < pts.length; i++) {
              const p = pts[i];
              if ((++sliced & 1023) === 0) yield;
              origin = `${path}.sum.dataPoints[${i}]`;
              numberPoint(name, p, tagsOf(p.attributes));
            }
            break;
          }
          case 'histogram': {
            const h = m.histogram!;
            const pts = h.dataPoints ?? [];
            if (h.aggregationTemporality !== TEMPORALITY_CUMULATIVE) {
              reject(
                pts.length,
                h.aggregationTemporality === TEMPORALITY_DELTA
                  ? `histogram "${m.name}": delta temporality is not supported; configure the exporter for cumulative temporality`
                  : `histogram "${m.name}": aggregation temporality unspecified`,
              );
              break;
            }
            const name = withUnit(baseName, unit === 'ratio' ? '' : unit);
            meta(name, 'histogram');
            for (let i = 0; i < pts.length; i++) {
              const p = pts[i];
              if ((++sliced & 1023) === 0) yield;
              origin = `${path}.histogram.dataPoints[${i}]`;
              histogramPoint(name, p, tagsOf(p.attributes));
            }
            break;
          }
          case 'summary': {
            const name = withUnit(baseName, unit === 'ratio' ? '' : unit);
            meta(name, 'summary');
            for (let i = 0, all = m.summary?.dataPoints ?? []; i < all.length; i++) {
              const p = all[i];
              if ((++sliced & 1023) === 0) yield;
              origin = `${path}.summary.dataPoints[${i}]`;
              summaryPoint(name, p, tagsOf(p.attributes));
            }
            break;
          }
          case 'exponentialHistogram':
            reject(
              m.exponentialHistogram?.dataPoints?.length ?? 0,
              `exponential histogram "${m.name}": not supported; use explicit-bucket histograms`,
            );
            break;
          default:
            // A metric without data carries nothing to store.
            break;
        }
      }
    }
  }
  return { batch: { series, points }, origins, metadata, staleMarks, rejected, rejectedReasons: [...reasons] };

  function finite(v: number, name: string): boolean {
    if (Number.isFinite(v)) return true;
    reject(1, `"${name}": non-finite values (NaN, Inf) are not stored`);
    return false;
  }

  function numberPoint(name: string, p: NumberPoint, tags: Record<string, string>): void {
    const ts = nanosToMs(p.timeUnixNano, now);
    const stale = ((p.flags ?? 0) & FLAG_NO_RECORDED_VALUE) !== 0;
    const v = has(p, 'asInt') ? int64ToNumber(p.asInt) : (p.asDouble ?? 0);
    if (!stale && !finite(v, name)) return;
    push(name, tags, ts, v, stale);
  }

  function histogramPoint(name: string, p: HistogramPoint, tags: Record<string, string>): void {
    const ts = nanosToMs(p.timeUnixNano, now);
    const stale = ((p.flags ?? 0) & FLAG_NO_RECORDED_VALUE) !== 0;
    const bounds = p.explicitBounds ?? [];
    const counts = p.bucketCounts ?? [];
    if (counts.length !== 0 && counts.length !== bounds.length + 1) {
      issues.add({
        code: 'MTR_WRITE_OTLP_HISTOGRAM_BUCKETS',
        field: `${origin}.bucketCounts`,
        message: `${origin} (histogram "${name}"): ${counts.length} bucket counts for ${bounds.length} explicit bounds; expected ${bounds.length + 1}`,
      });
      return;
    }
    const count = int64ToNumber(p.count);
    let cumulative = 0;
    for (let b = 0; b < bounds.length; b++) {
      cumulative += counts.length ? int64ToNumber(counts[b]) : 0;
      if (!stale && !finite(bounds[b], name)) continue;
      push(`${name}_bucket`, { ...tags, le: formatBound(bounds[b]) }, ts, cumulative, stale);
    }
    push(`${name}_bucket`, { ...tags, le: '+Inf' }, ts, counts.length ? cumulative + int64ToNumber(counts[bounds.length]) : count, stale);
    push(`${name}_count`, tags, ts, count, stale);
    if (p.sum !== null && p.sum !== undefined && (stale || finite(p.sum, name))) push(`${name}_sum`, tags, ts, p.sum, stale);
  }

  function summaryPoint(name: string, p: SummaryPoint, tags: Record<string, string>): void {
    const ts = nanosToMs(p.timeUnixNano, now);
    const stale = ((p.flags ?? 0) & FLAG_NO_RECORDED_VALUE) !== 0;
    for (const q of p.quantileValues ?? []) {
      const v = q.value ?? 0;
      if (!stale && !finite(v, name)) continue;
      push(name, { ...tags, quantile: formatBound(q.quantile ?? 0) }, ts, v, stale);
    }
    push(`${name}_count`, tags, ts, int64ToNumber(p.count), stale);
    const sum = p.sum ?? 0;
    if (stale || finite(sum, name)) push(`${name}_sum`, tags, ts, sum, stale);
  }
}

const hasOwn = Object.prototype.hasOwnProperty;

/** Whether a field was set: decoded and fromObject messages own exactly the fields present. */
function has(o: object, field: string): boolean {
  return hasOwn.call(o, field) && (o as Record<string, unknown>)[field] !== null && (o as Record<string, unknown>)[field] !== undefined;
}

/** Which oneof member is set. protobufjs' virtual oneof getter walks Object.keys on every read. */
function metricKind(m: Metric): string | undefined {
  for (const k of ['gauge', 'sum', 'histogram', 'summary', 'exponentialHistogram']) if (has(m, k)) return k;
  return undefined;
}

function anyKind(v: AnyValue): string | undefined {
  for (const k of ['stringValue', 'intValue', 'doubleValue', 'boolValue', 'arrayValue', 'kvlistValue', 'bytesValue']) if (has(v, k)) return k;
  return undefined;
}

function int64ToNumber(v: Int64): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  return (v.unsigned ? v.high >>> 0 : v.high) * 4294967296 + (v.low >>> 0);
}

/** Unix nanoseconds -> ms, exactly (integer arithmetic below 2^53); 0 or absent means "now". */
function nanosToMs(v: Int64, now: number): number {
  if (v === null || v === undefined) return now;
  let ms: number;
  if (typeof v === 'number') ms = Math.floor(v / 1e6);
  else if (typeof v === 'string') ms = /^\d{7,}$/.test(v) ? Number(v.slice(0, -6)) : Math.floor(Number(v) / 1e6);
  else if (v.high < 0 && !v.unsigned) ms = Math.floor(int64ToNumber(v) / 1e6);
  else {
    // value = H * 2^32 + L and 2^32 = 4294 * 1e6 + 967296, so each part stays exact.
    const h = v.high >>> 0;
    ms = h * 4294 + Math.floor((h * 967296 + (v.low >>> 0)) / 1e6);
  }
  return ms === 0 || Number.isNaN(ms) ? now : ms;
}

/** Prometheus' spelling of a float label value (le, quantile). */
function formatBound(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * Text that is valid UTF-16: JSON escapes ("\ud800") and malformed protobuf UTF-8 can yield lone
 * surrogates, which the store cannot encode; they become U+FFFD like any invalid UTF-8 byte.
 */
function wellFormed(s: string): string {
  const w = s as unknown as { isWellFormed(): boolean; toWellFormed(): string };
  return w.isWellFormed() ? s : w.toWellFormed();
}

/** An attribute value as text, per the OpenTelemetry attribute rules for non-string values. */
export function anyToString(v: AnyValue | null | undefined): string {
  return wellFormed(anyText(v));
}

function anyText(v: AnyValue | null | undefined): string {
  if (!v) return '';
  switch (anyKind(v)) {
    case 'stringValue':
      return v.stringValue ?? '';
    case 'boolValue':
      return v.boolValue ? 'true' : 'false';
    case 'intValue':
      return typeof v.intValue === 'object' && v.intValue !== null ? v.intValue.toString() : String(v.intValue ?? 0);
    case 'doubleValue':
      return String(v.doubleValue ?? 0);
    case 'bytesValue':
      return Buffer.from(v.bytesValue ?? new Uint8Array()).toString('base64');
    case 'arrayValue':
      return JSON.stringify((v.arrayValue?.values ?? []).map(anyToJson));
    case 'kvlistValue':
      return JSON.stringify(Object.fromEntries((v.kvlistValue?.values ?? []).map((kv) => [kv.key ?? '', anyToJson(kv.value)])));
    default:
      return '';
  }
}

function anyToJson(v: AnyValue | null | undefined): unknown {
  if (!v) return null;
  switch (anyKind(v)) {
    case 'boolValue':
      return Boolean(v.boolValue);
    case 'doubleValue':
      return v.doubleValue ?? 0;
    case 'intValue': {
      const n = int64ToNumber(v.intValue);
      return Number.isSafeInteger(n) ? n : anyToString(v);
    }
    case 'arrayValue':
      return (v.arrayValue?.values ?? []).map(anyToJson);
    case 'kvlistValue':
      return Object.fromEntries((v.kvlistValue?.values ?? []).map((kv) => [kv.key ?? '', anyToJson(kv.value)]));
    default:
      return anyToString(v);
  }
}

/** Data point attributes as tags: sanitised names, colliding names' values joined with `;`. */
function attributesToTags(attrs: KeyValue[] | undefined): Record<string, string> {
  const tags: Record<string, string> = {};
  if (!attrs || attrs.length === 0) return tags;
  let collided = false;
  for (const kv of attrs) {
    const name = cachedLabelName(kv.key ?? '');
    if (name === '') continue;
    if (name in tags) collided = true;
    tags[name] = anyToString(kv.value);
  }
  return collided ? joinCollisions(attrs) : tags;
}

function joinCollisions(attrs: KeyValue[]): Record<string, string> {
  const byName = new Map<string, [string, string][]>();
  for (const kv of attrs) {
    const key = kv.key ?? '';
    const name = cachedLabelName(key);
    if (name === '') continue;
    const list = byName.get(name);
    if (list) list.push([key, anyToString(kv.value)]);
    else byName.set(name, [[key, anyToString(kv.value)]]);
  }
  const tags: Record<string, string> = {};
  for (const [name, list] of byName) {
    tags[name] = list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((kv) => kv[1]).join(';');
  }
  return tags;
}

// Attribute keys repeat on every point: sanitise each once (bounded).
const labelNames = new Map<string, string>();
function cachedLabelName(key: string): string {
  let name = labelNames.get(key);
  if (name === undefined) {
    name = otlpLabelName(key);
    if (labelNames.size >= 10_000) labelNames.clear();
    labelNames.set(key, name);
  }
  return name;
}


/** The base Prometheus name of an OTel metric name (before unit and type suffixes). */
export function normalizeName(name: string): string {
  const s = name
    .replace(/[^a-zA-Z0-9_:]/g, '_')
    .replace(/__+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (s === '') return '';
  return s.charCodeAt(0) >= 48 && s.charCodeAt(0) <= 57 ? '_' + s : s;
}

const UNITS: Record<string, string> = {
  d: 'days',
  h: 'hours',
  min: 'minutes',
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  GiBy: 'gibibytes',
  TiBy: 'tibibytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  GBy: 'gigabytes',
  TBy: 'terabytes',
  m: 'meters',
  V: 'volts',
  A: 'amperes',
  J: 'joules',
  W: 'watts',
  g: 'grams',
  Cel: 'celsius',
  Hz: 'hertz',
  '%': 'percent',
  '1': 'ratio',
};
const PER_UNITS: Record<string, string> = { s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week', mo: 'month', y: 'year' };

/** The Prometheus unit word(s) of a UCUM unit: `ms` -> milliseconds, `By/s` -> bytes_per_second. */
export function promUnit(unit: string): string {
  const u = unit.replace(/\{[^}]*\}/g, '').trim();
  if (u === '') return '';
  const [main, per] = u.split('/', 2).map((x) => x.trim());
  const clean = (x: string) => x.replace(/[^a-zA-Z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  const mainWord = main ? (UNITS[main] ?? clean(main)) : '';
  const perWord = per ? (PER_UNITS[per] ?? clean(per)) : '';
  if (perWord === '') return mainWord === 'ratio' && per ? '' : mainWord;
  return `${mainWord === 'ratio' ? '' : mainWord}${mainWord && mainWord !== 'ratio' ? '_' : ''}per_${perWord}`;
}

/** Append the unit unless the name already has it as a word. */
function withUnit(name: string, unit: string): string {
  if (unit === '') return name;
  const words = name.split('_');
  const unitWords = unit.split('_');
  for (let i = 0; i + unitWords.length <= words.length; i++) {
    if (unitWords.every((w, j) => words[i + j] === w)) return name;
  }
  return `${name}_${unit}`;
}

function withTotal(name: string): string {
  return name.endsWith('_total') || name === 'total' ? name : `${name}_total`;
}
