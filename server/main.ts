import pino from 'pino';
import { ConfigError, loadConfig } from './config.js';
import { migrateAsConfigured, startMetronome } from './start.js';
import { openStore } from './store/index.js';

/** The CLI entry: config from the environment, serve, stop cleanly on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`metronome: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const log = pino({ level: config.LOG_LEVEL, base: { pid: process.pid } });
  // `metronome migrate` (or MIGRATE=only): the one-shot job of a cluster's deployment.
  const command = process.argv[2];
  if (command !== undefined && command !== 'migrate' && command !== 'serve') {
    process.stderr.write(`metronome: unknown command ${JSON.stringify(command)} (serve, migrate)\n`);
    process.exit(2);
  }
  if (command === 'migrate' || config.MIGRATE === 'only') {
    const store = await openStore(config);
    try {
      const applied = await migrateAsConfigured({ ...config, MIGRATE: 'auto' }, store, log);
      process.stdout.write(`metronome: schema migrated (${applied.length ? `applied ${applied.join(', ')}` : 'already current'})\n`);
    } finally {
      await store.close();
    }
    process.exit(0);
  }
  let running;
  try {
    running = await startMetronome(config, log);
  } catch (e) {
    // Settings that only make sense together (tokens, exposure) are checked at start: one line too.
    if (e instanceof ConfigError) {
      process.stderr.write(`metronome: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: flushing accepted points');
    running.close().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // A promise nobody awaited (e.g. the sibling of a failed Promise.all) must not take the server
  // down with every request in flight: log it and keep serving.
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled promise rejection'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`metronome: failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
