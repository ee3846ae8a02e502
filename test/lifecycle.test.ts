import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportSeries, heroic, postJson, tempDir } from './helpers.js';
import { ENTRY, startServerProcess, stopServerProcess, TSX, type ServerProcess } from './server-process.js';

type Proc = ServerProcess;
const start = (env: Record<string, string>) => startServerProcess(env);
/** SIGTERM goes to the server process itself (tsx, the launcher, relays signals unreliably). */
const stop = (p: Proc, signal: NodeJS.Signals = 'SIGTERM') => stopServerProcess(p, signal);

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
    // A flush waits (up to FLUSH_MS, 2 s here) for write requests still on their way: one whose
    // body never finishes keeps the next write buffered when the signal arrives.
    const url = new URL(p.url);
    const slow = request({ agent: false, host: url.hostname, port: url.port, path: '/write', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '1000' } });
    slow.on('error', () => {});
    slow.write('[');
    for (let i = 0; i < 100; i++) {
      if (/^metronome_write_requests_arriving [1-9]/m.test(await (await fetch(`${p.url}/metrics`)).text())) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const pending = postJson(`${p.url}/write`, heroic('sigterm.metric', {}, [[now, 5]]));
    // Signal only once the server holds the point (a loaded machine may be slow to deliver it).
    for (let i = 0; i < 100; i++) {
      const m = await (await fetch(`${p.url}/metrics`)).text();
      if (/^metronome_buffered_points [1-9]/m.test(m)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const exit = stop(p);
    expect((await pending).status).toBe(200);
    slow.destroy();
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
