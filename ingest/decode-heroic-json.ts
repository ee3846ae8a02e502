import { NO_DECODE_LIMITS, type DecodeLimits } from './decode-limits.js';
import { newMemo } from './decode-remote-write.js';
import type { SeriesMemo, SeriesSamples, WriteBatch } from './types.js';

/**
 * Heroic JSON write bodies read straight from their bytes, with a cache of series objects
 * across requests (issue 11). The common body is an array of
 *   {"series": {"key": ..., "tags": {...}}, "data": {"type": "points", "data": [[ts, v], ...]}}
 * in which the series object is the bulk of the bytes and repeats request after request, in the
 * same order. Its raw bytes are recognised (the last request's successor tried first, else a hash
 * taken while skipping them) and confirmed against the bytes kept in the cache entry; only a
 * series not seen before is parsed (JSON.parse of that object alone). Points are read by hand.
 *
 * This is a fast path, not a second decoder: anything outside the plain form (another member,
 * an escape in a member name, a point that is not two JSON numbers, a malformed byte, a series
 * object `decodeHeroic` would refuse, a count past `limits`) answers null, and the route decodes
 * the body with JSON.parse + decodeHeroic, which gives the same batch or the errors. So every
 * error answer stays theirs; what is accepted here is exactly what they would accept, with the
 * same values (numbers are converted exactly as JSON.parse does: Clinger's fast path, where both
 * operands are exact doubles and one operation rounds correctly, else `Number` of the text).
 *
 * Why: JSON.parse builds ~14 objects per point of a sparse body (item, series, tags, strings,
 * pair, numbers), half the main thread's time with GC. `npm run bench:decode`, sparse (5,000
 * series x 1 point), decode + validate + columns: 7.5 -> 1.8 ms per body (docs/ARCHITECTURE.md).
 */

interface CachedSeries {
  key: string;
  tags: Record<string, string>;
  /** Tags + 1, as decodeHeroic counts them against maxLabels. */
  labels: number;
  /** The series object's raw bytes (a copy, so no request buffer is kept alive). */
  bytes: Buffer;
  /** Next entry with the same hash. */
  next: CachedSeries | null;
  /** The series that followed this one in the last request that had it, and the cache generation of this entry. */
  after: CachedSeries | null;
  generation: number;
  /** Id and validation of this series, kept across requests (types.ts). */
  memo: SeriesMemo;
}

export interface HeroicJsonDecoderOptions {
  /** Series objects remembered across requests; the cache is emptied when it grows past this. */
  maxCachedSeries?: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

const SERIES = Buffer.from('"series"');
const DATA = Buffer.from('"data"');
const TYPE = Buffer.from('"type"');
const POINTS = Buffer.from('"points"');

/** 10^0 .. 10^22: the powers of ten a double holds exactly. */
const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

/**
 * One per server: decoding is synchronous, so the scratch fields below are never shared
 * mid-request.
 */
export class HeroicJsonDecoder {
  readonly #byHash = new Map<number, CachedSeries>();
  readonly #max: number;
  #size = 0;
  /** Bumped when the cache is emptied: an entry of an older generation is never handed out again. */
  #generation = 0;
  /** The first series of the last request, and the series before the one being read. */
  #head: CachedSeries | null = null;
  #last: CachedSeries | null = null;
  // Results of the scanning helpers, which return the position after what they read (-1: not plain).
  #series: CachedSeries | null = null;
  #timestamps: number[] = [];
  #values: number[] = [];
  #number = 0;
  #timestamp = 0;
  #value = 0;

  constructor(opts: HeroicJsonDecoderOptions = {}) {
    this.#max = opts.maxCachedSeries ?? 100_000;
  }

  get cachedSeries(): number {
    return this.#size;
  }

