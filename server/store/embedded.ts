import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createClient } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import type { PointColumns } from '../../ingest/types.js';
import { ClientStore, CLIENT_SETTINGS } from './client-store.js';
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
  #seq = 0;
  #closed = false;

  constructor(readonly path: string) {
    mkdirSync(path, { recursive: true });
    super(
      createClient({
        connection: createChdbConnection({ path }),
        clickhouse_settings: CLIENT_SETTINGS,
      } as Parameters<typeof createClient>[0]),
    );
    this.#session = new chdb.Session(path);
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
   * Straight on the chdb session, not through @clickhouse/client: no SET statements before
   * every query and no stream wrapping (about 2.5 ms a query; bench/query-profile.ts). Output
   * formats are binary-safe (only chdb's raw Buffer *input* is not).
   */
  protected override async queryRowBinary(sql: string, params: Record<string, unknown>, opts: QueryOptions): Promise<Uint8Array> {
    const settings = Object.entries(opts.settings ?? {}).map(([k, v]) => {
      if (!/^[a-z_][a-z0-9_]*$/.test(k) || !/^[A-Za-z0-9_.]+$/.test(String(v))) throw new Error(`invalid setting ${k} = ${String(v)}`);
      return `${k} = ${typeof v === 'boolean' ? Number(v) : v}`;
    });
    const text = settings.length ? `${sql}\nSETTINGS ${settings.join(', ')}` : sql;
    const res = await this.#session.queryBindAsync(text, params, { format: 'RowBinaryWithNamesAndTypes', signal: opts.signal });
    return res.bytes();
  }

  override async ping(): Promise<boolean> {
    return !this.#closed && super.ping();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.client.close();
    this.#session.close();
  }
}
