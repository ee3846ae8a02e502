/**
 * Recent raw points kept in process, as Prometheus keeps its head block: the query engine reads
 * a leaf's samples from here instead of ClickHouse when the head holds every sample of the
 * leaf's span. A read of `points` costs 3-5 ms in ClickHouse before its first row, and a chdb
 * call ~1 ms more, which is most of a small dashboard query (docs/benchmarks.md); from here the
 * same leaf is a binary search and a loop.
 *
 * What "holds every sample" means. Only the embedded store has a head: its process is the
 * database's only writer, so every point committed after the head opened went through
 * insertPoints and is appended here after ClickHouse accepted it. At open the head asks for the
 * newest stored timestamp T0; from then on it holds every committed sample newer than T0 (and
 * newer than its window's start), whatever order they arrive in. Older samples written now are
 * kept too, but a span reaching back to them is not *covered*: ClickHouse may hold more there.
 * As time passes, or when the arrays outgrow HEAD_BYTES, the oldest samples are dropped and the
 * covered span starts later.
 *
 * A sample re-sent for a (series, timestamp) the head holds replaces it, as the points table's
 * ReplacingMergeTree keeps the last row written: the head answers as if each sample was written
 * once.
 */
import { Gauge, type Registry } from 'prom-client';
import type { PointColumns } from '../../ingest/types.js';

export interface HeadOptions {
  /** Most bytes the sample arrays may take; 0 keeps no head. */
  maxBytes: number;
  /** Samples older than now minus this (data time, ms) are dropped. */
  windowMs: number;
  now?: () => number;
}

/**
 * One series' samples, ascending by time; t and v hold n samples and spare capacity. They are
 * views of the head's slabs (see #alloc). `hi`/`lo` are its id's words; `next` chains the
 * series whose low words are equal (SeriesMap).
 */
interface Samples {
  t: Float64Array;
  v: Float64Array;
  n: number;
  readonly hi: number;
  readonly lo: number;
  next: Samples | undefined;
}

/** A series' samples in a span: views of the head's arrays, valid until the caller yields. */
export interface HeadSpan {
  t: Float64Array;
  v: Float64Array;
}

const BYTES_PER_SAMPLE = 16;
const MIN_CAPACITY = 16;
/**
 * Samples per slab (for t and v each), at most: 1 MiB a pair. A head smaller than 32 slabs gets
 * smaller ones, so that its bytes (which count whole slabs) can stay within HEAD_BYTES.
 */
const MAX_SLAB_SAMPLES = 65_536;
const MIN_SLAB_SAMPLES = 256;
/** How often appends move the window's start and compact the arrays (ms of wall time). */
const TRIM_EVERY_MS = 60_000;

/**
 * Series by the two signed 32-bit words of their id (as an Int32Array over the id column reads
 * them): appends look a run's series up without making a BigInt per run. One Map keyed by the
 * low word, whose entries chain the rare series sharing it: one lookup per run, and no Map per
 * series (a two-level map keyed by the high word first held an inner Map for nearly every
 * series, since the high words of hashed ids are all different).
 */
class SeriesMap {
  readonly #byLo = new Map<number, Samples>();
  size = 0;

  get(hi: number, lo: number): Samples | undefined {
    let s = this.#byLo.get(lo);
    while (s !== undefined && s.hi !== hi) s = s.next;
    return s;
  }

  /** Add a series that is not in the map. */
  add(s: Samples): void {
    s.next = this.#byLo.get(s.lo);
    this.#byLo.set(s.lo, s);
    this.size++;
  }

  delete(s: Samples): void {
    const first = this.#byLo.get(s.lo);
    if (first === undefined) return;
    if (first === s) {
      if (s.next === undefined) this.#byLo.delete(s.lo);
      else this.#byLo.set(s.lo, s.next);
    } else {
      let prev = first;
      while (prev.next !== undefined && prev.next !== s) prev = prev.next;
      if (prev.next !== s) return;
      prev.next = s.next;
    }
    s.next = undefined;
    this.size--;
  }

  clear(): void {
    this.#byLo.clear();
    this.size = 0;
  }

  /** Every series; deleting the one just yielded is allowed. */
  *values(): Generator<Samples> {
    for (const first of this.#byLo.values()) {
      for (let s: Samples | undefined = first; s !== undefined; ) {
        const next: Samples | undefined = s.next;
        yield s;
        s = next;
      }
    }
  }
}

function newSamples(hi: number, lo: number): Samples {
  return { t: EMPTY, v: EMPTY, n: 0, hi, lo, next: undefined };
}

const EMPTY = new Float64Array(0);

