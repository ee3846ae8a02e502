/**
 * The rollup job: aggregates each closed hour from deduplicated raw points into rollup_1m and
 * rollup_1h, and records which hours are done (server/rollups/sql.ts has the SQL and the
 * reading rules). An hour closes `lateMs` after its end (the allowance for late samples); a
 * sample that arrives later still (a backfill, a client retrying after an outage) makes the
 * writer mark its hour dirty before the sample is written (RollupLedger.begin), readers read
 * that hour from raw points, and the job recomputes it on its next run.
 *
 * Crash safety without transactions: an hour's rows are written under a fresh gen and only
 * then is (hour, gen) recorded, in one single-row insert. A run that dies before that leaves
 * rows no reader takes; a run that died after it is complete.
 *
 * One process runs the job: the only node, or a cluster's leader (lead/follow); every node's
 * writer marks hours, and a follower learns the done hours from the tables (refresh).
 */
import type { Logger } from 'pino';
import { systemClock, type Clock, type TimerHandle } from '../alerting/clock.js';
import type { Store } from '../store/index.js';
import { currentTopology, type Topology } from '../store/topology.js';
import type { RollupHours } from '../store/rollup-hours.js';
import { genOfSql, HOUR_MS, hourOfMs, ledgerSql, oldestHourSql, rollup1hSql, rollup1mSql } from './sql.js';

/**
 * What the writer and the job share in process: a monotonic counter for versions and dirty
 * marks, the hours a flush is writing right now, and the allowance for late samples.
 */
export class RollupLedger {
  #last = 0;
  /** Hours with a flush in flight -> how many flushes. */
  readonly #writing = new Map<number, number>();
  /** Hours this process has marked dirty (persisted) -> the mark, until the job takes a version after it. */
  readonly #marked = new Map<number, number>();
  /** Hours -> the newest version the job took for it in this process. */
  readonly #taken = new Map<number, number>();
  /** Hours -> the newest mark handed out in this process (stored or not yet). */
  readonly #lastMark = new Map<number, number>();
  /** Whether sync() has seen the tables once. */
  #synced = false;
  /**
   * Whether the job runs in this process (one node; the leader of a cluster). A follower's marks
   * are taken by another process's job, which it does not see: each of its flushes into a closed
   * hour writes a mark, none relies on an earlier one still pending.
   */
  local = true;

  constructor(
    readonly clock: Clock,
    readonly lateMs: number,
    /** The done hours readers see in process (the embedded store's), told of every change. */
    readonly hours?: RollupHours,
  ) {}

  /** A value greater than any given before (and than `seed`ed ones): a version or a mark. */
  next(): number {
    this.#last = Math.max(this.#last + 1, this.clock.now());
    return this.#last;
  }

