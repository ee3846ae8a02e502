import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { postJson, QueryHold, startTestServer, type TestServer } from './helpers.js';
import { baseTime, loadSeries } from './promql-helpers.js';

/**
 * Heroic's query and metadata routes behind access control (queries need read, deleting series
 * admin) and within the query limits: MAX_SERIES, MAX_QUERY_SAMPLES, query slots, QUERY_TIMEOUT_MS.
 */
const READ = 'r-0123456789abcdef-reader';
const ADMIN = 'a-0123456789abcdef-admin';
const B = baseTime(2);
let srv: TestServer;
const hold = new QueryHold('held.metric');

beforeAll(async () => {
  srv = await startTestServer(
    { AUTH_TOKENS: `grafana:${READ}:read,ops:${ADMIN}:admin`, MAX_SERIES: '2', MAX_QUERY_SAMPLES: '5', MAX_CONCURRENT_QUERIES: '1', QUERY_QUEUE_MS: '100', QUERY_TIMEOUT_MS: '1500' },
    { wrapStore: hold.wrap },
  );
  await loadSeries(srv.ctx.store, [
    { labels: { __name__: 'doomed', host: 'a' }, samples: [[B + 1000, 1]] },
    { labels: { __name__: 'kept', host: 'a' }, samples: [[B + 1000, 2]] },
  ]);
});
afterAll(async () => {
  await srv?.destroy();
});

const auth = (t: string) => ({ authorization: `Bearer ${t}` });
const query = { filter: ['or', ['key', 'doomed'], ['key', 'kept']], range: { type: 'absolute', start: B, end: B + 60_000 } };

describe('Heroic routes and tokens', () => {
  it('queries need a read token', async () => {
    expect((await postJson(`${srv.url}/query/metrics`, query)).status).toBe(401);
    expect((await postJson(`${srv.url}/query/batch`, { queries: { A: query } })).status).toBe(401);
    const ok = await postJson(`${srv.url}/query/metrics`, query, auth(READ));
    expect(ok.status).toBe(200);
    expect(ok.body.result.map((r: any) => r.key).sort()).toEqual(['doomed', 'kept']);
    expect((await fetch(`${srv.url}/status`, { headers: auth(READ) })).status).toBe(200);
    expect((await fetch(`${srv.url}/status`)).status).toBe(401);
  });

  it('DELETE /metadata/series needs admin, and removes the series and its points', async () => {
    const del = (t: string) => fetch(`${srv.url}/metadata/series`, { method: 'DELETE', headers: { 'content-type': 'application/json', ...auth(t) }, body: JSON.stringify({ filter: ['key', 'doomed'] }) });
    expect((await del(READ)).status).toBe(403);
    const r = await del(ADMIN);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ errors: [], deleted: 1, failed: 0 });
    const after = await postJson(`${srv.url}/query/metrics`, query, auth(READ));
    expect(after.body.result.map((x: any) => x.key)).toEqual(['kept']);
    const listed = await postJson(`${srv.url}/metadata/series`, {}, auth(READ));
    expect(listed.body.series.map((s: any) => s.key)).toEqual(['kept']);
  });
});

describe('Heroic queries within the limits', () => {
  it('answers 422 when a quantile would read more than MAX_QUERY_SAMPLES points', async () => {
    await loadSeries(srv.ctx.store, [{ labels: { __name__: 'many', host: 'a' }, samples: Array.from({ length: 10 }, (_, i): [number, number] => [B + 1000 + i * 1000, i]) }]);
    const body = (type: string) => ({ ...query, filter: ['key', 'many'], features: ['-com.spotify.heroic.shift_range'], aggregation: { type, size: 60_000 } });
    const sum = await postJson(`${srv.url}/query/metrics`, body('sum'), auth(READ));
    expect(sum.status, JSON.stringify(sum.body)).toBe(200);
    expect(sum.body.result[0].values).toEqual([[B + 60_000, 45]]);
    const q = await postJson(`${srv.url}/query/metrics`, body('quantile'), auth(READ));
    expect(q.status, JSON.stringify(q.body)).toBe(422);
    expect(q.body).toMatchObject({ type: 'error', code: 'MTR_QUERY_TOO_MANY_SAMPLES' });
  });

  it('answers 422 past MAX_SERIES', async () => {
    // 'kept', 'many' and two more: past MAX_SERIES = 2 ('doomed' is deleted above).
    await loadSeries(srv.ctx.store, [
      { labels: { __name__: 'third', host: 'a' }, samples: [[B + 1000, 3]] },
      { labels: { __name__: 'fourth', host: 'a' }, samples: [[B + 1000, 4]] },
    ]);
    const r = await postJson(`${srv.url}/query/metrics`, { ...query, filter: ['true'] }, auth(READ));
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({ type: 'error', status: 422, code: 'MTR_QUERY_TOO_MANY_SERIES' });
  });

  it('takes a query slot: a second query waits QUERY_QUEUE_MS, then 503; a held one times out with 503', async () => {
    const held = postJson(`${srv.url}/query/metrics`, { ...query, filter: ['key', 'held.metric'] }, auth(READ));
    await vi.waitFor(() => expect(hold.n).toBe(1), { timeout: 5000, interval: 10 });
    const second = await postJson(`${srv.url}/query/metrics`, query, auth(READ));
    expect(second.status).toBe(503);
    expect(second.body).toMatchObject({ type: 'error', code: 'MTR_QUERY_OVERLOADED' });
    const first = await held;
    expect(first.status).toBe(503);
    expect(first.body.code).toBe('MTR_QUERY_TIMEOUT');
    const after = await postJson(`${srv.url}/query/metrics`, query, auth(READ));
    expect(after.status).toBe(200);
  });
});