  /**
   * The batch of a plain Heroic JSON body (an array of items), or null when the body must go
   * through JSON.parse + decodeHeroic instead (see above). Never adds issues: a body it accepts
   * has none.
   */
  decode(body: Buffer, limits: DecodeLimits = NO_DECODE_LIMITS): WriteBatch | null {
    const b = body;
    let p = ws(b, 0);
    if (b[p] !== OPEN_BRACKET) return null;
    p = ws(b, p + 1);
    if (b[p] === CLOSE_BRACKET) return null; // an empty array: rare, left to the general path
    const series: SeriesSamples[] = [];
    let points = 0;
    this.#last = null;
    for (;;) {
      if (b[p] !== OPEN_BRACE) return null;
      p = ws(b, p + 1);
      let entry: CachedSeries | null = null;
      let timestamps: number[] | null = null;
      let values: number[] = this.#values;
      for (;;) {
        if (startsWith(b, p, SERIES)) {
          if (entry !== null) return null;
          p = ws(b, p + SERIES.length);
          if (b[p] !== COLON) return null;
          p = this.#readSeries(b, ws(b, p + 1));
          if (p < 0) return null;
          entry = this.#series;
        } else if (startsWith(b, p, DATA)) {
          if (timestamps !== null) return null;
          p = ws(b, p + DATA.length);
          if (b[p] !== COLON) return null;
          p = this.#readData(b, ws(b, p + 1));
          if (p < 0) return null;
          timestamps = this.#timestamps;
          values = this.#values;
        } else return null;
        p = ws(b, p);
        if (b[p] === COMMA) {
          p = ws(b, p + 1);
          continue;
        }
        if (b[p] !== CLOSE_BRACE) return null;
        p = ws(b, p + 1);
        break;
      }
      if (entry === null || timestamps === null) return null;
      // decodeHeroic's limits, in any order: past any of them the general path throws its error.
      points += timestamps.length;
      if (series.length >= limits.maxSeries || points > limits.maxSamples || entry.labels > limits.maxLabels) return null;
      series.push({ key: entry.key, tags: entry.tags, timestamps, values, memo: entry.memo });
      if (b[p] === COMMA) {
        p = ws(b, p + 1);
        continue;
      }
      if (b[p] !== CLOSE_BRACKET) return null;
      p = ws(b, p + 1);
      break;
    }
    if (p !== b.length) return null;
    return { series, points };
  }

