import { ProtoError, ProtoReader, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT } from './protobuf.js';
import { DecodeBudget, NO_DECODE_LIMITS, type DecodeLimits } from './decode-limits.js';
import { drain } from './slices.js';
import type { SeriesMemo, SeriesSamples, WriteBatch } from './types.js';

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
 * Staleness markers (NaN with bits 0x7ff0000000000002, sent when a series disappears) are not
 * samples: they are returned in `staleMarks` so the route can record where each series ended;
 * storing them would put NaN into every sum, rate and comparison over the series. Any other NaN
 * and +-Inf is a value like any other and is stored (a summary quantile with no observations is
 * NaN, a ratio over zero is Inf; PromQL gives them meaning), as Prometheus stores them.
 * Native histograms and exemplars are not stored: they are counted (`unsupported`) and the
 * route rejects the request with a message saying how to turn them off in Prometheus.
 *
 * Hot path: Prometheus sends every sample as its own TimeSeries with the full label set, so the
 * labels are the bulk of the bytes. A label set is recognised from its raw bytes (a hash of
 * them, confirmed by comparing the bytes) and parsed only the first time it is seen.
 * Why not protobufjs: see protobuf.ts (6.4x slower on the same requests, `npm run bench:decode`).
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
  /** Native histograms and exemplars found, and the first metric that had one. */
  unsupported: { histograms: number; exemplars: number; firstMetric: string };
}

/** remote.proto's MetricMetadata.MetricType, lower-cased as Prometheus' metadata API spells it. */
export const METRIC_TYPES = ['unknown', 'counter', 'gauge', 'histogram', 'gaugehistogram', 'summary', 'info', 'stateset'];

interface LabelSet {
  key: string;
  tags: Record<string, string>;
  /** The raw label bytes this set was parsed from (to confirm a hash match). */
  bytes: Buffer | null;
  /** Next set with the same hash. */
  next: LabelSet | null;
  /** The request that last used this set, and the index of its series in that request. */
  epoch: number;
  index: number;
  /** Id and validation of this series, kept across requests (types.ts). */
  memo: SeriesMemo;
}

export interface RemoteWriteDecoderOptions {
  /** Label sets remembered across requests; the cache is emptied when it grows past this. */
  maxCachedLabelSets?: number;
}

const TAG_TIMESERIES = (1 << 3) | WIRE_LEN;
const TAG_METADATA = (3 << 3) | WIRE_LEN;
const TAG_LABEL = (1 << 3) | WIRE_LEN;
const TAG_SAMPLE = (2 << 3) | WIRE_LEN;
const TAG_EXEMPLAR = (3 << 3) | WIRE_LEN;
const TAG_HISTOGRAM = (4 << 3) | WIRE_LEN;
const TAG_VALUE = (1 << 3) | WIRE_FIXED64;
const TAG_TIMESTAMP = (2 << 3) | WIRE_VARINT;

/**
 * Decodes WriteRequests, remembering label sets between requests. One per server: decoding is
 * synchronous, so the per-request bookkeeping in the cache entries is never shared mid-request.
 *
 * A label set is found by a hash of its raw bytes and confirmed by comparing them (native
 * Buffer.compare): no string is built for a label set seen before. One reader walks the whole
 * request, narrowing its `end` for nested messages, so decoding allocates only the output.
 */
export class RemoteWriteDecoder {
  readonly #byHash = new Map<number, LabelSet>();
  /** Label sets whose labels are interleaved with other fields, keyed by their parsed text. */
  readonly #byText = new Map<string, LabelSet>();
  readonly #max: number;
  #size = 0;
  #epoch = 0;

  constructor(opts: RemoteWriteDecoderOptions = {}) {
    this.#max = opts.maxCachedLabelSets ?? 100_000;
  }

  get cachedLabelSets(): number {
    return this.#size;
  }

  /**
   * Decode a WriteRequest. Throws ProtoError for bytes that are not a valid WriteRequest, and
   * DecodeLimitError as soon as a count passes `limits`: labels are counted in the first pass
   * over a TimeSeries (no strings made yet), samples before the second pass reads them.
   */
  decode(input: Uint8Array, limits: DecodeLimits = NO_DECODE_LIMITS): RemoteWriteResult {
    return drain(this.steps(input, limits));
  }

