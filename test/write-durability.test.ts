import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from './alerting-helpers.js';
import { exportSeries, heroic, postJson, startTestServer, wrapStore, type TestServer } from './helpers.js';

/**
 * Faults injected around the real embedded store: a commit whose acknowledgement is lost, a
 * store that is down for a while, and a store that is slow while writers pile up. Writes are
 * answered at commit here (WRITE_ACK=commit); test/write-ahead-log.test.ts has the same faults
 * with writes answered from the log.
 */
let srv: TestServer;
const fault = { loseAckOnce: false, failNext: 0, gate: null as Promise<void> | null, insertTokens: [] as string[] };

const faulty = wrapStore({
  insertPoints: async (real, points, token) => {
    fault.insertTokens.push(token);
    if (fault.gate) await fault.gate;
    if (fault.failNext > 0) {
      fault.failNext--;
      throw new Error('injected: storage unavailable');
    }
    await real(points, token);
    if (fault.loseAckOnce) {
      fault.loseAckOnce = false;
      throw new Error('injected: connection reset after commit');
    }
  },
});

beforeAll(async () => {
  srv = await startTestServer({ WRITE_ACK: 'commit', MAX_BUFFERED_POINTS: '1000', FLUSH_RETRIES: '2', FLUSH_MS: '5' }, { wrapStore: faulty });
});
afterAll(async () => {
  await srv?.destroy();
});
const now = Date.now();

describe('write durability', () => {
  it('stores a retried flush once when the first commit succeeded but its acknowledgement was lost', async () => {
    fault.insertTokens = [];
    fault.loseAckOnce = true;
    const r = await postJson(`${srv.url}/write`, heroic('dedup.metric', {}, [[now - 2000, 1], [now - 1000, 2]]));
    expect(r.status).toBe(200);
    expect(fault.insertTokens).toHaveLength(2);
    expect(fault.insertTokens[0]).toBe(fault.insertTokens[1]);
    const lines = await exportSeries(srv.url, 'dedup.metric');
    expect(lines[0].values).toEqual([1, 2]);
  });

  it('answers 503 with Retry-After while storage is down, and accepts the client retry once it is back', async () => {
    fault.failNext = 3; // first attempt + 2 retries
    const r = await postJson(`${srv.url}/write`, heroic('down.metric', {}, [[now, 1]]));
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('MTR_WRITE_STORE_FAILED');
    expect(r.headers.get('retry-after')).toBe('1');
    expect(await exportSeries(srv.url, 'down.metric')).toEqual([]);
    // Storage back: the client's retry succeeds.
    const again = await postJson(`${srv.url}/write`, heroic('down.metric', {}, [[now, 1]]));
    expect(again.status).toBe(200);
    expect((await exportSeries(srv.url, 'down.metric'))[0].values).toEqual([1]);
  });

  it('answers 429 with Retry-After when the buffer is full, then accepts again once it drains', async () => {
    let open!: () => void;
    fault.gate = new Promise<void>((r) => (open = r));
    const points = (n: number, base: number) => Array.from({ length: n }, (_, i) => [now - base - i, i] as [number, number]);
    const inserts = fault.insertTokens.length;
    const first = postJson(`${srv.url}/write`, heroic('bp.metric', { w: '1' }, points(700, 0)));
    // Its flush has reached the store and is held at the gate: its 700 points stay buffered.
    await until(() => fault.insertTokens.length > inserts, 10_000, 'the first flush to reach the store');
    const second = await postJson(`${srv.url}/write`, heroic('bp.metric', { w: '2' }, points(700, 0)));
    expect(second.status).toBe(429);
    expect(second.body.error.code).toBe('MTR_WRITE_BACKPRESSURE');
    expect(second.headers.get('retry-after')).toBe('1');
    fault.gate = null;
    open();
    expect((await first).status).toBe(200);
    const retry = await postJson(`${srv.url}/write`, heroic('bp.metric', { w: '2' }, points(700, 0)));
    expect(retry.status).toBe(200);
    const lines = await exportSeries(srv.url, 'bp.metric');
    expect(lines.map((l) => l.values.length)).toEqual([700, 700]);
  });

  it('keeps every acknowledged point exactly once under 20 concurrent writers', async () => {
    const writers = 20;
    const perWriter = 15;
    const acked: string[] = [];
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let r = 0; r < perWriter; r++) {
          const ts = now - 100_000 + r * 100;
          const res = await postJson(`${srv.url}/write`, heroic('conc.metric', { writer: String(w) }, [[ts, w * 1000 + r], [ts + 1, -1]]));
          if (res.status === 200) acked.push(`${w}:${ts}`, `${w}:${ts + 1}`);
          else expect(res.status).toBe(429);
        }
      }),
    );
    expect(acked.length).toBeGreaterThan(0);
    const lines = await exportSeries(srv.url, 'conc.metric');
    const stored: string[] = [];
    for (const l of lines) for (const t of l.timestamps) stored.push(`${l.metric.writer}:${t}`);
    expect(stored.sort()).toEqual(acked.sort());
  });
});
