import { Readable } from 'node:stream';
import { createClient } from '@clickhouse/client';
import type { PointColumns } from '../../ingest/types.js';
import { ClientStore, CLIENT_SETTINGS } from './client-store.js';
import { clickhouseUrls, Failover } from './failover.js';
import { compile, ident } from './sql.js';
import { checkToken } from './store.js';

export interface RemoteOptions {
  /** One server, or a comma-separated list to fail over through (failover.ts). */
  url: string;
  username: string;
  password: string;
  database: string;
}

function failover(opts: RemoteOptions, database: string | undefined, onFailover?: (from: string, to: string, err: unknown) => void): Failover {
  const urls = clickhouseUrls(opts.url);
  const clients = urls.map((url) =>
    createClient({ url, username: opts.username, password: opts.password, database, clickhouse_settings: database ? CLIENT_SETTINGS : undefined }),
  );
  return new Failover(clients, urls, onFailover);
}

/**
 * A ClickHouse server (or a cluster's load balancer, or a list of its servers to fail over
 * through) over HTTP: the scale-out path. Same SQL as the embedded engine; points travel as
 * RowBinary (24 bytes a point).
 */
export class RemoteStore extends ClientStore {
  readonly kind = 'remote' as const;
  readonly #failover: Failover;

  constructor(
    readonly opts: RemoteOptions,
    onFailover?: (from: string, to: string, err: unknown) => void,
  ) {
    const f = failover(opts, opts.database, onFailover);
    super(f.client());
    this.#failover = f;
  }

  /** Create the database if missing (the client above is bound to it, so this uses a bare one). */
  static async ensureDatabase(opts: RemoteOptions, cluster?: string): Promise<void> {
    const bare = failover(opts, undefined);
    try {
      // On a cluster (CLICKHOUSE_TOPOLOGY replicated/sharded): on every server.
      const on = cluster ? ` ON CLUSTER ${compile(ident(cluster)).sql}` : '';
      await bare.run((c) => c.command({ query: `CREATE DATABASE IF NOT EXISTS ${compile(ident(opts.database)).sql}${on}` }));
    } finally {
      await bare.client().close();
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
    // A stream per attempt: a failover re-sends the body to the next server.
    await this.#failover.run((c) =>
      c.exec({
        query:
          `INSERT INTO points SELECT series_id, fromUnixTimestamp64Milli(ts, 'UTC'), value ` +
          `FROM input('series_id UInt64, ts Int64, value Float64') FORMAT RowBinary`,
        values: Readable.from([buf]),
        clickhouse_settings: { insert_deduplicate: 1, insert_deduplication_token: checkToken(token) },
      }),
    );
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
