import { ProtoError, ProtoReader, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT } from './protobuf.js';
import type { SeriesSamples, WriteBatch } from './types.js';

/**
 * Prometheus remote write 1.0: a WriteRequest (prompb/remote.proto), already snappy-decoded.
 *
 *   WriteRequest { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2;
 *                  repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
 *   Label        { string name = 1; string value = 2; }
 *   Sample       { double value = 1; int64 timestamp = 2; }          // timestamp in unix ms
 *   MetricMetadata { MetricType type = 1; string metric_family_name = 2; string help = 4; string unit = 5; }
 *
 * Mapping: label `__name__` -> key, every other label -> a tag of the same name.
 *
 * Values that are not finite are dropped, not stored, and counted:
 * - staleness markers (NaN with bits 0x7ff0000000000002, sent when a series disappears) are
 *   returned in `staleMarks` so the route can record where each series ended; storing the
 *   NaN itself would put NaN into every sum, rate and comparison over the series;
 * - other NaN and +-Inf values: Metronome's store rule is "finite numbers only", and Prometheus
 *   drops a whole batch on a 400, so one NaN quantile would lose thousands of good samples.
 * Native histograms and exemplars are not stored: they are counted (`unsupported`) and the
 * route rejects the request with a message saying how to turn them off in Prometheus.
 *
 * Hot path: Prometheus sends every sample as its own TimeSeries with the full label set, so the
 * labels are the bulk of the bytes. A label set is recognised from its raw bytes (a latin1
 * string of them is the cache key) and parsed only the first time it is seen.
 */

export interface MetricMetadata {
  metric: string;
  type: string;
  help: string;
  unit: string;
}

export interface StaleMark {
  key: string;
  tags: Record<string, string>;
  ts: number;
}

export interface RemoteWriteResult {
  batch: WriteBatch;
  metadata: MetricMetadata[];
  staleMarks: StaleMark[];
  /** Non-finite values dropped (stale markers counted in staleMarks). */
  droppedNonFinite: number;
  /** Native histograms and exemplars found, and the first metric that had one. */
  unsupported: { histograms: number; exemplars: number; firstMetric: string };
}

/** remote.proto's MetricMetadata.MetricType, lower-cased as Prometheus' metadata API spells it. */
const METRIC_TYPES = ['unknown', 'counter', 'gauge', 'histogram', 'gaugehistogram', 'summary', 'info', 'stateset'];

interface LabelSet {
  key: string;
  tags: Record<string, string>;
  /** The request that last used this set, and the index of its series in that request. */
  epoch: number;
  index: number;
}

export interface RemoteWriteDecoderOptions {
  /** Label sets remembered across requests; the cache is emptied when it grows past this. */
  maxCachedLabelSets?: number;
}

/**
 * Decodes WriteRequests, remembering label sets between requests. One per server: decoding is
 * synchronous, so the per-request bookkeeping in the cache entries is never shared mid-request.
 */
export class RemoteWriteDecoder {
  readonly #cache = new Map<string, LabelSet>();
  readonly #max: number;
  #epoch = 0;

  constructor(opts: RemoteWriteDecoderOptions = {}) {
    this.#max = opts.maxCachedLabelSets ?? 100_000;
  }

  get cachedLabelSets(): number {
    return this.#cache.size;
  }