  /** Never hand out a value at or below v again (versions and marks found in the tables). */
  seed(v: number): void {
    if (v > this.#last) this.#last = v;
  }

  /** Whether hour w has closed: its end plus the allowance has passed. */
  closed(w: number, now = this.clock.now()): boolean {
    return w * HOUR_MS + this.lateMs <= now;
  }

  /**
   * A flush is about to write points at `ts[0..n)`: its hours are in flight (the job leaves them
   * alone) until `release`. `dirty` lists the closed hours to mark, with `at`, before the points
   * are written; call `marked` once the marks are stored.
   */
  begin(ts: Float64Array, n: number): Flight {
    const hours = new Set<number>();
    let prev = NaN;
    for (let i = 0; i < n; i++) {
      const w = Math.ceil(ts[i] / HOUR_MS);
      if (w !== prev) hours.add((prev = w));
    }
    for (const w of hours) this.#writing.set(w, (this.#writing.get(w) ?? 0) + 1);
    const now = this.clock.now();
    // A mark already stored and not yet taken by this process's job covers this flush too.
    const dirty = [...hours].filter((w) => this.closed(w, now) && !(this.local && (this.#marked.get(w) ?? -1) > (this.#taken.get(w) ?? -1)));
    const at = dirty.length ? this.next() : 0;
    // Readers stop taking these hours' rollups now, before any of the samples is written.
    for (const w of dirty) {
      this.#lastMark.set(w, at);
      this.hours?.dirty(w);
    }
    let released = false;
    return {
      dirty,
      at,
      marked: () => {
        for (const w of dirty) this.#marked.set(w, at);
      },
      release: () => {
        if (released) return;
        released = true;
        for (const w of hours) {
          const k = (this.#writing.get(w) ?? 1) - 1;
          if (k === 0) this.#writing.delete(w);
          else this.#writing.set(w, k);
        }
      },
    };
  }

  /** Whether a flush is writing into hour w. */
  writing(w: number): boolean {
    return this.#writing.has(w);
  }

  /** The job takes a version for hour w before it reads the hour's points. */
  take(w: number): number {
    const v = this.next();
    this.#taken.set(w, v);
    return v;
  }

  /**
   * What the tables say (ledgerSql, one row per hour): never hand out a value at or below one they
   * hold, and let readers take the hours recorded and not marked since, less the hours this
   * process marked after the version read (on the first look, every hour it marked since it
   * started: values handed out before the seed do not compare). The job's every run calls it,
   * and a follower's refresh (a cluster's leader runs the job).
   */
  sync(rows: readonly HourState[]): void {
    const version = new Map<number, number>();
    const done: [number, number][] = [];
    for (const r of rows) {
      this.seed(Math.max(r.v, r.m));
      version.set(r.w, r.v);
      if (r.rec && r.m <= r.v) done.push([r.w, r.g]);
    }
    this.hours?.load(done);
    for (const [w, mark] of this.#lastMark) {
      if (this.#synced && mark <= (version.get(w) ?? -1)) this.#lastMark.delete(w);
      else this.hours?.dirty(w);
    }
    this.#synced = true;
  }

  /** The job recorded hour w at version v with gen: readers may take it unless a mark came since. */
  recorded(w: number, v: number, gen: number): void {
    if ((this.#lastMark.get(w) ?? -1) < v) this.hours?.done(w, gen);
  }
}

/** An hour as the tables hold it (ledgerSql). */
export interface HourState {
  w: number;
  /** Its newest version (0: none). */
  v: number;
  /** Its newest dirty mark (0: none). */
  m: number;
  /** Whether it was ever recorded. */
  rec: boolean;
  /** The gen it is read at. */
  g: number;
}

/** Read the hours' states (ledgerSql). */
async function readLedger(store: Store): Promise<HourState[]> {
  const rows = await store.query<{ w: number; v: string; m: string; rec: number; g: string }>(ledgerSql());
  return rows.map((r) => ({ w: Number(r.w), v: Number(r.v), m: Number(r.m), rec: Number(r.rec) === 1, g: Number(r.g) }));
}

/** One flush's hours, from RollupLedger.begin. */
export interface Flight {
  /** Closed hours to mark dirty before the points are written. */
  dirty: number[];
  at: number;
  marked(): void;
  release(): void;
}

export interface RollupJobOptions {
  /** Time between runs; 0: never scheduled (tests call runOnce). */
  intervalMs: number;
  /** Hours that start before now - this are not recomputed: their raw points may be partly expired. */
  rawRetentionMs: number;
  /**
   * Other processes write this store (cluster mode), and their flushes in flight are unknown here:
   * a dirty hour is recomputed only once its newest mark is `lateMs` old (the flush that wrote it
   * has landed), and recorded at version now - lateMs, below the mark of any flush that may still
   * be landing (which then makes the hour dirty again).
   */
  shared?: boolean;
  log: Logger;
}

/** What a run did. */
export interface RunResult {
  /** Hours written (new or recomputed). */
  hours: number[];
  /** Hours left for the next run: a flush was writing into them. */
  deferred: number[];
  /** Dirty hours too old for raw points, confirmed as they were. */
  kept: number[];
}

export class RollupJob {
  #timer: TimerHandle | null = null;
  #running: Promise<RunResult> | null = null;
  #stopped = false;
  /** Set while this process does not run the job (a follower): a run in progress stops between hours. */
  #halted = false;
  /** Counts lead() calls: a tick of an earlier term does not schedule the next. */
  #term = 0;
  /** The newest hour recorded (the job's horizon); new hours after it are done in order. */
  #horizon: number | null = null;
  /** The last read of the tables outside a run (refresh). */
  #loading: Promise<void> | null = null;

  constructor(
    private readonly store: Store,
    readonly ledger: RollupLedger,
    private readonly opts: RollupJobOptions,
  ) {}

  /** One node: the job runs here (see lead). */
  start(): void {
    this.lead();
  }

  /**
   * Run the job in this process: every intervalMs on the ledger's clock, the first run now, from
   * what the tables hold (a new leader takes over where the last one stopped). With no interval,
   * only look at the tables once, so readers in this process know the done hours.
   */
  lead(): void {
    if (this.#stopped) return;
    this.#halted = false;
    this.ledger.local = true;
    this.#horizon = null;
    const term = ++this.#term;
    if (this.#timer) this.ledger.clock.clearTimeout(this.#timer);
    this.#timer = null;
    if (this.opts.intervalMs <= 0) {
      this.refresh().catch((err: unknown) => this.opts.log.error({ err }, 'reading the rollup tables failed'));
      return;
    }
    const tick = async () => {
      this.#timer = null;
      await this.runOnce().catch((err: unknown) => this.opts.log.error({ err }, 'rollup run failed; retried next interval'));
      if (!this.#stopped && !this.#halted && term === this.#term) this.#timer = this.ledger.clock.setTimeout(tick, this.opts.intervalMs);
    };
    this.#timer = this.ledger.clock.setTimeout(tick, 0);
  }

  /**
   * Another process runs the job (a cluster's follower): stop scheduling, let a run in progress
   * stop after its current hour, and wait for it. Readers here learn done hours from refresh().
   */
  async follow(): Promise<void> {
    this.#halted = true;
    this.ledger.local = false;
    if (this.#timer) this.ledger.clock.clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running?.catch(() => undefined);
  }

  /** Stop scheduling and wait for a run in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) this.ledger.clock.clearTimeout(this.#timer);
    this.#timer = null;
    await this.#loading;
    await this.#running?.catch(() => undefined);
  }

  /**
   * Read the tables (what every run does first) without rolling anything up: readers in this
   * process take the hours recorded there, with their gens, and nothing else. A follower calls
   * it every CONFIG_POLL_INTERVAL. Gens are recorded only after their rows are complete, so an
   * hour the leader is recomputing is read at its old gen (or raw, once marked) until then.
   * On a remote store (no done hours in process) it still seeds the counter: this node's marks
   * stay above the versions the leader had recorded by then, even with a clock behind the leader's.
   */
  refresh(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    const p = readLedger(this.store).then((rows) => {
      if (!this.#stopped) this.ledger.sync(rows);
    });
    // Tracked: stop() waits for it, so the store is never closed under this read.
    this.#loading = p.catch(() => undefined);
    return p;
  }

  /** One run (runs never overlap: a second call waits for the first and runs after it). */
  runOnce(): Promise<RunResult> {
    const prev = this.#running ?? Promise.resolve();
    const run = prev.catch(() => undefined).then(() => this.#run());
    this.#running = run;
    return run;
  }

  /** Whether a run should stop before its next hour. */
  get #quit(): boolean {
    return this.#stopped || this.#halted;
  }

  async #run(): Promise<RunResult> {
    const rows = await readLedger(this.store);
    const result: RunResult = { hours: [], deferred: [], kept: [] };
    const recorded = new Set<number>();
    const stale: number[] = [];
    /** Stale hours -> [their newest version, their newest mark]. */
    const states = new Map<number, [number, number]>();
    let newest = -1;
    for (const { w, v, m, rec } of rows) {
      if (rec) {
        recorded.add(w);
        if (w > newest) newest = w;
      }
      if (m > v) {
        stale.push(w);
        states.set(w, [v, m]);
      }
    }
    // Readers in this process take what the tables say now (marks from other nodes included).
    this.ledger.sync(rows);
    const now = this.ledger.clock.now();
    const lastClosed = Math.floor((now - this.ledger.lateMs) / HOUR_MS);
    if (this.#horizon === null) {
      if (newest >= 0) this.#horizon = newest;
      else {
        const [o] = await this.store.query<{ w: number; n: string }>(oldestHourSql());
        if (!o || Number(o.n) === 0) return result;
        this.#horizon = Number(o.w) - 1;
      }
    }
    const oldestRaw = hourOfMs(now - this.opts.rawRetentionMs) + 24;
    // Recomputations first, newest first (what dashboards look at), then new hours in order.
    for (const w of stale.sort((a, b) => b - a)) {
      if (w > lastClosed || this.#quit) continue;
      const [v, m] = states.get(w)!;
      if (this.ledger.writing(w) || (this.opts.shared && m + this.ledger.lateMs > now)) {
        result.deferred.push(w);
        continue;
      }
      if (w < oldestRaw) {
        // Raw points of this hour may be partly gone: keep the rollups it has, readable.
        if (recorded.has(w)) {
          await this.#confirm(w);
          result.kept.push(w);
        }
        continue;
      }
      await this.#compute(w, this.opts.shared ? Math.max(now - this.ledger.lateMs, v + 1) : undefined);
      result.hours.push(w);
    }
    for (let w = this.#horizon + 1; w <= lastClosed && !this.#quit; w++) {
      if (this.ledger.writing(w)) {
        result.deferred.push(w);
        break; // the horizon stays before it
      }
      if (!recorded.has(w) || stale.includes(w)) {
        // A dirty hour deferred above is left to a later run's recomputations.
        if (!result.hours.includes(w) && !result.deferred.includes(w)) {
          await this.#compute(w);
          result.hours.push(w);
        }
      }
      this.#horizon = w;
    }
    return result;
  }

  /** Aggregate hour w under a fresh gen, then record it at `version` (default: the gen). */
  async #compute(w: number, version?: number): Promise<void> {
    const gen = this.ledger.take(w);
    // Not a series write: the store's series cache stays (store.ts, QueryOptions.keepsSeries).
    const opts = { keepsSeries: true, settings: rollupInsertSettings(currentTopology().topology) };
    await this.store.command(rollup1mSql(w, gen), opts);
    await this.store.command(rollup1hSql(w, gen), opts);
    await this.store.insertRows('rollup_windows', [{ w, gen, version: version ?? gen }]);
    this.ledger.recorded(w, version ?? gen, gen);
  }

  /** Record hour w again with the gen it has, at a new version (clears its dirty mark). */
  async #confirm(w: number): Promise<void> {
    const [r] = await this.store.query<{ g: string }>(genOfSql(w));
    const version = this.ledger.take(w);
    const gen = Number(r?.g ?? 0);
    await this.store.insertRows('rollup_windows', [{ w, gen, version }]);
    this.ledger.recorded(w, version, gen);
  }
}


/**
 * Roll up every closed hour now, in this process (benches and tools that load a store directly;
 * a server runs its job on a schedule). Returns what the run did.
 */
export function rollUpClosedHours(store: Store, opts: { lateMs?: number; rawRetentionMs?: number; log?: Logger } = {}): Promise<RunResult> {
  const ledger = new RollupLedger(systemClock, opts.lateMs ?? 300_000, store.rollupHours);
  const silent = { error: () => undefined } as unknown as Logger;
  return new RollupJob(store, ledger, { intervalMs: 0, rawRetentionMs: opts.rawRetentionMs ?? 15 * 86_400_000, log: opts.log ?? silent }).runOnce();
}

/**
 * The settings of the job's INSERT ... SELECT. Rows are unique per key already (no merging on
 * insert) and written by two threads: the 1 m insert of an hour of 3.5 M points took 16.8 s with
 * defaults, 7.6 s without optimize_on_insert, 3.7-5.2 s with max_insert_threads = 2 as well (2
 * cores, load ~13). Sharded (CLICKHOUSE_TOPOLOGY): points and rollups are both Distributed by
 * series_id over one cluster, so `parallel_distributed_insert_select = 2` has every shard read
 * its own `points_local` and write its own `rollup_*_local`, instead of every row passing
 * through the server the job talks to.
 */
function rollupInsertSettings(topology: Topology): Record<string, number> {
  return { optimize_on_insert: 0, max_insert_threads: 2, ...(topology === 'sharded' ? { parallel_distributed_insert_select: 2 } : {}) };
}
