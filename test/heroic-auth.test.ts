import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startTestServer, type TestServer } from './helpers.js';
import { baseTime, loadSeries } from './promql-helpers.js';

/** Heroic's query and metadata routes behind access control: queries need read, deleting series admin. */
const READ = 'r-0123456789abcdef-reader';
const ADMIN = 'a-0123456789abcdef-admin';
const B = baseTime(2);
let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({ AUTH_TOKENS: `grafana:${READ}:read,ops:${ADMIN}:admin` });
  await loadSeries(srv.ctx.store, [
    { labels: { __name__: 'doomed', host: 'a' }, samples: [[B + 1000, 1]] },
    { labels: { __name__: 'kept', host: 'a' }, samples: [[B + 1000, 2]] },
  ]);
});
afterAll(async () => {
  await srv?.destroy();
});

const auth = (t: string) => ({ authorization: `Bearer ${t}` });
const query = { filter: ['true'], range: { type: 'absolute', start: B, end: B + 60_000 } };

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
