import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import type { NewSeries, PointColumns } from '../../ingest/types.js';
import { ClientStore, CLIENT_SETTINGS, READ_TIMING } from './client-store.js';
import { Head, type HeadOptions } from './head.js';
import { RollupHours } from './rollup-hours.js';
import { SeriesCache } from './series-cache.js';
import { compile, param, sql, type Sql } from './sql.js';
import { checkToken, chTimeMs, type QueryOptions } from './store.js';

// chdb's ESM entry does not re-export the Arrow input API; its CommonJS entry does.
const chdb = createRequire(import.meta.url)('chdb') as typeof import('chdb') & {
  registerArrowTable: typeof import('chdb').registerArrowTable;
};

/** Statements that change the points table. */
const CHANGES_POINTS = /\b(DELETE\s+FROM|ALTER\s+TABLE|TRUNCATE(\s+TABLE)?|INSERT\s+INTO|DROP\s+TABLE(\s+IF\s+EXISTS)?|EXCHANGE\s+TABLES)\s+points\b/i;

/** How much data time one read of the head's background load takes (head.ts). */
const HEAD_LOAD_SLICE_MS = 10 * 60_000;

/**
 * Arrow table names are global to the process (chdb's registry), so their counter is too: two
 * stores in one process (cluster tests run three nodes) must never register the same name.
 */
let arrowSeq = 0;

/** A series' tags as JSON, once per tags object. */
const tagsJsonOf = new WeakMap<Record<string, string>, string>();
function tagsJson(tags: Record<string, string>): string {
  let json = tagsJsonOf.get(tags);
  if (json === undefined) tagsJsonOf.set(tags, (json = JSON.stringify(tags)));
  return json;
}

function ms(v: number): Sql {
  return sql`fromUnixTimestamp64Milli(${param('Int64', Math.floor(v))}, 'UTC')`;
}

/**
 * A statement with its own settings written in as a SETTINGS clause. Given to chdb's connection
 * as `clickhouse_settings` they would become `SET` statements on its session, in force for every
 * later statement of the store (the rollup job's `optimize_on_insert = 0` and the lease's strict
 * mode did stay; test/session-settings.test.ts). An INSERT ... VALUES takes the clause before
 * VALUES; every other statement at its end (ClickHouse applies an INSERT ... SELECT's trailing
 * SETTINGS to the insert as well).
 */
export function inlineSettings(sql: string, settings: QueryOptions['settings']): string {
  const list = Object.entries(settings ?? {}).map(([k, v]) => {
    if (!/^[a-z_][a-z0-9_]*$/.test(k) || !/^[A-Za-z0-9_.]+$/.test(String(v))) throw new Error(`invalid setting ${k} = ${String(v)}`);
    return `${k} = ${typeof v === 'boolean' ? Number(v) : v}`;
  });
  if (list.length === 0) return sql;
  const clause = `SETTINGS ${list.join(', ')}`;
  const values = /^(\s*INSERT\s+INTO\s[\s\S]*?)\s(VALUES\b[\s\S]*)$/i.exec(sql);
  if (values) return `${values[1]} ${clause} ${values[2]}`;
  return `${sql.replace(/[\s;]+$/, '')}\n${clause}`;
}

/**
 * The embedded engine: ClickHouse in this process (chdb), bound to one data directory.
 *
 * Queries and small inserts go through @clickhouse/client on chdb's Connection. Points take the
 * fast path: the typed arrays are registered as an Arrow table (zero copy) and moved with
 * INSERT ... SELECT FROM arrowstream(). chdb's raw Buffer insert is not binary-safe for
 * RowBinary/Native (it splits at newlines), so it is never used for points.
 */
export class EmbeddedStore extends ClientStore {
  readonly kind = 'embedded' as const;
  /** A second Layer-1 session on the same path: the engine is shared, and it exposes the handle Arrow registration needs. */
  readonly #session: InstanceType<typeof chdb.Session>;
  /** Engine reads in binary formats (queryRowBinary), one at a time. */
  readonly #reads: InstanceType<typeof chdb.Session>;
  /** Reads waiting for #reads: rule evaluation's first, then the rest in arrival order. */
  readonly #waiting: Record<'rule' | 'api', (() => void)[]> = { rule: [], api: [] };
  #reading = false;
  #closed = false;
  /**
   * This process is the database's only writer (chdb holds the directory), so series lookups
   * can be kept until a series row is written: every write below tells the cache.
   */
  readonly seriesCache = new SeriesCache();
  /** Recent points in process for the query engine (head.ts); open() starts it. */
  readonly head: Head;
  /** Likewise the hours whose rollups are done (rollup-hours.ts), told by the rollup job and the writer. */
  readonly rollupHours = new RollupHours();

