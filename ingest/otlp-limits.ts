import { DecodeBudget, type DecodeLimits } from './decode-limits.js';
import { ProtoReader, WIRE_FIXED64, WIRE_LEN } from './protobuf.js';

/**
 * The OTLP request's counts checked before protobufjs (or protobufjs' fromObject, for JSON)
 * builds a single object of it: protobufjs decodes a whole message at once, so a limit applied
 * after it is too late (issue 11: a histogram with 4 M bounds cost 33 s and 4 GB). The protobuf
 * scan walks the wire format down to the data points without allocating; packed repeated fields
 * (bucket counts, explicit bounds) are counted from their byte length, so the 4 M-bound
 * histogram is refused after reading one length prefix.
 *
 * Counted: samples (a number point 1, a histogram point its buckets + count + sum, a summary its
 * quantiles + count + sum, an exponential histogram 1: it is rejected, not stored), labels
 * (a point's attributes + the name; a resource's attributes) and buckets per histogram point.
 * Series are counted later, by decodeOtlp, when each is made: with samples bounded here, so is
 * everything decodeOtlp allocates.
 */

const KIND_FIELDS: Record<number, string> = { 5: 'gauge', 7: 'sum', 9: 'histogram', 10: 'exponentialHistogram', 11: 'summary' };

/** Scan a protobuf ExportMetricsServiceRequest; throws DecodeLimitError (or ProtoError for broken bytes). */
export function checkOtlpProtobuf(body: Uint8Array, limits: DecodeLimits): void {
  const budget = new DecodeBudget(limits);
  const r = new ProtoReader(body);
  let ri = 0;
  each(r, r.end, (f, end) => {
    if (f !== 1) return false;
    const rPath = `resourceMetrics[${ri++}]`;
    let si = 0;
    each(r, end, (f2, end2) => {
      if (f2 === 1) {
        const n = countField(r, end2, 1);
        budget.labels(n, `${rPath}.resource.attributes`);
        return true;
      }
      if (f2 !== 2) return false;
      const sPath = `${rPath}.scopeMetrics[${si++}]`;
      let mi = 0;
      each(r, end2, (f3, end3) => {
        if (f3 !== 2) return false;
        const mPath = `${sPath}.metrics[${mi++}]`;
        each(r, end3, (f4, end4) => {
          const kind = KIND_FIELDS[f4];
          if (kind === undefined) return false;
          let pi = 0;
          each(r, end4, (f5, end5) => {
            if (f5 !== 1) return false;
            const at = pi++;
            point(r, end5, kind, () => `${mPath}.${kind}.dataPoints[${at}]`, budget);
            return true;
          });
          return true;
        });
        return true;
      });
      return true;
    });
    return true;
  });
}

/** Walk the length-delimited fields of the message ending at `end`, calling `visit` with each one's number and end. */
function each(r: ProtoReader, end: number, visit: (field: number, end: number) => unknown): void {
  const outer = r.end;
  while (r.pos < end) {
    r.end = end;
    const tag = r.uint32();
    if ((tag & 7) !== WIRE_LEN) {
      r.skip(tag & 7);
      continue;
    }
    const fEnd = r.lenEnd();
    r.end = fEnd;
    visit(tag >>> 3, fEnd);
    r.pos = fEnd;
  }
  r.end = outer;
}

/** How many times field `field` occurs in the message ending at `end` (any wire type). */
function countField(r: ProtoReader, end: number, field: number): number {
  let n = 0;
  const outer = r.end;
  r.end = end;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag >>> 3 === field) n++;
    r.skip(tag & 7);
  }
  r.end = outer;
  return n;
}

/** Count one data point's attributes, buckets and samples (the reader at its payload); throws DecodeLimitError. */
export function checkOtlpPoint(r: ProtoReader, end: number, kind: string, path: () => string, budget: DecodeBudget): void {
  point(r, end, kind, path, budget);
}

