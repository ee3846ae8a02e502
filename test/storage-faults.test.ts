import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from './alerting-helpers.js';
import { exportSeries, getJson, heroic, startTestServer, wrapStore, type TestServer } from './helpers.js';

/**
 * A storage outage injected around the real store (inserts and queries fail while `down`):
 * writers get 503 with Retry-After and nothing half-stored, /readyz reports the outage, and
 * the server recovers by itself when storage returns; every acknowledged point is then stored
 * exactly once. Writes are answered at commit here (WRITE_ACK=commit); with the write-ahead
 * log they are answered through an outage (test/write-ahead-log.test.ts).
 */
const fault = { down: false, failedInserts: 0, failedQueries: 0 };

/** A store method that fails while `fault.down`, counted under `counter`. */
const whileUp =
  (counter: 'failedInserts' | 'failedQueries') =>
  async <A extends unknown[], R>(real: (...args: A) => Promise<R>, ...args: A): Promise<R> => {
    if (fault.down) {
      fault[counter]++;
      // What the client library throws when a remote ClickHouse is down.
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123 (injected: storage unavailable)'), { code: 'ECONNREFUSED' });
    }
    return real(...args);
  };
const outage = wrapStore({
  insertPoints: whileUp('failedInserts'),
  insertSeries: whileUp('failedInserts'),
  insertRows: whileUp('failedInserts'),
  query: whileUp('failedQueries'),
  command: whileUp('failedQueries'),
});

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ WRITE_ACK: 'commit', FLUSH_RETRIES: '2', FLUSH_MS: '10' }, { wrapStore: outage });
});
afterAll(async () => {
  fault.down = false;
  await srv?.destroy();
});

describe('storage outage', () => {
  it('answers 503 while storage is down, reports it on /readyz, and recovers by itself with nothing acknowledged lost', async () => {
    const base = Date.now() - 600_000;
    const acked: string[] = [];
    const statuses = new Map<number, number>();
    let running = true;
    let retryAfterSeen = false;
    // Writers that behave like Prometheus: re-send on 503/429 after Retry-After (scaled down to
    // 100 ms: a real client's real wait). The test itself waits only for what the writers and
    // the server do, each wait bounded.
    const writer = async (w: number) => {
      for (let seq = 0; running; seq++) {
        const ts = base + seq * 10;
        const body = JSON.stringify([heroic('outage.metric', { w: String(w), kind: 'a' }, [[ts, seq]]), heroic('outage.metric', { w: String(w), kind: 'b' }, [[ts + 1, -seq]])]);
        for (;;) {
          const res = await fetch(`${srv.url}/write`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
          const json = (await res.json()) as { error?: { code: string } };
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status === 200) break;
          expect([503, 429]).toContain(res.status);
          if (res.status === 503) expect(json.error?.code).toBe('MTR_WRITE_STORE_FAILED');
          if (res.headers.get('retry-after') === '1') retryAfterSeen = true;
          await new Promise((r) => setTimeout(r, 100));
        }
        acked.push(`${w}/a@${ts}`, `${w}/b@${ts + 1}`);
      }
    };
    const writers = Promise.all([0, 1, 2].map(writer));

    await until(() => acked.length >= 12, 10_000, 'writes acknowledged before the outage');
    expect((await getJson(`${srv.url}/readyz`)).status).toBe(200);
    const before = acked.length;

    fault.down = true;
    const refusedBefore = statuses.get(503) ?? 0;
    const downAt = Date.now();
    let notReady: { status: number; body: any } | undefined;
    // Down until /readyz has reported it and the writers have been refused a few times.
    while (Date.now() - downAt < 10_000 && !(notReady && (statuses.get(503) ?? 0) - refusedBefore >= 6)) {
      const r = await getJson(`${srv.url}/readyz`);
      if (r.status === 503 && r.body.checks.writes) notReady = r;
      await new Promise((res) => setTimeout(res, 50));
    }
    const duringOutage = acked.length;
    fault.down = false;
    const upAt = Date.now();

    // Ready again without any intervention once inserts succeed.
    let readyAfter = -1;
    while (Date.now() - upAt < 10_000) {
      if ((await getJson(`${srv.url}/readyz`)).status === 200) {
        readyAfter = Date.now() - upAt;
        break;
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    await until(() => acked.length >= duringOutage + 12, 10_000, 'writes acknowledged after the outage');
    running = false;
    await writers;

    expect(notReady?.body.status).toBe('not ready');
    expect(notReady?.body.checks.writes).toMatch(/^failing: \d+ failed insert\(s\) since .*injected: storage unavailable/);
    expect((statuses.get(503) ?? 0) - refusedBefore).toBeGreaterThanOrEqual(6);
    expect(retryAfterSeen).toBe(true);
    expect(fault.failedInserts).toBeGreaterThan(0);
    // Writes acknowledged during the outage: none beyond those in flight when it began.
    expect(duringOutage - before).toBeLessThanOrEqual(6);
    expect(readyAfter).toBeGreaterThanOrEqual(0);
    expect(readyAfter).toBeLessThan(5000);
    expect(acked.length).toBeGreaterThan(duringOutage);

    const stored: string[] = [];
    for (const l of await exportSeries(srv.url, 'outage.metric')) for (const t of l.timestamps) stored.push(`${l.metric.w}/${l.metric.kind}@${t}`);
    expect(stored.length).toBe(new Set(stored).size);
    expect(stored.sort()).toEqual(acked.sort());
  });

  it('answers reads with 503 rather than 500 while storage is down, and serves them again after', async () => {
    fault.down = true;
    try {
      for (const path of ['/api/v1/query?query=outage_metric', '/api/v1/query_range?query=up&start=0&end=60&step=15', '/api/v1/series?match[]=up', '/api/v1/labels']) {
        const r = await getJson(`${srv.url}${path}`);
        expect(r.status, `${path}: ${JSON.stringify(r.body)}`).toBe(503);
        expect(r.body).toMatchObject({ status: 'error', code: 'MTR_STORE_UNAVAILABLE' });
        expect(r.headers.get('retry-after')).toBe('1');
      }
    } finally {
      fault.down = false;
    }
    expect((await getJson(`${srv.url}/api/v1/series?match[]={__name__="outage.metric"}`)).body.data).toHaveLength(6);
  });
});
