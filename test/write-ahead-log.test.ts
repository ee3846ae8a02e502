import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../server/store/index.js';
import { until } from './alerting-helpers.js';
import { exportSeries, getJson, heroic, postJson, startTestServer, tempDir, wrapStore, type TestServer } from './helpers.js';

/**
 * Writes answered from the write-ahead log (WRITE_ACK=auto: the embedded single node), with
 * faults injected around the real store: an answer comes before ClickHouse has the points, a
 * read that follows still sees them, an outage is ridden through, and a restart replays what
 * ClickHouse never took, once (and not what it took without confirming). test/crash.test.ts kills the process under load in this mode.
 */
const fault = { gate: null as Promise<void> | null, failInserts: false, loseAckOnce: false, tokens: [] as string[], committed: 0 };

const faulty = wrapStore({
  insertPoints: async (real, points, token) => {
    fault.tokens.push(token);
    if (fault.gate) await fault.gate;
    if (fault.failInserts) throw new Error('injected: storage unavailable');
    await real(points, token);
    fault.committed++;
    if (fault.loseAckOnce) {
      fault.loseAckOnce = false;
      fault.failInserts = true; // and down from then on
      throw new Error('injected: connection reset after commit');
    }
  },
});

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ MAX_BUFFERED_POINTS: '1000', FLUSH_MS: '5' }, { wrapStore: faulty });
});
afterAll(async () => {
  fault.gate = null;
  fault.failInserts = false;
  await srv?.destroy();
});

const now = Date.now();
const metric = async (base: string, name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(await (await fetch(`${base}/metrics`)).text())?.[1] ?? NaN);

/** Until one read waits for the writes answered before it (the writer's gauge counts it). */
async function readWaiting(): Promise<void> {
  for (const start = Date.now(); (await srv.ctx.metrics.readsWaitingForWrites.get()).values[0]?.value !== 1; ) {
    if (Date.now() - start > 10_000) throw new Error('the read did not wait for the write');
    await new Promise((r) => setImmediate(r));
  }
}

describe('writes answered from the write-ahead log', () => {
  it('answers once the points are in the log, before ClickHouse has them, and a read that follows waits for them', async () => {
    let open!: () => void;
    fault.gate = new Promise<void>((r) => (open = r));
    const committed = fault.committed;
    const w = await postJson(`${srv.url}/write`, heroic('wal.read', {}, [[now - 1000, 7]]));
    expect(w.status).toBe(200);
    expect(fault.committed).toBe(committed); // answered while its insert is held
    const read = exportSeries(srv.url, 'wal.read');
    try {
      await readWaiting();
    } finally {
      fault.gate = null;
      open();
    }
    expect((await read).map((l) => l.values)).toEqual([[7]]);
  });

  it('holds a GET under /api/ (the cardinality status) until an answered write is in ClickHouse', async () => {
    let open!: () => void;
    fault.gate = new Promise<void>((r) => (open = r));
    expect((await postJson(`${srv.url}/write`, heroic('wal.card', { service: 'walcard' }, [[now - 1000, 1]]))).status).toBe(200);
    const read = getJson(`${srv.url}/api/v1/status/cardinality?limit=100`);
    try {
      await readWaiting();
    } finally {
      fault.gate = null;
      open();
    }
    const r = await read;
    expect(r.status).toBe(200);
    expect(r.body.data.services.find((x: { name: string }) => x.name === 'walcard')).toMatchObject({ series: 1 });
  });

  it('answers writes while ClickHouse refuses inserts, then stores each point once when it is back', async () => {
    fault.failInserts = true;
    const tokens = fault.tokens.length;
    for (let i = 0; i < 5; i++) {
      const r = await postJson(`${srv.url}/write`, heroic('wal.outage', { i: String(i) }, [[now - 500, i]]));
      expect(r.status).toBe(200);
    }
    await until(() => fault.tokens.length >= tokens + 3, 10_000, 'the flush to be retried');
    fault.failInserts = false;
    await srv.ctx.writer.settled();
    const lines = await exportSeries(srv.url, 'wal.outage');
    expect(lines.map((l) => l.values[0]).sort()).toEqual([0, 1, 2, 3, 4]);
    const [stored] = await srv.ctx.store.query<{ n: string }>(sql`SELECT count() AS n FROM points WHERE series_id IN (SELECT series_id FROM series WHERE key = 'wal.outage')`);
    expect(Number(stored.n)).toBe(5);
  });

  it('answers 429 with Retry-After once the points not yet in ClickHouse reach MAX_BUFFERED_POINTS', async () => {
    let open!: () => void;
    fault.gate = new Promise<void>((r) => (open = r));
    const points = (n: number) => Array.from({ length: n }, (_, i) => [now - 2000 - i, i] as [number, number]);
    expect((await postJson(`${srv.url}/write`, heroic('wal.full', { w: '1' }, points(700)))).status).toBe(200);
    const refused = await postJson(`${srv.url}/write`, heroic('wal.full', { w: '2' }, points(700)));
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('MTR_WRITE_BACKPRESSURE');
    expect(refused.headers.get('retry-after')).toBe('1');
    fault.gate = null;
    open();
    await srv.ctx.writer.settled();
    expect((await postJson(`${srv.url}/write`, heroic('wal.full', { w: '2' }, points(700)))).status).toBe(200);
    expect((await exportSeries(srv.url, 'wal.full')).map((l) => l.values.length)).toEqual([700, 700]);
  });
});

