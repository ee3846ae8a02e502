import { DecodeBudget, NO_DECODE_LIMITS, type DecodeLimits } from './decode-limits.js';
import { METRIC_TYPES, newMemo, type MetricMetadata, type RemoteWriteResult, type StaleMark } from './decode-remote-write.js';
import { ProtoError, ProtoReader, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT } from './protobuf.js';
import { drain } from './slices.js';
import type { SeriesMemo, SeriesSamples } from './types.js';

/**
 * Prometheus remote write 2.0: an `io.prometheus.write.v2.Request`, already snappy-decoded
 * (prompb/io/prometheus/write/v2/types.proto):
 *
 *   Request    { repeated string symbols = 4; repeated TimeSeries timeseries = 5; }
 *   TimeSeries { repeated uint32 labels_refs = 1; repeated Sample samples = 2;
 *                repeated Histogram histograms = 3; repeated Exemplar exemplars = 4;
 *                Metadata metadata = 5; int64 created_timestamp = 6; }
 *   Sample     { double value = 1; int64 timestamp = 2; int64 start_timestamp = 3; }
 *   Metadata   { MetricType type = 1; uint32 help_ref = 3; uint32 unit_ref = 4; }
 *
 * Every string is an index into `symbols`; labels_refs holds (name, value) index pairs.
 * Mapping as in 1.0 (decode-remote-write.ts): `__name__` -> key, other labels -> tags,
 * staleness markers -> `staleMarks`, histograms and exemplars counted as unsupported. A
 * series' metadata (type, help, unit; at least one set) becomes its metric's metadata, once
 * per metric per request. Start timestamps (Sample.start_timestamp, and the older
 * TimeSeries.created_timestamp that Prometheus 3.0-3.4 sends) are read and not stored: the
 * store keeps (series, time, value) only; they are counted in `startTimestamps`.
 *
 * A reference outside the symbols table, or an odd number of label refs, is an error naming
 * the series and the ref (ProtoError: the route answers 400).
 *
 * Hot path: a label set is recognised across requests by its symbols' bytes (their indices
 * differ from request to request): a hash over the referenced symbols, confirmed by comparing
 * them with the bytes kept in the cache entry. Strings are decoded only for a label set not
 * seen before. Per request, the decoder keeps one int per symbol (where it starts).
 */

export interface RemoteWriteV2Result extends RemoteWriteResult {
  /** Start (created) timestamps read and not stored. */
  startTimestamps: number;
}

interface LabelSet {
  key: string;
  tags: Record<string, string>;
  /** The referenced symbols, each as its length varint + bytes, in label order. */
  bytes: Buffer;
  next: LabelSet | null;
  epoch: number;
  index: number;
  memo: SeriesMemo;
}

export interface RemoteWriteV2DecoderOptions {
  /** Label sets remembered across requests; the cache is emptied when it grows past this. */
  maxCachedLabelSets?: number;
}

const TAG_SYMBOL = (4 << 3) | WIRE_LEN;
const TAG_TIMESERIES = (5 << 3) | WIRE_LEN;
const TAG_REFS_PACKED = (1 << 3) | WIRE_LEN;
const TAG_REF = (1 << 3) | WIRE_VARINT;
const TAG_SAMPLE = (2 << 3) | WIRE_LEN;
const TAG_HISTOGRAM = (3 << 3) | WIRE_LEN;
const TAG_EXEMPLAR = (4 << 3) | WIRE_LEN;
const TAG_METADATA = (5 << 3) | WIRE_LEN;
const TAG_CREATED = (6 << 3) | WIRE_VARINT;
const TAG_VALUE = (1 << 3) | WIRE_FIXED64;
const TAG_TIMESTAMP = (2 << 3) | WIRE_VARINT;
const TAG_START = (3 << 3) | WIRE_VARINT;

/** Decodes v2 Requests, remembering label sets between requests. One per server (see v1). */
export class RemoteWriteV2Decoder {
  readonly #byHash = new Map<number, LabelSet>();
  readonly #max: number;
  #size = 0;
  #epoch = 0;
  /** Scratch: the current series' label refs (grown as needed, never shrunk). */
  #refs = new Uint32Array(64);

  constructor(opts: RemoteWriteV2DecoderOptions = {}) {
    this.#max = opts.maxCachedLabelSets ?? 100_000;
  }

  get cachedLabelSets(): number {
    return this.#size;
  }

  decode(input: Uint8Array, limits: DecodeLimits = NO_DECODE_LIMITS): RemoteWriteV2Result {
    return drain(this.steps(input, limits));
  }