/** Count a Resource's attributes (the reader at its payload). */
export function checkOtlpResource(r: ProtoReader, end: number, path: () => string, budget: DecodeBudget): void {
  const n = countField(r, end, 1);
  if (n > budget.limits.maxLabels) budget.labels(n, `${path()}.resource.attributes`);
}

function point(r: ProtoReader, end: number, kind: string, path: () => string, budget: DecodeBudget): void {
  const attrField = kind === 'histogram' ? 9 : kind === 'exponentialHistogram' ? 1 : 7;
  const maxLabels = budget.limits.maxLabels;
  const maxBuckets = budget.limits.maxBuckets;
  let attrs = 0;
  let bounds = 0;
  let counts = 0;
  let quantiles = 0;
  const outer = r.end;
  r.end = end;
  while (r.pos < end) {
    const tag = r.uint32();
    const f = tag >>> 3;
    const w = tag & 7;
    if (f === attrField) {
      if (++attrs + 1 > maxLabels) budget.labels(attrs + 1, `${path()}.attributes`);
    } else if (kind === 'histogram' && (f === 6 || f === 7)) {
      // Packed (the proto3 default) or one element per field.
      const n = w === WIRE_LEN ? Math.ceil((peekLen(r) ?? 0) / 8) : w === WIRE_FIXED64 ? 1 : 0;
      if (f === 7) bounds += n;
      else counts += n;
      const buckets = Math.max(bounds + 1, counts);
      if (buckets > maxBuckets) budget.buckets(buckets, `${path()}.${f === 7 ? 'explicitBounds' : 'bucketCounts'}`);
    } else if (kind === 'summary' && f === 6) quantiles++;
    r.skip(w);
  }
  r.end = outer;
  const samples = kind === 'histogram' ? Math.max(bounds + 1, counts) + 2 : kind === 'summary' ? quantiles + 2 : 1;
  if (budget.samples + samples > budget.limits.maxSamples) budget.addSamples(samples, path());
  else budget.samples += samples;
}

/** The length prefix at `pos`, without moving past it. */
function peekLen(r: ProtoReader): number | undefined {
  const p = r.pos;
  const len = r.uint32();
  r.pos = p;
  return len;
}

/**
 * The same counts over a parsed OTLP/JSON body (plain objects, lowerCamelCase keys), before
 * protobufjs' fromObject copies it into messages. JSON.parse has already paid for the text;
 * BODY_LIMIT_BYTES bounds that.
 */
export function checkOtlpJson(obj: Record<string, unknown>, limits: DecodeLimits): void {
  const budget = new DecodeBudget(limits);
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
  const rec = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});
  const rms = list(obj.resourceMetrics ?? obj.resource_metrics);
  for (let ri = 0; ri < rms.length; ri++) {
    const rm = rec(rms[ri]);
    const rPath = `resourceMetrics[${ri}]`;
    budget.labels(list(rec(rm.resource).attributes).length, `${rPath}.resource.attributes`);
    const sms = list(rm.scopeMetrics ?? rm.scope_metrics);
    for (let si = 0; si < sms.length; si++) {
      const ms = list(rec(sms[si]).metrics);
      for (let mi = 0; mi < ms.length; mi++) {
        const m = rec(ms[mi]);
        for (const kind of ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary']) {
          const pts = list(rec(m[kind]).dataPoints ?? rec(m[kind]).data_points);
          for (let pi = 0; pi < pts.length; pi++) {
            const p = rec(pts[pi]);
            const path = `${rPath}.scopeMetrics[${si}].metrics[${mi}].${kind}.dataPoints[${pi}]`;
            budget.labels(list(p.attributes).length + 1, `${path}.attributes`);
            let samples = 1;
            if (kind === 'histogram') {
              const buckets = Math.max(list(p.explicitBounds ?? p.explicit_bounds).length + 1, list(p.bucketCounts ?? p.bucket_counts).length);
              budget.buckets(buckets, `${path}.explicitBounds`);
              samples = buckets + 2;
            } else if (kind === 'summary') samples = list(p.quantileValues ?? p.quantile_values).length + 2;
            budget.addSamples(samples, path);
          }
        }
      }
    }
  }
}
