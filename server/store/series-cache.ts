/**
 * What a store that sees every write to its database can tell the query engine without asking
 * ClickHouse: which series a selector matched (kept until a series row is written), and where
 * series_ends rows can be (so a leaf over a window with none skips its staleness query).
 *
 * Why (bench/query-profile.ts, `sum(up)`): a leaf paid three statements, a series count
 * (4.5-10 ms), the leaf itself with the series subquery inside it twice (27-37 ms), and a
 * series_ends lookup (5.5-7 ms), each with ClickHouse's fixed cost per statement (1.5-4 ms for
 * `SELECT 1`). With the selection known in process, the leaf takes the ids as a parameter and is
 * the only statement (10-15 ms).
 *
 * Only for a store no other process writes to (the embedded one): a remote ClickHouse may be
 * shared by several nodes, whose writes this process would not see.
 */

/** Cached selections: most entries, and most series rows over all entries. */
export interface SeriesCacheLimits {
  maxEntries: number;
  maxRows: number;
}

const DEFAULT_LIMITS: SeriesCacheLimits = { maxEntries: 1_000, maxRows: 100_000 };

interface Entry {
  value: unknown;
  rows: number;
}

export class SeriesCache {
  readonly #entries = new Map<string, Entry>();
  #rows = 0;
  #generation = 0;
  /** series_ends' time span (unix ms), null when unknown (not read yet, or a write could not be read). */
  #ends: { min: number; max: number; count: number } | null = null;
  #endsGeneration = 0;

  constructor(readonly limits: SeriesCacheLimits = DEFAULT_LIMITS) {}

  /** Changes whenever a series row is written: a lookup started before keeps its answer to itself. */
  get generation(): number {
    return this.#generation;
  }

  get<T>(key: string): T | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    // Least recently used first in iteration order.
    this.#entries.delete(key);
    this.#entries.set(key, e);
    return e.value as T;
  }

  /** Keep a lookup's answer, unless a series row was written since it started (`generation`). */
  set(key: string, value: unknown, rows: number, generation: number): void {
    if (generation !== this.#generation || rows > this.limits.maxRows) return;
    const old = this.#entries.get(key);
    if (old) {
      this.#rows -= old.rows;
      this.#entries.delete(key);
    }
    this.#entries.set(key, { value, rows });
    this.#rows += rows;
    for (const [k, e] of this.#entries) {
      if (this.#rows <= this.limits.maxRows && this.#entries.size <= this.limits.maxEntries) break;
      this.#entries.delete(k);
      this.#rows -= e.rows;
    }
  }

  /** A series row was written (or the database changed in a way not observed): forget every selection. */
  seriesWritten(): void {
    this.#generation++;
    this.#entries.clear();
    this.#rows = 0;
  }

  /** Whether a series_ends row may lie in (from, to]; undefined when the span is not known yet. */
  endsMayOverlap(from: number, to: number): boolean | undefined {
    const e = this.#ends;
    if (!e) return undefined;
    return e.count > 0 && e.max > from && e.min <= to;
  }

  /** Changes whenever series_ends is written. */
  get endsGeneration(): number {
    return this.#endsGeneration;
  }

  /** The span read from the table, kept unless a write landed since the read started. */
  setEnds(span: { min: number; max: number; count: number }, generation: number): void {
    if (generation === this.#endsGeneration) this.#ends = span;
  }

  /** series_ends rows at these times (unix ms) were written; NaN when they could not be read. */
  endsWritten(times: readonly number[]): void {
    this.#endsGeneration++;
    const e = this.#ends;
    if (!e) return;
    for (const t of times) {
      if (!Number.isFinite(t)) {
        this.#ends = null;
        return;
      }
      e.min = Math.min(e.min, t);
      e.max = Math.max(e.max, t);
      e.count++;
    }
  }

  /** Anything else changed the database (DDL, a statement we do not parse): forget everything. */
  reset(): void {
    this.seriesWritten();
    this.#endsGeneration++;
    this.#ends = null;
  }
}
