import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import type { PointColumns } from '../../ingest/types.js';
import { ClientStore, CLIENT_SETTINGS, READ_TIMING } from './client-store.js';
import { RollupHours } from './rollup-hours.js';
import { SeriesCache } from './series-cache.js';
import type { Sql } from './sql.js';
import { checkToken, type QueryOptions } from './store.js';

// chdb's ESM entry does not re-export the Arrow input API; its CommonJS entry does.
const chdb = createRequire(import.meta.url)('chdb') as typeof import('chdb') & {
  registerArrowTable: typeof import('chdb').registerArrowTable;
};

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
  #seq = 0;
  #closed = false;
  /**
   * This process is the database's only writer (chdb holds the directory), so series lookups
   * can be kept until a series row is written: every write below tells the cache.
   */
  readonly seriesCache = new SeriesCache();
  /** Likewise the hours whose rollups are done (rollup-hours.ts), told by the rollup job and the writer. */
  readonly rollupHours = new RollupHours();

  constructor(readonly path: string) {
    mkdirSync(path, { recursive: true });
    super(
      createClient({
        connection: createChdbConnection({ path }),
        clickhouse_settings: CLIENT_SETTINGS,
      } as Parameters<typeof createClient>[0]),
    );
    this.#session = new chdb.Session(path);
    this.#reads = new chdb.Session(path);
  }

  async insertPoints(points: PointColumns, token: string): Promise<void> {
    if (points.length === 0) return;
    checkToken(token);
    const name = `metronome_points_${process.pid}_${++this.#seq}`;
    const table = chdb.registerArrowTable(
      name,
      [
        { name: 'series_id', type: 'Int64', data: points.seriesId.subarray(0, points.length) },
        { name: 'ts', type: 'Float64', data: points.ts.subarray(0, points.length) },
        { name: 'value', type: 'Float64', data: points.value.subarray(0, points.length) },
      ],
      // chdb 3.4 reads `session._handle`; a Session exposes it as `connection`.
      { session: { _handle: this.#session.connection } as never },
    );
    try {
      await this.#session.queryAsync(
        `INSERT INTO points SETTINGS insert_deduplicate = 1, insert_deduplication_token = '${token}' ` +
          `SELECT reinterpretAsUInt64(series_id), fromUnixTimestamp64Milli(toInt64(ts), 'UTC'), value ` +
          `FROM arrowstream('${name}')`,
      );
    } finally {
      table.close();
    }
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
    const settings = Object.entries(opts.settings ?? {}).map(([k, v]) => {
      if (!/^[a-z_][a-z0-9_]*$/.test(k) || !/^[A-Za-z0-9_.]+$/.test(String(v))) throw new Error(`invalid setting ${k} = ${String(v)}`);
      return `${k} = ${typeof v === 'boolean' ? Number(v) : v}`;
    });
    const text = settings.length ? `${sql}\nSETTINGS ${settings.join(', ')}` : sql;
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

  /** Every write of rows, insertSeries' included, comes through here. */
  override async insertRows(table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    try {
      await super.insertRows(table, rows);
    } finally {
      if (table === 'series') this.seriesCache.seriesWritten();
      if (table === 'series_ends') this.seriesCache.endsWritten(rows.map((r) => Date.parse(`${String(r.ts).replace(' ', 'T')}Z`)));
    }
  }

  /** DDL, migrations, INSERT ... SELECT: not parsed, so every cached lookup is dropped (unless `keepsSeries`). */
  override async command(q: Sql, opts: QueryOptions = {}): Promise<void> {
    try {
      await super.command(q, opts);
    } finally {
      if (!opts.keepsSeries) this.seriesCache.reset();
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