  /** `decode` in slices: yields every 1,024 time series (see slices.ts). */
  *steps(input: Uint8Array, limits: DecodeLimits = NO_DECODE_LIMITS): Generator<void, RemoteWriteResult> {
    const budget = new DecodeBudget(limits);
    const maxLabels = limits.maxLabels;
    let tsIndex = -1;
    const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    const epoch = ++this.#epoch;
    const series: SeriesSamples[] = [];
    const metadata: MetricMetadata[] = [];
    const staleMarks: StaleMark[] = [];
    const unsupported = { histograms: 0, exemplars: 0, firstMetric: '' };
    let points = 0;
    let skipped = 0;
    const r = new ProtoReader(buf);
    const view = r.view;
    const requestEnd = r.end;

    while (r.pos < requestEnd) {
      const tag = r.uint32();
      if (tag === TAG_TIMESERIES) {
        if ((++tsIndex & 1023) === 1023) yield;
        const tsEnd = r.lenEnd();
        const tsStart = r.pos;
        r.end = tsEnd;
        // Pass 1: find the labels (normally one contiguous run at the start) and count the rest.
        let labelStart = -1;
        let labelEnd = -1;
        let contiguous = true;
        let samples = 0;
        let exemplars = 0;
        let histograms = 0;
        let labels = 0;
        while (r.pos < tsEnd) {
          const fieldStart = r.pos;
          const t = r.uint32();
          if (t === TAG_LABEL) {
            if (++labels > maxLabels) budget.labels(labels, `timeseries[${tsIndex}].labels`);
            if (labelStart === -1) labelStart = fieldStart;
            else if (labelEnd !== fieldStart) contiguous = false;
            r.pos = r.lenEnd();
            labelEnd = r.pos;
            continue;
          }
          if (t === TAG_SAMPLE) samples++;
          else if (t === TAG_EXEMPLAR) exemplars++;
          else if (t === TAG_HISTOGRAM) histograms++;
          r.skip(t & 7);
        }
        if (samples === 0 && exemplars === 0 && histograms === 0) {
          r.end = requestEnd;
          continue;
        }
        const set = this.#labelSet(buf, view, labelStart, labelEnd, tsStart, tsEnd, contiguous);
        if (exemplars > 0 || histograms > 0) {
          unsupported.exemplars += exemplars;
          unsupported.histograms += histograms;
          if (!unsupported.firstMetric) unsupported.firstMetric = set.key || '(no __name__)';
        }
        if (samples > 0) {
          budget.addSamples(samples, `timeseries[${tsIndex}].samples`);
          // The set's series in this request, created with its first kept sample.
          let out: SeriesSamples | null = set.epoch === epoch ? series[set.index] : null;
          // Pass 2: the samples.
          r.pos = tsStart;
          while (r.pos < tsEnd) {
            const t = r.uint32();
            if (t !== TAG_SAMPLE) {
              r.skip(t & 7);
              continue;
            }
            const sEnd = r.lenEnd();
            r.end = sEnd;
            let value = 0;
            let hiWord = 0;
            let loWord = 0;
            let ts = 0;
            while (r.pos < sEnd) {
              const st = r.uint32();
              if (st === TAG_VALUE) {
                if (r.pos + 8 > sEnd) throw new ProtoError('truncated double', r.pos);
                loWord = view.getUint32(r.pos, true);
                hiWord = view.getUint32(r.pos + 4, true);
                value = view.getFloat64(r.pos, true);
                r.pos += 8;
              } else if (st === TAG_TIMESTAMP) ts = r.int64();
              else r.skip(st & 7);
            }
            r.end = tsEnd;
            if (hiWord === 0x7ff00000 && loWord === 2) {
              staleMarks.push({ key: set.key, tags: set.tags, ts });
              continue;
            }
            if (out === null) {
              budget.addSeries(1, `timeseries[${tsIndex}]`);
              set.epoch = epoch;
              set.index = series.length;
              out = { key: set.key, tags: set.tags, timestamps: [ts], values: [value], memo: set.memo };
              series.push(out);
            } else {
              (out.timestamps as number[]).push(ts);
              (out.values as number[]).push(value);
            }
            points++;
          }
        }
        r.pos = tsEnd;
        r.end = requestEnd;
      } else if (tag === TAG_METADATA) {
        const mEnd = r.lenEnd();
        budget.addSeries(1, `metadata[${metadata.length}]`);
        metadata.push(readMetadata(new ProtoReader(buf, r.pos, mEnd, view)));
        r.pos = mEnd;
      } else {
        // Fields this decoder does not read: a body of millions of them gets its turns too.
        if ((++skipped & 0xffff) === 0) yield;
        r.skip(tag & 7);
      }
    }
    return { batch: { series, points }, metadata, staleMarks, unsupported };
  }