  /**
   * The series object at p. Senders write their series in the same order request after request,
   * so the series that followed the previous one last time is tried first: if the body continues
   * with its bytes (one native compare), it is that series (an object's end is decided by its
   * bytes alone). Otherwise the object is hashed while skipped and looked up; parsed only if new.
   */
  #readSeries(b: Buffer, p: number): number {
    if (b[p] !== OPEN_BRACE) return -1;
    const last = this.#last;
    const guess = last === null ? this.#head : last.after;
    if (guess !== null && guess.generation === this.#generation) {
      const n = guess.bytes.length;
      if (p + n <= b.length && guess.bytes.compare(b, p, p + n) === 0) return this.#found(guess, p + n);
    }
    const start = p;
    const end = b.length;
    let depth = 0;
    let h = 0x811c9dc5;
    for (;;) {
      if (p >= end) return -1;
      const c = b[p++];
      h = Math.imul(h ^ c, 0x01000193);
      if (c === QUOTE) {
        for (;;) {
          if (p >= end) return -1;
          const d = b[p++];
          h = Math.imul(h ^ d, 0x01000193);
          if (d === QUOTE) break;
          if (d === BACKSLASH) {
            if (p >= end) return -1;
            h = Math.imul(h ^ b[p++], 0x01000193);
          }
        }
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && --depth === 0) break;
    }
    const length = p - start;
    for (let e: CachedSeries | null | undefined = this.#byHash.get(h); e; e = e.next) {
      if (e.bytes.length === length && e.bytes.compare(b, start, p) === 0) return this.#found(e, p);
    }
    // Not seen before: the checks decodeHeroic makes on "series", on this object alone.
    let meta: { key?: unknown; tags?: unknown };
    try {
      meta = JSON.parse(b.toString('utf8', start, p)) as { key?: unknown; tags?: unknown };
    } catch {
      return -1;
    }
    if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return -1;
    const tags = meta.tags ?? {};
    if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) return -1;
    let labels = 1;
    for (const _ in tags) labels++;
    if (this.#size >= this.#max) {
      this.#byHash.clear();
      this.#size = 0;
      this.#generation++;
    }
    this.#size++;
    const entry: CachedSeries = {
      key: meta.key as string,
      tags: tags as Record<string, string>,
      labels,
      bytes: Buffer.from(b.subarray(start, p)),
      next: this.#byHash.get(h) ?? null,
      after: null,
      generation: this.#generation,
      memo: newMemo(),
    };
    this.#byHash.set(h, entry);
    return this.#found(entry, p);
  }

  /** Note `entry` as the series being read (and as the successor of the one before); returns p. */
  #found(entry: CachedSeries, p: number): number {
    if (this.#last === null) this.#head = entry;
    else this.#last.after = entry;
    this.#last = entry;
    this.#series = entry;
    return p;
  }

  /** {"type": "points", "data": [[ts, v], ...]} at p (type optional, members in any order). */
  #readData(b: Buffer, p: number): number {
    if (b[p] !== OPEN_BRACE) return -1;
    p = ws(b, p + 1);
    let typed = false;
    let read = false;
    for (;;) {
      if (startsWith(b, p, TYPE)) {
        if (typed) return -1;
        typed = true;
        p = ws(b, p + TYPE.length);
        if (b[p] !== COLON) return -1;
        p = ws(b, p + 1);
        if (!startsWith(b, p, POINTS)) return -1;
        p += POINTS.length;
      } else if (startsWith(b, p, DATA)) {
        if (read) return -1;
        read = true;
        p = ws(b, p + DATA.length);
        if (b[p] !== COLON) return -1;
        p = this.#readPoints(b, ws(b, p + 1));
        if (p < 0) return -1;
      } else return -1;
      p = ws(b, p);
      if (b[p] === COMMA) {
        p = ws(b, p + 1);
        continue;
      }
      if (b[p] !== CLOSE_BRACE || !read) return -1;
      return p + 1;
    }
  }

  /** [[ts, v], ...] at p, into fresh #timestamps and #values (one-point arrays made whole: the sparse case). */
  #readPoints(b: Buffer, p: number): number {
    if (b[p] !== OPEN_BRACKET) return -1;
    p = ws(b, p + 1);
    if (b[p] === CLOSE_BRACKET) {
      this.#timestamps = [];
      this.#values = [];
      return p + 1;
    }
    p = this.#readPair(b, p);
    if (p < 0) return -1;
    const timestamps = [this.#timestamp];
    const values = [this.#value];
    this.#timestamps = timestamps;
    this.#values = values;
    for (;;) {
      p = ws(b, p);
      if (b[p] === CLOSE_BRACKET) return p + 1;
      if (b[p] !== COMMA) return -1;
      p = this.#readPair(b, ws(b, p + 1));
      if (p < 0) return -1;
      timestamps.push(this.#timestamp);
      values.push(this.#value);
    }
  }

  /** [ts, v] at p, into #timestamp and #value. */
  #readPair(b: Buffer, p: number): number {
    if (b[p] !== OPEN_BRACKET) return -1;
    p = this.#readNumber(b, ws(b, p + 1));
    if (p < 0) return -1;
    this.#timestamp = this.#number;
    p = ws(b, p);
    if (b[p] !== COMMA) return -1;
    p = this.#readNumber(b, ws(b, p + 1));
    if (p < 0) return -1;
    this.#value = this.#number;
    p = ws(b, p);
    if (b[p] !== CLOSE_BRACKET) return -1;
    return p + 1;
  }

  /** A JSON number at p (RFC 8259 grammar), as JSON.parse would give it. */
  #readNumber(b: Buffer, p: number): number {
    const start = p;
    const negative = b[p] === MINUS;
    if (negative) p++;
    let c = b[p];
    let mantissa = 0;
    let digits = 0;
    let exponent = 0;
    if (c === ZERO) c = b[++p];
    else if (c > ZERO && c <= NINE) {
      do {
        mantissa = mantissa * 10 + (c - ZERO);
        digits++;
        c = b[++p];
      } while (c >= ZERO && c <= NINE);
    } else return -1;
    if (c === DOT) {
      c = b[++p];
      if (!(c >= ZERO && c <= NINE)) return -1;
      do {
        mantissa = mantissa * 10 + (c - ZERO);
        digits++;
        exponent--;
        c = b[++p];
      } while (c >= ZERO && c <= NINE);
    }
    if (c === 0x65 || c === 0x45) {
      c = b[++p];
      let sign = 1;
      if (c === PLUS || c === MINUS) {
        if (c === MINUS) sign = -1;
        c = b[++p];
      }
      if (!(c >= ZERO && c <= NINE)) return -1;
      let e = 0;
      do {
        e = e * 10 + (c - ZERO);
        c = b[++p];
      } while (c >= ZERO && c <= NINE);
      exponent += sign * e;
    }
    if (digits <= 15 && exponent >= -22 && exponent <= 22) {
      // At most 15 digits: the mantissa is an exact double, and so is 10^|exponent|.
      const v = exponent === 0 ? mantissa : exponent > 0 ? mantissa * POW10[exponent] : mantissa / POW10[-exponent];
      this.#number = negative ? -v : v;
    } else {
      this.#number = Number(b.toString('latin1', start, p));
    }
    return p;
  }
}

/** The position of the first non-whitespace byte (JSON's four) at or after p. */
function ws(b: Buffer, p: number): number {
  for (;;) {
    const c = b[p];
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
    else return p;
  }
}

function startsWith(b: Buffer, p: number, word: Buffer): boolean {
  if (p + word.length > b.length) return false;
  for (let i = 0; i < word.length; i++) if (b[p + i] !== word[i]) return false;
  return true;
}
