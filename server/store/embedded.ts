import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import type { NewSeries, PointColumns } from '../../ingest/types.js';
import { compile, ident, type Sql } from './sql.js';
import { checkToken, seriesRows, type QueryOptions, type Store } from './store.js';

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
export class EmbeddedStore implements Store {
  readonly kind = 'embedded' as const;
  readonly #client: ClickHouseClient;
  /** A second Layer-1 session on the same path: the engine is shared, and it exposes the handle Arrow registration needs. */
  readonly #session: InstanceType<typeof chdb.Session>;
  #seq = 0;
  #closed = false;

  constructor(readonly path: string) {
    mkdirSync(path, { recursive: true });
    this.#client = createClient({
      connection: createChdbConnection({ path }),
      clickhouse_settings: { date_time_input_format: 'best_effort', output_format_json_quote_64bit_integers: 1 },
    } as Parameters<typeof createClient>[0]);
    this.#session = new chdb.Session(path);
  }

  async query<T>(q: Sql, opts: QueryOptions = {}): Promise<T[]> {
    const { sql, params } = compile(q);
    const rs = await this.#client.query({
      query: sql,
      query_params: params,
      format: 'JSONEachRow',
      abort_signal: opts.signal,
      clickhouse_settings: opts.settings as never,
    });
    return (await rs.json()) as T[];
  }

  async command(q: Sql, opts: QueryOptions = {}): Promise<void> {
    const { sql, params } = compile(q);
    await this.#client.command({
      query: sql,
      query_params: params,
      abort_signal: opts.signal,
      clickhouse_settings: opts.settings as never,
    });
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

  async insertSeries(rows: readonly NewSeries[]): Promise<void> {
    await this.insertRows('series', seriesRows(rows));
  }

  async insertRows(table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    if (rows.length === 0) return;
    await this.#client.insert({ table: compile(ident(table)).sql, values: rows as unknown[], format: 'JSONEachRow' });
  }

  async ping(): Promise<boolean> {
    if (this.#closed) return false;
    try {
      return (await this.#client.ping()).success;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#client.close();
    this.#session.close();
  }
}
