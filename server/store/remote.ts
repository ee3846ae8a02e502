import { Readable } from 'node:stream';
import { createClient } from '@clickhouse/client';
import type { PointColumns } from '../../ingest/types.js';
import { ClientStore, CLIENT_SETTINGS } from './client-store.js';
import { compile, ident } from './sql.js';
import { checkToken } from './store.js';

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
export class RemoteStore extends ClientStore {
  readonly kind = 'remote' as const;

  constructor(readonly opts: RemoteOptions) {
    super(
      createClient({
        url: opts.url,
        username: opts.username,
        password: opts.password,
        database: opts.database,
        clickhouse_settings: CLIENT_SETTINGS,
      }),
    );
  }

  /** Create the database if missing (the client above is bound to it, so this uses a bare one). */
  static async ensureDatabase(opts: RemoteOptions, cluster?: string): Promise<void> {
    const bare = createClient({ url: opts.url, username: opts.username, password: opts.password });
    try {
      // On a cluster (CLICKHOUSE_TOPOLOGY replicated/sharded): on every server.
      const on = cluster ? ` ON CLUSTER ${compile(ident(cluster)).sql}` : '';
      await bare.command({ query: `CREATE DATABASE IF NOT EXISTS ${compile(ident(opts.database)).sql}${on}` });
    } finally {
      await bare.close();
    }
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
    await this.client.exec({
      query:
        `INSERT INTO points SELECT series_id, fromUnixTimestamp64Milli(ts, 'UTC'), value ` +
        `FROM input('series_id UInt64, ts Int64, value Float64') FORMAT RowBinary`,
      values: Readable.from([buf]),
      clickhouse_settings: { insert_deduplicate: 1, insert_deduplication_token: checkToken(token) },
    });
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