/** An id's words as SeriesMap keys: the low and the high 32 bits, signed. */
const lowWord = (id: bigint) => Number(BigInt.asIntN(32, id));
const highWord = (id: bigint) => Number(BigInt.asIntN(32, id >> 32n));

export class Head {
  readonly #series = new SeriesMap();
  /** Bytes of the slabs carved since the last compaction, and of the arrays too big for a slab. */
  #bytes = 0;
  /**
   * Sample arrays are carved from slabs (a pair of Float64Arrays) instead of being allocated one
   * by one: an ArrayBuffer per series and growth cost more CPU than the rest of an append (its
   * allocation, then V8 freeing it), a third of line protocol's ingest CPU with 10,000 series.
   * A series that grows leaves its old arrays in their slab, dead until the next compaction
   * (#compact: every TRIM_EVERY_MS, or when HEAD_BYTES is reached), which copies every series
   * into new slabs; the old ones are then garbage.
   */
  #slabT = new Float64Array(0);
  #slabV = new Float64Array(0);
  #slabUsed = 0;
  readonly #slabSamples: number;
  /** The head holds every committed sample newer than this (unix ms); +Infinity until open. */
  #coveredFrom = Infinity;
  /** Samples at or before this are not kept; +Infinity until open (nothing is kept). */
  #keepFrom = Infinity;
  #lastTrim = 0;
  readonly #now: () => number;

  constructor(readonly opts: HeadOptions) {
    this.#now = opts.now ?? Date.now;
    const fit = 2 ** Math.floor(Math.log2(Math.max(1, opts.maxBytes / BYTES_PER_SAMPLE / 32)));
    this.#slabSamples = Math.max(MIN_SLAB_SAMPLES, Math.min(MAX_SLAB_SAMPLES, fit));
  }

  get enabled(): boolean {
    return this.opts.maxBytes > 0;
  }