  /** Decode a WriteRequest. Throws ProtoError for bytes that are not a valid WriteRequest. */
  decode(input: Uint8Array): RemoteWriteResult {
    const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    const epoch = ++this.#epoch;
    const series: SeriesSamples[] = [];
    const metadata: MetricMetadata[] = [];
    const staleMarks: StaleMark[] = [];
    const unsupported = { histograms: 0, exemplars: 0, firstMetric: '' };
    let points = 0;
    let droppedNonFinite = 0;
    const r = new ProtoReader(buf);
    const view = r.view;

    while (r.pos < r.end) {
      const tag = r.uint32();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 1 && wire === WIRE_LEN) {
        const [tsStart, tsEnd] = r.bytes();
        // Pass 1: find the labels (normally one contiguous run at the start) and count the rest.
        const t = new ProtoReader(buf, tsStart, tsEnd);
        let labelStart = -1;
        let labelEnd = -1;
        let contiguous = true;
        let samples = 0;
        let exemplars = 0;
        let histograms = 0;
        while (t.pos < t.end) {
          const fieldStart = t.pos;
          const ttag = t.uint32();
          const f = ttag >>> 3;
          const w = ttag & 7;
          if (f === 1 && w === WIRE_LEN) {
            if (labelStart === -1) labelStart = fieldStart;
            else if (labelEnd !== fieldStart) contiguous = false;
            t.bytes();
            labelEnd = t.pos;
            continue;
          }
          if (f === 2 && w === WIRE_LEN) samples++;
          else if (f === 3 && w === WIRE_LEN) exemplars++;
          else if (f === 4 && w === WIRE_LEN) histograms++;
          t.skip(w);
        }
        if (samples === 0 && exemplars === 0 && histograms === 0) continue;
        const set = this.#labelSet(buf, labelStart, labelEnd, tsStart, tsEnd, contiguous);
        if (exemplars > 0 || histograms > 0) {
          unsupported.exemplars += exemplars;
          unsupported.histograms += histograms;
          if (!unsupported.firstMetric) unsupported.firstMetric = set.key || '(no __name__)';
        }
        if (samples === 0) continue;
        let out: SeriesSamples;
        if (set.epoch === epoch) out = series[set.index];
        else {
          set.epoch = epoch;
          set.index = series.length;
          out = { key: set.key, tags: set.tags, timestamps: [], values: [] };
          series.push(out);
        }
        const timestamps = out.timestamps as number[];
        const values = out.values as number[];
        // Pass 2: the samples.
        t.pos = tsStart;
        while (t.pos < t.end) {
          const ttag = t.uint32();
          const w = ttag & 7;
          if (ttag !== ((2 << 3) | WIRE_LEN)) {
            t.skip(w);
            continue;
          }
          const [sStart, sEnd] = t.bytes();
          const s = new ProtoReader(buf, sStart, sEnd);
          let value = 0;
          let hiWord = 0;
          let loWord = 0;
          let ts = 0;
          while (s.pos < s.end) {
            const stag = s.uint32();
            if (stag === ((1 << 3) | WIRE_FIXED64)) {
              if (s.pos + 8 > s.end) throw new ProtoError('truncated double', s.pos);
              loWord = view.getUint32(s.pos, true);
              hiWord = view.getUint32(s.pos + 4, true);
              value = s.double();
            } else if (stag === ((2 << 3) | WIRE_VARINT)) {
              ts = s.int64();
            } else s.skip(stag & 7);
          }
          if ((hiWord & 0x7ff00000) === 0x7ff00000) {
            if (hiWord === 0x7ff00000 && loWord === 2) staleMarks.push({ key: set.key, tags: set.tags, ts });
            else droppedNonFinite++;
            continue;
          }
          timestamps.push(ts);
          values.push(value);
          points++;
        }
      } else if (field === 3 && wire === WIRE_LEN) {
        const [mStart, mEnd] = r.bytes();
        metadata.push(readMetadata(new ProtoReader(buf, mStart, mEnd)));
      } else {
        r.skip(wire);
      }
    }
    // A series whose every sample was dropped stays in the batch with no points: harmless.
    return { batch: { series, points }, metadata, staleMarks, droppedNonFinite, unsupported };
  }

  #labelSet(buf: Buffer, labelStart: number, labelEnd: number, tsStart: number, tsEnd: number, contiguous: boolean): LabelSet {
    let cacheKey: string;
    let parsed: { key: string; tags: Record<string, string> } | null = null;
    if (labelStart === -1) cacheKey = '';
    else if (contiguous) cacheKey = buf.toString('latin1', labelStart, labelEnd);
    else {
      // Labels interleaved with other fields (no known sender does this): parse, then key by text.
      parsed = readLabels(buf, tsStart, tsEnd);
      cacheKey = '\u0001' + JSON.stringify([parsed.key, parsed.tags]);
    }
    let set = this.#cache.get(cacheKey);
    if (set) return set;
    parsed ??= labelStart === -1 ? { key: '', tags: {} } : readLabels(buf, labelStart, labelEnd);
    set = { key: parsed.key, tags: parsed.tags, epoch: 0, index: 0 };
    if (this.#cache.size >= this.#max) this.#cache.clear();
    this.#cache.set(cacheKey, set);
    return set;
  }
}

/** The Label messages among buf[start, end) (fields of a TimeSeries). */
function readLabels(buf: Buffer, start: number, end: number): { key: string; tags: Record<string, string> } {
  const r = new ProtoReader(buf, start, end);
  let key = '';
  const tags: Record<string, string> = {};
  while (r.pos < r.end) {
    const tag = r.uint32();
    if (tag !== ((1 << 3) | WIRE_LEN)) {
      r.skip(tag & 7);
      continue;
    }
    const [ls, le] = r.bytes();
    const l = new ProtoReader(buf, ls, le);
    let name = '';
    let value = '';
    while (l.pos < l.end) {
      const ltag = l.uint32();
      if (ltag === ((1 << 3) | WIRE_LEN)) name = l.string();
      else if (ltag === ((2 << 3) | WIRE_LEN)) value = l.string();
      else l.skip(ltag & 7);
    }
    if (name === '__name__') key = value;
    else tags[name] = value;
  }
  return { key, tags };
}

function readMetadata(r: ProtoReader): MetricMetadata {
  const m: MetricMetadata = { metric: '', type: 'unknown', help: '', unit: '' };
  while (r.pos < r.end) {
    const tag = r.uint32();
    const f = tag >>> 3;
    const w = tag & 7;
    if (f === 1 && w === WIRE_VARINT) m.type = METRIC_TYPES[r.uint32()] ?? 'unknown';
    else if (f === 2 && w === WIRE_LEN) m.metric = r.string();
    else if (f === 4 && w === WIRE_LEN) m.help = r.string();
    else if (f === 5 && w === WIRE_LEN) m.unit = r.string();
    else r.skip(w);
  }
  return m;
}

/**
 * The uncompressed length a snappy block declares in its header (a varint), read before
 * decompressing so that a small body cannot claim gigabytes. Throws ProtoError if malformed.
 */
export function snappyDeclaredLength(buf: Uint8Array): number {
  return new ProtoReader(buf).uint32();
}