  #labelSet(
    buf: Buffer,
    view: DataView,
    labelStart: number,
    labelEnd: number,
    tsStart: number,
    tsEnd: number,
    contiguous: boolean,
  ): LabelSet {
    if (!contiguous) {
      // Labels interleaved with other fields (no known sender does this): parse, then key by text.
      const parsed = readLabels(buf, tsStart, tsEnd);
      const text = JSON.stringify([parsed.key, parsed.tags]);
      let set = this.#byText.get(text);
      if (!set) {
        set = { key: parsed.key, tags: parsed.tags, bytes: null, next: null, epoch: 0, index: 0, memo: newMemo() };
        this.#remember();
        this.#byText.set(text, set);
      }
      return set;
    }
    if (labelStart === -1) labelStart = labelEnd = tsStart;
    const h = hashBytes(buf, view, labelStart, labelEnd);
    const first = this.#byHash.get(h);
    for (let s: LabelSet | null | undefined = first; s; s = s.next) {
      if (s.bytes!.length === labelEnd - labelStart && s.bytes!.compare(buf, labelStart, labelEnd) === 0) return s;
    }
    const parsed = readLabels(buf, labelStart, labelEnd);
    // A copy, not a view: the request's buffer must not be kept alive by the cache.
    const bytes = Buffer.from(buf.subarray(labelStart, labelEnd));
    const set: LabelSet = { key: parsed.key, tags: parsed.tags, bytes, next: null, epoch: 0, index: 0, memo: newMemo() };
    this.#remember();
    set.next = this.#byHash.get(h) ?? null;
    this.#byHash.set(h, set);
    return set;
  }

  #remember(): void {
    if (this.#size >= this.#max) {
      this.#byHash.clear();
      this.#byText.clear();
      this.#size = 0;
    }
    this.#size++;
  }
}

export function newMemo(): SeriesMemo {
  return { hi: 0, lo: 0, idSet: false, validFor: null, seenBy: undefined, seenSlot: 0 };
}

/** A 32-bit hash of buf[start, end), four bytes at a time. */
function hashBytes(buf: Buffer, view: DataView, start: number, end: number): number {
  let h = 0x811c9dc5 ^ (end - start);
  let p = start;
  for (; p + 4 <= end; p += 4) {
    h = Math.imul(h ^ view.getUint32(p, true), 0x9e3779b1);
    h ^= h >>> 15;
  }
  for (; p < end; p++) h = Math.imul(h ^ buf[p], 0x01000193);
  return (h ^ (h >>> 13)) | 0;
}

/** The Label messages among buf[start, end) (fields of a TimeSeries). */
function readLabels(buf: Buffer, start: number, end: number): { key: string; tags: Record<string, string> } {
  const r = new ProtoReader(buf, start, end);
  let key = '';
  const tags: Record<string, string> = {};
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag !== TAG_LABEL) {
      r.skip(tag & 7);
      continue;
    }
    const le = r.lenEnd();
    r.end = le;
    let name = '';
    let value = '';
    while (r.pos < le) {
      const ltag = r.uint32();
      if (ltag === ((1 << 3) | WIRE_LEN)) name = r.string();
      else if (ltag === ((2 << 3) | WIRE_LEN)) value = r.string();
      else r.skip(ltag & 7);
    }
    r.end = end;
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