  constructor(
    readonly path: string,
    head: HeadOptions = { maxBytes: 0, windowMs: 0 },
    /** Engine arguments (e.g. `--config-file=` for Keeper); they apply when this store opens the process's engine first. */
    engineArgs: readonly string[] = [],
  ) {
    mkdirSync(path, { recursive: true });
    // Opened before the client's connection so that the arguments reach the engine.
    const session = new chdb.Session(path, engineArgs.length ? { connectionArgs: engineArgs } : undefined);
    super(
      createClient({
        connection: createChdbConnection({ path }),
        clickhouse_settings: CLIENT_SETTINGS,
      } as Parameters<typeof createClient>[0]),
    );
    this.#session = session;
    this.#reads = new chdb.Session(path);
    this.head = new Head(head);
  }

  /**
   * Start the head: it holds every point written from now on, and covers the span after the
   * newest point already stored (looked for in the head's window only: partitions are by day).
   * Then, in the background, it reads back what is stored before that, newest first, a slice at
   * a time, until its window or three quarters of its bytes are full: after a restart the
   * dashboards' recent hours are answered from memory again within seconds.
   */
  async openHead(): Promise<void> {
    if (!this.head.enabled) return;
    const from = Date.now() - this.head.opts.windowMs;
    const [r] = await this.query<{ t: string; n: string }>(
      sql`SELECT toUnixTimestamp64Milli(max(ts)) AS t, count() AS n FROM points WHERE ts > ${ms(from)}`,
    );
    const newest = Number(r?.n ?? 0) > 0 ? Number(r.t) : null;
    this.head.open(newest);
    const epoch = ++this.#headEpoch;
    if (newest !== null) this.headLoaded = this.#loadHead(newest, epoch);
  }

  /** The background read of stored points into the head (tests wait for it). */
  headLoaded: Promise<void> = Promise.resolve();

  /** Counts openHead() calls: a load started before the head was cleared stops. */
  #headEpoch = 0;