  /** `decode` in slices: yields every 1,024 time series (see slices.ts). */
  *steps(input: Uint8Array, limits: DecodeLimits = NO_DECODE_LIMITS): Generator<void, RemoteWriteV2Result> {
    const budget = new DecodeBudget(limits);
    const maxLabels = limits.maxLabels;
    const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    const epoch = ++this.#epoch;
    const r = new ProtoReader(buf);
    const view = r.view;
    const requestEnd = r.end;

    // Pass 1: where each symbol starts (at its length varint); the table may follow the series.
    // In chunks of 64 Ki positions, yielding every 16 Ki: a body can be all symbols (millions),
    // and growing one array by copying stalled the event loop for 100s of ms at 8 M symbols.
    const symPos: Int32Array[] = [];
    let symbols = 0;
    while (r.pos < requestEnd) {
      const tag = r.uint32();
      if (tag === TAG_SYMBOL) {
        const at = symbols & SYM_MASK;
        if ((symbols & 0x3fff) === 0 && symbols > 0) yield;
        if (at === 0) symPos.push(new Int32Array(SYM_CHUNK));
        symPos[symPos.length - 1][at] = r.pos;
        symbols++;
        r.pos = r.lenEnd();
      } else r.skip(tag & 7);
    }

    const series: SeriesSamples[] = [];
    const metadata: MetricMetadata[] = [];
    const metaSeen = new Set<string>();
    const staleMarks: StaleMark[] = [];
    const unsupported = { histograms: 0, exemplars: 0, firstMetric: '' };
    let points = 0;
    let startTimestamps = 0;
    let tsIndex = -1;

    const symbol = (ref: number, field: string, at: number): string => {
      if (ref >= symbols) throw new ProtoError(`${field} = ${ref} is not in the symbols table (${symbols} symbols)`, at);
      const p = new ProtoReader(buf, symbolAt(symPos, ref), requestEnd, view);
      return p.string();
    };

    r.pos = 0;
    let skipped = 0;
    while (r.pos < requestEnd) {
      const tag = r.uint32();
      if (tag !== TAG_TIMESERIES) {
        if ((++skipped & 0x3fff) === 0) yield;
        r.skip(tag & 7);
        continue;
      }
      if ((++tsIndex & 1023) === 1023) yield;
      const tsEnd = r.lenEnd();
      const tsStart = r.pos;
      r.end = tsEnd;
      // Pass 1 over the series: its refs, counts and where its metadata is.
      let nRefs = 0;
      let samples = 0;
      let histograms = 0;
      let exemplars = 0;
      let metaStart = -1;
      let metaEnd = -1;
      while (r.pos < tsEnd) {
        const t = r.uint32();
        if (t === TAG_REFS_PACKED) {
          const end = r.lenEnd();
          r.end = end;
          while (r.pos < end) {
            nRefs = this.#pushRef(nRefs, r.uint32(), maxLabels, budget, tsIndex);
          }
          r.end = tsEnd;
        } else if (t === TAG_REF) nRefs = this.#pushRef(nRefs, r.uint32(), maxLabels, budget, tsIndex);
        else if (t === TAG_SAMPLE) {
          samples++;
          r.pos = r.lenEnd();
        } else if (t === TAG_METADATA) {
          metaEnd = r.lenEnd();
          metaStart = r.pos;
          r.pos = metaEnd;
        } else if (t === TAG_CREATED) {
          if (r.int64() !== 0) startTimestamps++;
        } else {
          if (t === TAG_HISTOGRAM) histograms++;
          else if (t === TAG_EXEMPLAR) exemplars++;
          r.skip(t & 7);
        }
      }
      if (nRefs & 1) throw new ProtoError(`timeseries[${tsIndex}].labels_refs has ${nRefs} refs; name and value pairs expected`, tsStart);
      const refs = this.#refs;
      for (let i = 0; i < nRefs; i++) {
        if (refs[i] >= symbols) {
          throw new ProtoError(`timeseries[${tsIndex}].labels_refs[${i}] = ${refs[i]} is not in the symbols table (${symbols} symbols)`, tsStart);
        }
      }
      const set = this.#labelSet(buf, view, symPos, nRefs, requestEnd);
      if (metaStart !== -1) {
        r.pos = metaStart;
        r.end = metaEnd;
        let type = 0;
        let help = 0;
        let unit = 0;
        while (r.pos < metaEnd) {
          const t = r.uint32();
          if (t === ((1 << 3) | WIRE_VARINT)) type = r.uint32();
          else if (t === ((3 << 3) | WIRE_VARINT)) help = r.uint32();
          else if (t === ((4 << 3) | WIRE_VARINT)) unit = r.uint32();
          else r.skip(t & 7);
        }
        r.end = tsEnd;
        const field = `timeseries[${tsIndex}].metadata`;
        const helpText = symbol(help, `${field}.help_ref`, metaStart);
        const unitText = symbol(unit, `${field}.unit_ref`, metaStart);
        if ((type !== 0 || helpText !== '' || unitText !== '') && set.key !== '' && !metaSeen.has(set.key)) {
          metaSeen.add(set.key);
          budget.addSeries(1, field);
          metadata.push({ metric: set.key, type: METRIC_TYPES[type] ?? 'unknown', help: helpText, unit: unitText });
        }
      }
      if (exemplars > 0 || histograms > 0) {
        unsupported.exemplars += exemplars;
        unsupported.histograms += histograms;
        if (!unsupported.firstMetric) unsupported.firstMetric = set.key || '(no __name__)';
      }
      if (samples > 0) {
        budget.addSamples(samples, `timeseries[${tsIndex}].samples`);
        let out: SeriesSamples | null = set.epoch === epoch ? series[set.index] : null;
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
            else if (st === TAG_START) {
              if (r.int64() !== 0) startTimestamps++;
            } else r.skip(st & 7);
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
    }
    return { batch: { series, points }, metadata, staleMarks, unsupported, startTimestamps };
  }

  /** Append a label ref to the scratch, counting labels against the limit as they come. */
  #pushRef(n: number, ref: number, maxLabels: number, budget: DecodeBudget, tsIndex: number): number {
    if (n >= 2 * maxLabels) budget.labels(Math.floor(n / 2) + 1, `timeseries[${tsIndex}].labels_refs`);
    if (n === this.#refs.length) {
      const grown = new Uint32Array(n * 2);
      grown.set(this.#refs);
      this.#refs = grown;
    }
    this.#refs[n] = ref;
    return n + 1;
  }

  /** The cached label set of the refs in the scratch (all checked to be in the table). */
  #labelSet(buf: Buffer, view: DataView, symPos: Int32Array[], nRefs: number, end: number): LabelSet {
    const refs = this.#refs;
    // Hash the referenced symbols, each from its length varint to its last byte.
    let h = 0x811c9dc5 ^ nRefs;
    let total = 0;
    for (let i = 0; i < nRefs; i++) {
      const start = symbolAt(symPos, refs[i]);
      const stop = symbolEnd(buf, start, end);
      total += stop - start;
      let p = start;
      for (; p + 4 <= stop; p += 4) {
        h = Math.imul(h ^ view.getUint32(p, true), 0x9e3779b1);
        h ^= h >>> 15;
      }
      for (; p < stop; p++) h = Math.imul(h ^ buf[p], 0x01000193);
      h = Math.imul(h ^ 0xff, 0x01000193);
    }
    h = (h ^ (h >>> 13)) | 0;
    for (let s: LabelSet | null | undefined = this.#byHash.get(h); s; s = s.next) {
      if (s.bytes.length === total && sameSymbols(s.bytes, buf, symPos, refs, nRefs, end)) return s;
    }
    const bytes = Buffer.allocUnsafe(total);
    let o = 0;
    let key = '';
    const tags: Record<string, string> = {};
    for (let i = 0; i < nRefs; i += 2) {
      const ns = symbolAt(symPos, refs[i]);
      const ne = symbolEnd(buf, ns, end);
      const vs = symbolAt(symPos, refs[i + 1]);
      const ve = symbolEnd(buf, vs, end);
      o += buf.copy(bytes, o, ns, ne);
      o += buf.copy(bytes, o, vs, ve);
      const name = new ProtoReader(buf, ns, ne).string();
      const value = new ProtoReader(buf, vs, ve).string();
      if (name === '__name__') key = value;
      else tags[name] = value;
    }
    const set: LabelSet = { key, tags, bytes, next: null, epoch: 0, index: 0, memo: newMemo() };
    if (this.#size >= this.#max) {
      this.#byHash.clear();
      this.#size = 0;
    }
    this.#size++;
    set.next = this.#byHash.get(h) ?? null;
    this.#byHash.set(h, set);
    return set;
  }
}

