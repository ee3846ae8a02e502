import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../server/paths.js';
import { exportSeries, heroic, postJson, tempDir } from './helpers.js';

/** The real CLI entry (tsx runs the TypeScript source), as `npm start` runs it after the build. */
const ENTRY = join(ROOT, 'server/main.ts');
const TSX = join(ROOT, 'node_modules/.bin/tsx');

interface Proc {
  child: ChildProcess;
  url: string;
  output: () => string;
}

function start(env: Record<string, string>): Promise<Proc> {
  const child = spawn(TSX, [ENTRY], { env: { ...process.env, PORT: '0', DEMO: '0', LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr!.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start in 60 s:\n${out}`)), 60_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[^\s"]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], output: () => out });
      }
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}:\n${out}`)));
  });
}

function stop(p: Proc, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  return new Promise((resolve) => {
    p.child.once('exit', (code) => resolve(code));
    p.child.kill(signal);
  });
}

let dataDir: string;
beforeAll(() => {
  dataDir = tempDir();
});
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('server lifecycle', () => {
  it('keeps acknowledged points across a SIGTERM and a restart on the same DATA_DIR, and migrates once', async () => {
    const now = Date.now();
    const first = await start({ DATA_DIR: dataDir });
    expect(first.output()).toContain('schema migrations applied');
    const writes = Array.from({ length: 10 }, (_, i) =>
      postJson(`${first.url}/write`, heroic('restart.metric', { i: String(i) }, [[now - i, i]])),
    );
    const acked = (await Promise.all(writes)).filter((r) => r.status === 200).length;
    expect(acked).toBe(10);
    expect(await stop(first)).toBe(0);
    expect(first.output()).toContain('stopped');

    const second = await start({ DATA_DIR: dataDir });
    try {
      expect(second.output()).not.toContain('schema migrations applied');
      const lines = await exportSeries(second.url, 'restart.metric');
      expect(lines.map((l) => l.values[0]).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    } finally {
      await stop(second);
    }
  });

  it('commits points accepted just before SIGTERM before exiting', async () => {
    const now = Date.now();
    const p = await start({ DATA_DIR: dataDir, FLUSH_MS: '2000' });
    // With a 2 s flush timer the write is still buffered when the signal arrives.
    const pending = postJson(`${p.url}/write`, heroic('sigterm.metric', {}, [[now, 5]]));
    await new Promise((r) => setTimeout(r, 200));
    const exit = stop(p);
    expect((await pending).status).toBe(200);
    expect(await exit).toBe(0);
    const again = await start({ DATA_DIR: dataDir });
    try {
      expect((await exportSeries(again.url, 'sigterm.metric'))[0].values).toEqual([5]);
    } finally {
      await stop(again);
    }
  });

  it('refuses to start on an invalid setting with one line naming the variable', () => {
    const r = spawnSync(TSX, [ENTRY], { env: { ...process.env, PORT: 'eighty', DATA_DIR: dataDir }, encoding: 'utf8' });
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^metronome: invalid PORT="eighty"/);
  });
});
