import { Readable } from 'node:stream';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { NewSeries, PointColumns } from '../../ingest/types.js';
import { compile, ident, type Sql } from './sql.js';
import { checkToken, seriesRows, type QueryOptions, type Store } from './store.js';

export interface RemoteOptions {
  url: string;
  username: string;
  password: string;
  database: string;
}

/**
 * A ClickHouse server (or a cluster's load balancer) over HTTP: the scale-out path.
 * Same SQL as the embedded engine; points travel as RowBinary (24 bytes a point).
 */
export class RemoteStore implements Store {
  readonly kind = 'remote' as const;
  readonly #client: ClickHouseClient;

  constructor(readonly opts: RemoteOptions) {
    this.#client = createClient({
      url: opts.url,
      username: opts.username,
      password: opts.password,
      database: opts.database,
      clickhouse_settings: { date_time_input_format: 'best_effort', output_format_json_quote_64bit_integers: 1 },
    });
  }

  /** Create the database if missing (the client above is bound to it, so this uses a bare one). */
  static async ensureDatabase(opts: RemoteOptions): Promise<void> {
    const bare = createClient({ url: opts.url, username: opts.username, password: opts.password });
    try {
      await bare.command({ query: `CREATE DATABASE IF NOT EXISTS ${compile(ident(opts.database)).sql}` });
    } finally {
      await bare.close();
    }
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
    const buf = Buffer.allocUnsafe(points.length * 24);
    for (let i = 0; i < points.length; i++) {
      const o = i * 24;
      buf.writeBigInt64LE(points.seriesId[i], o);
      buf.writeBigInt64LE(BigInt(points.ts[i]), o + 8);
      buf.writeDoubleLE(points.value[i], o + 16);
    }
    await this.#client.exec({
      query:
        `INSERT INTO points SELECT series_id, fromUnixTimestamp64Milli(ts, 'UTC'), value ` +
        `FROM input('series_id UInt64, ts Int64, value Float64') FORMAT RowBinary`,
      values: Readable.from([buf]),
      clickhouse_settings: { insert_deduplicate: 1, insert_deduplication_token: checkToken(token) },
    });
  }

  async insertSeries(rows: readonly NewSeries[]): Promise<void> {
    await this.insertRows('series', seriesRows(rows));
  }

  async insertRows(table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    if (rows.length === 0) return;
    await this.#client.insert({ table: compile(ident(table)).sql, values: rows as unknown[], format: 'JSONEachRow' });
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.#client.ping()).success;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.#client.close();
  }
}