  /** Bytes the sample arrays take: whole slabs, their dead space until the next compaction included. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Series and samples held (counted when asked: /metrics). */
  get size(): { series: number; samples: number } {
    let samples = 0;
    for (const s of this.#series.values()) samples += s.n;
    return { series: this.#series.size, samples };
  }

  /** Samples at or before this (unix ms) are not kept; +Infinity until open. */
  get keptFrom(): number {
    return this.#keepFrom;
  }

  /** The start (exclusive, unix ms) of the span the head covers; +Infinity when it covers none. */
  get coveredFrom(): number {
    return this.#coveredFrom;
  }

  /**
   * Start holding points. `newestStored` is the newest timestamp in the points table (null when
   * it is empty): samples up to it may be stored without having passed through this process.
   */
  open(newestStored: number | null): void {
    if (!this.enabled) return;
    const now = this.#now();
    this.#keepFrom = now - this.opts.windowMs;
    this.#coveredFrom = Math.max(newestStored ?? -Infinity, this.#keepFrom);
    this.#lastTrim = now;
  }

  /**
   * Add points read back from ClickHouse for (from, through], then cover from `from` on. For a
   * span before the covered one only: every sample committed since open() is here already, so a
   * timestamp held keeps its value (it was written later than the row read).
   */
  load(from: number, series: Iterable<{ id: bigint; t: ArrayLike<number>; v: ArrayLike<number> }>): void {
    // Not open, or cleared: a load extends a covered span only.
    if (this.#keepFrom === Infinity || this.#coveredFrom === Infinity) return;
    for (const r of series) {
      const ts = Float64Array.from(r.t);
      const vs = Float64Array.from(r.v);
      const hi = highWord(r.id);
      const lo = lowWord(r.id);
      let s = this.#series.get(hi, lo);
      if (!s) this.#series.add((s = newSamples(hi, lo)));
      this.#merge(s, ts, vs, 0, ts.length, true);
      if (s.n === 0) {
        this.#release(s);
        this.#series.delete(s);
      }
    }
    this.#coveredFrom = Math.max(this.#keepFrom, Math.min(this.#coveredFrom, from));
    if (this.#bytes > this.opts.maxBytes) this.#shrink();
  }

  /**
   * Forget every sample and cover nothing: points changed behind the head's back (a deletion).
   * Appends go on; open() again to cover a span.
   */
  clear(): void {
    this.#series.clear();
    this.#newSlabs();
    this.#coveredFrom = Infinity;
  }

  /** Whether every committed sample in (from, +inf) is here. */
  covers(from: number): boolean {
    return from >= this.#coveredFrom;
  }

  /** Points ClickHouse has accepted. */
  append(points: PointColumns): void {
    if (this.#keepFrom === Infinity || points.length === 0) return;
    const ids = points.seriesId;
    // Runs of one series compared by the id's two 32-bit halves: no BigInt per point.
    const halves = new Int32Array(ids.buffer, ids.byteOffset, points.length * 2);
    let start = 0;
    for (let i = 1; i <= points.length; i++) {
      if (i < points.length && halves[2 * i] === halves[2 * start] && halves[2 * i + 1] === halves[2 * start + 1]) continue;
      this.#appendRun(halves[2 * start + 1], halves[2 * start], points.ts, points.value, start, i);
      start = i;
    }
    const now = this.#now();
    if (now - this.#lastTrim >= TRIM_EVERY_MS) this.#trim(now);
    if (this.#bytes > this.opts.maxBytes) this.#shrink();
  }

  /** The samples of a series in (from, to]; null when the head holds none there. */
  span(id: bigint, from: number, to: number): HeadSpan | null {
    const s = this.#series.get(highWord(id), lowWord(id));
    if (!s) return null;
    const lo = upperBound(s.t, s.n, from);
    const hi = upperBound(s.t, s.n, to);
    if (hi <= lo) return null;
    return { t: s.t.subarray(lo, hi), v: s.v.subarray(lo, hi) };
  }

  #appendRun(hi: number, lo: number, ts: Float64Array, vs: Float64Array, from: number, to: number): void {
    let s = this.#series.get(hi, lo);
    let sorted = true;
    let kept = 0;
    for (let i = from; i < to; i++) {
      if (ts[i] <= this.#keepFrom) continue;
      kept++;
      if (i > from && ts[i] <= ts[i - 1]) sorted = false;
    }
    if (kept === 0) return;
    if (!s) this.#series.add((s = newSamples(hi, lo)));
    if (sorted && (s.n === 0 || firstKept(ts, from, to, this.#keepFrom) > s.t[s.n - 1])) {
      this.#reserve(s, s.n + kept);
      for (let i = from; i < to; i++) {
        if (ts[i] <= this.#keepFrom) continue;
        s.t[s.n] = ts[i];
        s.v[s.n] = vs[i];
        s.n++;
      }
      return;
    }
    this.#merge(s, ts, vs, from, to);
  }

  /**
   * Merge points out of order into a series: one pass, a later write of a timestamp wins, or
   * with `keepHeld` the sample already held.
   */
  #merge(s: Samples, ts: Float64Array, vs: Float64Array, from: number, to: number, keepHeld = false): void {
    const order: number[] = [];
    let ordered = true;
    for (let i = from; i < to; i++) {
      if (!(ts[i] > this.#keepFrom)) continue;
      if (order.length > 0 && ts[i] < ts[order[order.length - 1]]) ordered = false;
      order.push(i);
    }
    // Stable: of equal timestamps, the one written last ends up last. Most runs that reach here
    // are in order already (a re-sent body, a backfill behind live data): then one linear merge.
    if (!ordered) order.sort((a, b) => ts[a] - ts[b] || a - b);
    const cap = Math.max(MIN_CAPACITY, s.n + order.length);
    const { t, v } = this.#alloc(cap);
    let n = 0;
    const push = (at: number, val: number) => {
      if (n > 0 && t[n - 1] === at) v[n - 1] = val;
      else {
        t[n] = at;
        v[n] = val;
        n++;
      }
    };
    let i = 0;
    let j = 0;
    let lastHeld = NaN;
    while (i < s.n || j < order.length) {
      if (!(j < order.length && (i >= s.n || ts[order[j]] <= s.t[i]))) {
        push(s.t[i], s.v[i]);
        i++;
        continue;
      }
      const at = ts[order[j]];
      const val = vs[order[j]];
      j++;
      if (keepHeld) {
        if (at === lastHeld) continue;
        if (i < s.n && s.t[i] === at) {
          push(at, s.v[i]);
          lastHeld = at;
          i++;
          continue;
        }
      } else if (i < s.n && s.t[i] === at) i++; // the held sample is replaced
      push(at, val);
    }
    this.#release(s);
    s.t = t;
    s.v = v;
    s.n = n;
  }

  #reserve(s: Samples, need: number): void {
    if (need <= s.t.length) return;
    const cap = Math.max(MIN_CAPACITY, need, Math.ceil(s.t.length * 1.5));
    const { t, v } = this.#alloc(cap);
    t.set(s.t.subarray(0, s.n));
    v.set(s.v.subarray(0, s.n));
    this.#release(s);
    s.t = t;
    s.v = v;
  }

  /** Arrays of `cap` samples: views of the current slab pair, or arrays of their own when big. */
  #alloc(cap: number): { t: Float64Array; v: Float64Array } {
    if (cap > this.#slabSamples / 4) {
      this.#bytes += cap * BYTES_PER_SAMPLE;
      return { t: new Float64Array(cap), v: new Float64Array(cap) };
    }
    if (this.#slabUsed + cap > this.#slabT.length) {
      this.#slabT = new Float64Array(this.#slabSamples);
      this.#slabV = new Float64Array(this.#slabSamples);
      this.#slabUsed = 0;
      this.#bytes += this.#slabSamples * BYTES_PER_SAMPLE;
    }
    const at = this.#slabUsed;
    this.#slabUsed += cap;
    return { t: this.#slabT.subarray(at, at + cap), v: this.#slabV.subarray(at, at + cap) };
  }

  /** A series' arrays are being replaced: arrays of their own stop counting (slab space stays until compaction). */
  #release(s: Samples): void {
    if (s.t.length > this.#slabSamples / 4) this.#bytes -= s.t.length * BYTES_PER_SAMPLE;
  }

  /** Start carving from new slabs; the arrays allocated before no longer count. */
  #newSlabs(): void {
    this.#slabT = new Float64Array(0);
    this.#slabV = new Float64Array(0);
    this.#slabUsed = 0;
    this.#bytes = 0;
  }

  /** Move the window's start to now - windowMs and compact the arrays. */
  #trim(now: number): void {
    this.#lastTrim = now;
    this.#dropThrough(now - this.opts.windowMs);
  }

  /**
   * Over HEAD_BYTES: drop the oldest samples until the rest take at most three quarters of it
   * (the cut found by bisecting over time, counting samples per series by binary search).
   */
  #shrink(): void {
    const target = Math.floor((this.opts.maxBytes * 0.75) / BYTES_PER_SAMPLE);
    let lo = this.#keepFrom;
    let hi = -Infinity;
    for (const s of this.#series.values()) if (s.n) hi = Math.max(hi, s.t[s.n - 1]);
    if (!Number.isFinite(lo)) {
      lo = Infinity;
      for (const s of this.#series.values()) if (s.n) lo = Math.min(lo, s.t[0] - 1);
    }
    const newer = (x: number) => {
      let c = 0;
      for (const s of this.#series.values()) c += s.n - upperBound(s.t, s.n, x);
      return c;
    };
    for (let k = 0; k < 50 && hi - lo > 1; k++) {
      const mid = Math.floor((lo + hi) / 2);
      if (newer(mid) > target) lo = mid;
      else hi = mid;
    }
    this.#dropThrough(hi);
  }

  /** Keep only samples newer than `cut`; the covered span starts no earlier than it. */
  #dropThrough(cut: number): void {
    if (cut <= this.#keepFrom) return;
    this.#keepFrom = cut;
    this.#coveredFrom = Math.max(this.#coveredFrom, cut);
    this.#compact(cut);
  }

  /**
   * Copy every series' samples newer than `cut` into new slabs, with a quarter of spare
   * capacity: the old slabs, their dead space included, are then garbage.
   */
  #compact(cut: number): void {
    this.#newSlabs();
    for (const s of this.#series.values()) {
      const k = upperBound(s.t, s.n, cut);
      const n = s.n - k;
      if (n === 0) {
        this.#series.delete(s);
        continue;
      }
      const { t, v } = this.#alloc(Math.max(MIN_CAPACITY, Math.ceil(n * 1.25)));
      t.set(s.t.subarray(k, s.n));
      v.set(s.v.subarray(k, s.n));
      s.t = t;
      s.v = v;
      s.n = n;
    }
  }
}

/** The head's size and span on /metrics. */
export function registerHeadMetrics(registry: Registry, head: Head): void {
  new Gauge({
    name: 'metronome_head_bytes',
    help: 'Bytes of the sample arrays of the head of recent points (HEAD_BYTES caps it).',
    registers: [registry],
    collect() {
      this.set(head.bytes);
    },
  });
  new Gauge({
    name: 'metronome_head_samples',
    help: 'Samples held by the head of recent points.',
    registers: [registry],
    collect() {
      this.set(head.size.samples);
    },
  });
  new Gauge({
    name: 'metronome_head_covered_from_seconds',
    help: 'Start of the span the head answers queries for (unix seconds); +Inf when it answers none.',
    registers: [registry],
    collect() {
      this.set(head.coveredFrom / 1000);
    },
  });
}

/** The first index in t[0..n) whose time is greater than x. */
function upperBound(t: Float64Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function firstKept(ts: Float64Array, from: number, to: number, keepFrom: number): number {
  for (let i = from; i < to; i++) if (ts[i] > keepFrom) return ts[i];
  return Infinity;
}