const SYM_CHUNK = 65_536;
const SYM_MASK = SYM_CHUNK - 1;

/** Where symbol `ref` starts (its length varint); `ref` is known to be in the table. */
function symbolAt(chunks: Int32Array[], ref: number): number {
  return chunks[ref >>> 16][ref & SYM_MASK];
}

/** The end of the symbol whose length varint starts at `start` (bounds checked in pass 1). */
function symbolEnd(buf: Buffer, start: number, end: number): number {
  let p = start;
  let len = 0;
  for (let shift = 0; ; shift += 7) {
    const c = buf[p++];
    len += (c & 0x7f) * 2 ** shift;
    if (c < 0x80) break;
  }
  const stop = p + len;
  if (stop > end) throw new ProtoError('symbol runs past the end of the request', start);
  return stop;
}

/** Do the referenced symbols, laid end to end, equal `bytes`? */
function sameSymbols(bytes: Buffer, buf: Buffer, symPos: Int32Array[], refs: Uint32Array, nRefs: number, end: number): boolean {
  let o = 0;
  for (let i = 0; i < nRefs; i++) {
    const start = symbolAt(symPos, refs[i]);
    const stop = symbolEnd(buf, start, end);
    for (let p = start; p < stop; p++, o++) if (bytes[o] !== buf[p]) return false;
  }
  return true;
}
