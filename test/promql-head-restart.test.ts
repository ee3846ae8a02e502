import { afterAll, describe, expect, it } from 'vitest';
import { heroic, postJson, tempDir } from './helpers.js';
import { promGet } from './promql-helpers.js';
import { startServerProcess, stopServerProcess, type ServerProcess } from './server-process.js';

/**
 * After a restart the head of recent points (server/store/head.ts) reads the stored recent
 * hours back in the background: its covered span reaches back to the data's start again, and
 * it answers as ClickHouse answered before the restart. The first server runs without a head,
 * so its answers come from ClickHouse.
 */
const dir = tempDir('metronome-head-restart-');
const procs: ServerProcess[] = [];
const HOUR = 3_600_000;
const newest = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
const first = newest - 2 * HOUR;
const QUERIES = ['rate(reqs_total[5m])', 'sum by (job) (rate(reqs_total[5m]))', 'max_over_time(reqs_total[10m])', 'reqs_total'];

afterAll(async () => {
  for (const p of procs) await stopServerProcess(p, 'SIGKILL');
});

async function answers(url: string): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const query of QUERIES) {
    const r = await promGet(url, '/api/v1/query_range', { query, start: (first + 10 * 60_000) / 1000, end: newest / 1000, step: 60 });
    expect(r.status).toBe(200);
    out.push(r.body.data.result);
  }
  return out;
}

async function coveredFrom(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^metronome_head_covered_from_seconds (\S+)$/m.exec(text);
  return m ? Number(m[1]) * 1000 : NaN;
}

describe('the head after a restart', () => {
  it('reads the stored recent hours back and answers as ClickHouse did', async () => {
    const a = await startServerProcess({ DATA_DIR: dir, HEAD_BYTES: '0', QUERY_CACHE_BYTES: '0' });
    procs.push(a);
    const body = [];
    for (const job of ['api', 'web']) {
      for (const instance of ['i0', 'i1', 'i2']) {
        const points: [number, number][] = [];
        for (let t = first, k = 0; t <= newest; t += 15_000, k++) points.push([t, k * (instance.length + job.length) + (k % 7)]);
        body.push(heroic('reqs_total', { job, instance }, points));
      }
    }
    expect((await postJson(`${a.url}/write`, body)).status).toBe(200);
    const fromClickHouse = await answers(a.url);
    expect((fromClickHouse[0] as unknown[]).length).toBe(6);
    expect(await stopServerProcess(a)).toBe(0);

    const b = await startServerProcess({ DATA_DIR: dir, QUERY_CACHE_BYTES: '0' });
    procs.push(b);
    // The load runs in the background: wait for it to reach the first sample (bounded).
    const deadline = Date.now() + 30_000;
    while ((await coveredFrom(b.url)) >= first && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await coveredFrom(b.url)).toBeLessThan(first);
    expect(await answers(b.url)).toEqual(fromClickHouse);
  });
});
