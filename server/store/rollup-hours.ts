/**
 * Which hours' rollups readers may take, kept in process on a store no other process writes to
 * (like series-cache.ts): the rollup job records an hour here once its rows and its
 * rollup_windows record are written, and the writer takes an hour out before it writes samples
 * into it after it closed. Then a rollup read knows the done hours of its range without a query
 * (server/rollups/sql.ts); without this (a remote ClickHouse), readers ask rollup_windows and
 * rollup_dirty in the SQL itself.
 */
export class RollupHours {
  /** hour (its end, in hours) -> the gen to read. */
  readonly #done = new Map<number, number>();
  #loaded = false;

  /** Whether the job has loaded what the tables hold (until then readers ask the tables). */
  get loaded(): boolean {
    return this.#loaded;
  }

  /** Replace everything with what the tables say (the job's first look at them). */
  load(done: Iterable<[number, number]>): void {
    this.#done.clear();
    for (const [w, gen] of done) this.#done.set(w, gen);
    this.#loaded = true;
  }

  /** Hour w is done: read its rows of `gen`. */
  done(w: number, gen: number): void {
    this.#done.set(w, gen);
  }

  /** Hour w is being written to after it closed: read it raw until it is done again. */
  dirty(w: number): void {
    this.#done.delete(w);
  }

  /** The done hours in [lo, hi] with their gens, ascending; null until loaded. */
  between(lo: number, hi: number): DoneHours | null {
    if (!this.#loaded) return null;
    const w: number[] = [];
    const gen: number[] = [];
    if (hi - lo < this.#done.size) {
      for (let h = lo; h <= hi; h++) {
        const g = this.#done.get(h);
        if (g !== undefined) (w.push(h), gen.push(g));
      }
    } else {
      const keys = [...this.#done.keys()].filter((h) => h >= lo && h <= hi).sort((a, b) => a - b);
      for (const h of keys) (w.push(h), gen.push(this.#done.get(h)!));
    }
    return { lo, hi, w, gen };
  }
}

/** The done hours of a range [lo, hi] (hours), and the gen of each. */
export interface DoneHours {
  lo: number;
  hi: number;
  w: number[];
  gen: number[];
}