  async #loadHead(through: number, epoch: number): Promise<void> {
    let hi = through;
    while (!this.#closed && epoch === this.#headEpoch && hi > this.head.keptFrom && this.head.bytes < this.head.opts.maxBytes * 0.75) {
      const lo = Math.max(hi - HEAD_LOAD_SLICE_MS, this.head.keptFrom);
      let rows: { id: string; t: number[]; v: number[] }[];
      try {
        rows = await this.query(
          sql`SELECT toString(series_id) AS id, groupArray(toFloat64(toUnixTimestamp64Milli(ts))) AS t, groupArray(value) AS v
            FROM points WHERE ts > ${ms(lo)} AND ts <= ${ms(hi)} GROUP BY series_id`,
          { binary: true },
        );
      } catch {
        return; // closed, or the store failed: the head keeps covering what it covers
      }
      if (this.#closed || epoch !== this.#headEpoch) return;
      this.head.load(lo, function* () {
        for (const row of rows) yield { id: BigInt.asIntN(64, BigInt(row.id)), t: row.t, v: row.v };
      }());
      hi = lo;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async insertPoints(points: PointColumns, token: string): Promise<void> {
    if (points.length === 0) return;
    checkToken(token);
    await this.#insertFromArrow(
      'points',
      [
        { name: 'series_id', type: 'Int64', data: points.seriesId.subarray(0, points.length) },
        { name: 'ts', type: 'Float64', data: points.ts.subarray(0, points.length) },
        { name: 'value', type: 'Float64', data: points.value.subarray(0, points.length) },
      ],
      (table) =>
        `INSERT INTO points SETTINGS insert_deduplicate = 1, insert_deduplication_token = '${token}' ` +
        `SELECT reinterpretAsUInt64(series_id), fromUnixTimestamp64Milli(toInt64(ts), 'UTC'), value ` +
        `FROM arrowstream('${table}')`,
    );
    this.head.append(points);
  }

  /**
   * Straight on a chdb session of its own, not through @clickhouse/client: no SET statements
   * before every query and no stream wrapping (about 2.5 ms a query; bench/query-profile.ts).
   * Output formats are binary-safe (only chdb's raw Buffer *input* is not).
   *
   * chdb 3.4 keeps the output a failed query had written and hands it out in front of the next
   * result on the same connection. So queries on this session run one at a time, to native
   * completion even when the caller gave up (an abort only rejects the caller's promise), and a
   * failure is followed by a throwaway query that takes the leftover bytes.
   */
  protected override async queryRowBinary(sql: string, params: Record<string, unknown>, opts: QueryOptions): Promise<Uint8Array> {
    const text = inlineSettings(sql, opts.settings);
    opts.signal?.throwIfAborted();
    const run = (async () => {
      const t0 = opts.onRead ? performance.now() : 0;
      const done = await this.#readTurn(opts.priority ?? 'api');
      try {
        if (opts.signal?.aborted) throw opts.signal.reason;
        try {
          if (!opts.onRead) return (await this.#reads.queryBindAsync(text, params, { format: 'RowBinaryWithNamesAndTypes' })).bytes();
          const t1 = performance.now();
          const res = await this.#reads.queryBindAsync(text, params, { format: 'RowBinaryWithNamesAndTypes' });
          const bytes = res.bytes();
          READ_TIMING.set(bytes, { queuedMs: t1 - t0, nativeMs: performance.now() - t1, clickhouseMs: res.elapsed * 1000 });
          return bytes;
        } catch (e) {
          await this.#reads.queryAsync('SELECT 1', { format: 'RowBinary' }).catch(() => undefined);
          throw e;
        }
      } finally {
        done();
      }
    })();
    if (!opts.signal) return run;
    const signal = opts.signal;
    return new Promise<Uint8Array>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      run.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** Settings go into the statement: never SET on the client's session (inlineSettings). */
  protected override withSettings(sql: string, settings: QueryOptions['settings']): { query: string } {
    return { query: inlineSettings(sql, settings) };
  }

  /** Wait for the read session; call the returned function to hand it to the next reader. */
  async #readTurn(priority: 'rule' | 'api'): Promise<() => void> {
    if (this.#reading) await new Promise<void>((resolve) => this.#waiting[priority].push(resolve));
    this.#reading = true;
    return () => {
      const next = this.#waiting.rule.shift() ?? this.#waiting.api.shift();
      if (next) next();
      else this.#reading = false;
    };
  }

  /**
   * Series rows take the points' path too (an Arrow table, INSERT ... SELECT), not JSONEachRow
   * through the client: that cost about 7 us a row on the main thread (the JSON, two DateTime
   * texts, the statement handed to chdb as one string), a tenth of line protocol's main thread
   * in the side-by-side bench, whose 10,000 series are re-recorded every 5 minutes of data time.
   * Tags go as JSON, kept per tags object: a decoder's cached series hands the same object
   * every time.
   */
  override async insertSeries(rows: readonly NewSeries[]): Promise<void> {
    if (rows.length === 0) return;
    const n = rows.length;
    const ids = new BigInt64Array(n);
    const first = new Float64Array(n);
    const last = new Float64Array(n);
    const keys: string[] = [];
    const tags: string[] = [];
    const services: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = rows[i];
      ids[i] = BigInt.asIntN(64, BigInt(r.seriesId));
      first[i] = r.firstSeen;
      last[i] = r.lastSeen;
      keys.push(r.key);
      tags.push(tagsJson(r.tags));
      services.push(r.service);
    }
    try {
      await this.#insertFromArrow(
        'series',
        [
          { name: 'key', type: 'String', data: keys },
          { name: 'id', type: 'Int64', data: ids },
          { name: 'tags', type: 'String', data: tags },
          { name: 'service', type: 'String', data: services },
          { name: 'first', type: 'Float64', data: first },
          { name: 'last', type: 'Float64', data: last },
        ],
        (table) =>
          `INSERT INTO series (key, series_id, tags, service, first_seen, last_seen) ` +
          // Arrow columns arrive Nullable, which a Map may not be inside; none is null.
          `SELECT assumeNotNull(key), reinterpretAsUInt64(id), JSONExtract(assumeNotNull(tags), 'Map(String, String)'), assumeNotNull(service), ` +
          `fromUnixTimestamp64Milli(toInt64(first), 'UTC'), fromUnixTimestamp64Milli(toInt64(last), 'UTC') ` +
          `FROM arrowstream('${table}')`,
      );
    } finally {
      this.seriesCache.seriesWritten();
    }
  }

  /**
   * Register `columns` as an Arrow table (zero copy) under a name unique to the process, run the
   * INSERT ... SELECT `insert` builds on it, and release the table.
   */
  async #insertFromArrow(prefix: string, columns: Parameters<typeof chdb.registerArrowTable>[1], insert: (table: string) => string): Promise<void> {
    const name = `metronome_${prefix}_${process.pid}_${++arrowSeq}`;
    // chdb 3.4 reads `session._handle`; a Session exposes it as `connection`.
    const table = chdb.registerArrowTable(name, columns, { session: { _handle: this.#session.connection } as never });
    try {
      await this.#session.queryAsync(insert(name));
    } finally {
      table.close();
    }
  }

  /** Every other write of rows comes through here. */
  override async insertRows(table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    try {
      await super.insertRows(table, rows);
    } finally {
      if (table === 'series') this.seriesCache.seriesWritten();
      if (table === 'series_ends') this.seriesCache.endsWritten(rows.map((r) => chTimeMs(String(r.ts))));
    }
  }

  /**
   * DDL, migrations, INSERT ... SELECT: not parsed, so every cached lookup is dropped (unless `keepsSeries`). A
   * statement that changes `points` other than by insertPoints (a deletion) empties the head,
   * which then starts over as after a restart.
   */
  override async command(q: Sql, opts: QueryOptions = {}): Promise<void> {
    try {
      await super.command(q, opts);
    } finally {
      if (!opts.keepsSeries) this.seriesCache.reset();
      if (this.head.enabled && CHANGES_POINTS.test(compile(q).sql)) {
        this.head.clear();
        if (!this.#closed) await this.openHead();
      }
    }
  }

  override async ping(): Promise<boolean> {
    return !this.#closed && super.ping();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.client.close();
    // Last in line: the reads already waiting finish first.
    const done = await this.#readTurn('api');
    this.#reads.close();
    this.#session.close();
    done();
  }
}
