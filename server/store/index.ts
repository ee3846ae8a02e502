import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { EmbeddedStore } from './embedded.js';
import { RemoteStore } from './remote.js';
import type { Store } from './store.js';

export type { Store, QueryOptions } from './store.js';
export { sql, param, raw, join, compile, type Sql } from './sql.js';

/** The embedded engine on DATA_DIR, or the remote server(s) when CLICKHOUSE_URL is set. */
export async function openStore(config: Config, log?: Logger): Promise<Store> {
  if (config.CLICKHOUSE_URL) {
    const opts = {
      url: config.CLICKHOUSE_URL,
      username: config.CLICKHOUSE_USER,
      password: config.CLICKHOUSE_PASSWORD,
      database: config.CLICKHOUSE_DATABASE,
    };
    await RemoteStore.ensureDatabase(opts, config.CLICKHOUSE_TOPOLOGY === 'single' ? undefined : config.CLICKHOUSE_CLUSTER);
    return new RemoteStore(opts, (from, to, err) => log?.warn({ from, to, err }, 'ClickHouse server unreachable: failing over to the next in CLICKHOUSE_URL'));
  }
  return new EmbeddedStore(config.DATA_DIR, {
    // Cluster mode: other nodes write the same tables, which a head in this node would not see.
    maxBytes: config.LEADER_ELECTION === 'keeper' ? 0 : config.HEAD_BYTES,
    // Never longer than retention: ClickHouse drops what is older.
    windowMs: Math.min(config.HEAD_WINDOW, config.RETENTION_DAYS * 86_400_000),
  }, config.CHDB_CONFIG_FILE ? [`--config-file=${config.CHDB_CONFIG_FILE}`] : []);
}

/** Start the store's head of recent points, where it keeps one (after migrations). */
export async function openHead(store: Store): Promise<void> {
  if (store instanceof EmbeddedStore) await store.openHead();
}
