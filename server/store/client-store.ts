import type { ClickHouseClient } from '@clickhouse/client';
import type { NewSeries, PointColumns } from '../../ingest/types.js';
import { readSignal } from './abort.js';
import { decodeRowBinary, decodeRowBinaryPaced } from './rowbinary.js';
import { compile, ident, type Sql } from './sql.js';
import { seriesRows, type QueryOptions, type ReadTiming, type Store } from './store.js';

/** Where a read's time went before decoding, by its result (set by a transport that knows, when asked with onRead). */
export const READ_TIMING = new WeakMap<Uint8Array, Omit<ReadTiming, 'decodeMs' | 'bytes'>>();

/** Settings both transports set on their client. */
export const CLIENT_SETTINGS = { date_time_input_format: 'best_effort', output_format_json_quote_64bit_integers: 1 } as const;

/**
 * What the embedded and remote stores share: everything but the points fast path runs through
 * @clickhouse/client, over chdb's in-process Connection or over HTTP.
 */
export abstract class ClientStore implements Store {
  abstract readonly kind: 'embedded' | 'remote';

  constructor(protected readonly client: ClickHouseClient) {}

  abstract insertPoints(points: PointColumns, token: string): Promise<void>;
  abstract close(): Promise<void>;

  /** Each read gets a signal of its own, linked to the caller's (abort.ts: many reads share one). */
  async query<T>(q: Sql, opts: QueryOptions = {}): Promise<T[]> {
    const own = readSignal(opts.signal);
    try {
      return await this.#query<T>(q, { ...opts, signal: own.signal });
    } finally {
      own.done();
    }
  }

  /**
   * A statement and the settings that go with it as `clickhouse_settings`. Over HTTP they are
   * parameters of that one request; the embedded store writes them into the statement instead
   * (embedded.ts: chdb's connection would SET them on its session for good).
   */
  protected withSettings(sql: string, settings: QueryOptions['settings']): { query: string; clickhouse_settings?: QueryOptions['settings'] } {
    return { query: sql, clickhouse_settings: settings };
  }

  async #query<T>(q: Sql, opts: QueryOptions): Promise<T[]> {
    const { sql, params } = compile(q);
    if (opts.binary) {
      const bytes = await this.queryRowBinary(sql, params, opts);
      if (!opts.onRead) return opts.pace ? decodeRowBinaryPaced<T>(bytes, opts.pace) : decodeRowBinary<T>(bytes);
      const t0 = performance.now();
      const rows = opts.pace ? await decodeRowBinaryPaced<T>(bytes, opts.pace) : decodeRowBinary<T>(bytes);
      opts.onRead({ ...(READ_TIMING.get(bytes) ?? { queuedMs: 0, nativeMs: 0, clickhouseMs: 0 }), decodeMs: performance.now() - t0, bytes: bytes.length });
      return rows;
    }
    const { query, clickhouse_settings } = this.withSettings(sql, opts.settings);
    const rs = await this.client.query({
      query,
      query_params: params,
      format: 'JSONEachRow',
      abort_signal: opts.signal,
      clickhouse_settings: clickhouse_settings as never,
    });
    return (await rs.json()) as T[];
  }

  /** A SELECT's result as RowBinaryWithNamesAndTypes bytes (over HTTP here; chdb overrides it). */
  protected async queryRowBinary(sql: string, params: Record<string, unknown>, opts: QueryOptions): Promise<Uint8Array> {
    const rs = await this.client.exec({
      query: `${sql}\nFORMAT RowBinaryWithNamesAndTypes`,
      query_params: params,
      abort_signal: opts.signal,
      clickhouse_settings: opts.settings as never,
    });
    const chunks: Buffer[] = [];
    for await (const c of rs.stream) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  async command(q: Sql, opts: QueryOptions = {}): Promise<void> {
    const { sql, params } = compile(q);
    const { query, clickhouse_settings } = this.withSettings(sql, opts.settings);
    const own = readSignal(opts.signal);
    try {
      await this.client.command({
        query,
        query_params: params,
        abort_signal: own.signal,
        clickhouse_settings: clickhouse_settings as never,
      });
    } finally {
      own.done();
    }
  }

  async insertSeries(rows: readonly NewSeries[]): Promise<void> {
    await this.insertRows('series', seriesRows(rows));
  }

  async insertRows(table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    if (rows.length === 0) return;
    await this.client.insert({ table: compile(ident(table)).sql, values: rows as unknown[], format: 'JSONEachRow' });
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.client.ping()).success;
    } catch {
      return false;
    }
  }
}
