import { expect, it } from 'vitest';
import { startTestServer, tempDir } from './helpers.js';

/**
 * A server closed right after it started lets go of its data directory: nothing it started in
 * the background (the rollup job's first read, the head, probes) still runs on the store, so
 * the same process can open another directory at once (chdb binds one per process; the PromQL
 * suite starts ~170 servers one after another).
 */
it('releases the store when closed right after starting, so another directory opens at once', async () => {
  const dirs: string[] = [];
  for (let i = 0; i < 3; i++) {
    const dir = tempDir();
    const s = await startTestServer({ DATA_DIR: dir });
    dirs.push(dir);
    await s.close();
  }
  expect(new Set(dirs).size).toBe(3);
}, 120_000);
