import pino, { type Logger } from 'pino';
import { buildApp, type AppContext } from './app.js';
import type { Config } from './config.js';
import { createMetrics } from './metrics.js';
import { openStore, type Store } from './store/index.js';
import { applyRetention, migrate } from './store/migrate.js';
import { Writer } from './writer.js';

export interface Running {
  ctx: AppContext;
  url: string;
  /** Stop accepting, flush what was accepted, close the store. Idempotent. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Wrap the real store (tests inject failures or delays around it; never a fake). */
  wrapStore?: (store: Store) => Store;
}

/** Open the store, migrate it, and serve. Used by main.ts and by tests. */
export async function startMetronome(
  config: Config,
  log: Logger = pino({ level: config.LOG_LEVEL }),
  opts: StartOptions = {},
): Promise<Running> {
  const opened = await openStore(config);
  const store = opts.wrapStore ? opts.wrapStore(opened) : opened;
  const applied = await migrate(store);
  if (applied.length) log.info({ applied }, 'schema migrations applied');
  await applyRetention(store, 'points', 'ts', config.RETENTION_DAYS);
  const metrics = createMetrics();
  const writer = new Writer(store, config, metrics, log);
  const ctx: AppContext = { config, store, writer, metrics, log, state: { shuttingDown: false, startedAt: Date.now() } };
  const app = await buildApp(ctx);
  await app.listen({ port: config.PORT, host: config.HOST, listenTextResolver: (address) => `Metronome (${store.kind} store) listening on ${address}` });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.PORT;
  const host = config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;
  const url = `http://${host}:${port}`;

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      ctx.state.shuttingDown = true;
      await app.close(); // stops accepting, waits for in-flight requests
      await writer.close(); // commits everything accepted
      await store.close();
    })());
  return { ctx, url, close };
}