describe('a restart after writes ClickHouse never confirmed', () => {
  it('replays them from the log, once: a commit whose answer was lost and a write never sent', async () => {
    await srv.destroy();
    const dataDir = tempDir();
    const first = await startTestServer({ DATA_DIR: dataDir, FLUSH_MS: '5' }, { wrapStore: faulty });
    fault.loseAckOnce = true;
    fault.failInserts = false;
    const committed = fault.committed;
    expect((await postJson(`${first.url}/write`, heroic('wal.replay', { w: 'lost-ack' }, [[now - 3000, 1]]))).status).toBe(200);
    await until(() => fault.committed > committed, 10_000, 'the first insert to commit');
    // Its flush now retries against a store that is down; this one waits behind it, unsent.
    expect((await postJson(`${first.url}/write`, heroic('wal.replay', { w: 'unsent' }, [[now - 3000, 2]]))).status).toBe(200);
    await first.close({ writeGraceMs: 0 });
    expect(readdirSync(join(dataDir, 'wal')).length).toBeGreaterThan(0);

    fault.failInserts = false;
    srv = await startTestServer({ DATA_DIR: dataDir }, { wrapStore: faulty });
    // Both were in the log past its last done record; ClickHouse held the lost-ack one already.
    expect(await metric(srv.url, 'metronome_wal_replayed_points_total')).toBe(1);
    const lines = await exportSeries(srv.url, 'wal.replay');
    expect(Object.fromEntries(lines.map((l) => [l.metric.w, l.values]))).toEqual({ 'lost-ack': [1], unsent: [2] });
    // The lost-ack sample is not inserted again.
    const [stored] = await srv.ctx.store.query<{ n: string }>(sql`SELECT count() AS n FROM points WHERE series_id IN (SELECT series_id FROM series WHERE key = 'wal.replay')`);
    expect(Number(stored.n)).toBe(2);
    rmSync(dataDir, { recursive: true, force: true });
  });
});

describe('the group commit answered from the log', () => {
  it('gathers writes into one insert until a read needs them, then flushes at once', async () => {
    await srv.destroy();
    // An hour: without the read's hurry the points would wait that long for their insert.
    srv = await startTestServer({ FLUSH_MS: '3600000' });
    const flushes = async () => (await srv.ctx.metrics.flushes.get()).values.reduce((n, v) => n + v.value, 0);
    const before = await flushes();
    for (let i = 0; i < 3; i++) expect((await postJson(`${srv.url}/write`, heroic('wal.gather', { i: String(i) }, [[now - 1000, i]]))).status).toBe(200);
    // Answered, and still waiting for a fuller batch: nobody has read them.
    expect(srv.ctx.writer.buffered).toBe(3);
    expect(await flushes()).toBe(before);
    const lines = await exportSeries(srv.url, 'wal.gather');
    expect(lines.map((l) => l.values[0]).sort()).toEqual([0, 1, 2]);
    expect(await flushes()).toBe(before + 1);
    expect(srv.ctx.writer.buffered).toBe(0);
  });
});
