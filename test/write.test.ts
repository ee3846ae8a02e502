import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportSeries, heroic, postJson, startTestServer, type TestServer } from './helpers.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.destroy();
});

describe('POST /write', () => {
  it('stores points that read back through export', async () => {
    const now = Date.now();
    const r = await postJson(`${srv.url}/write`, heroic('cpu.usage', { host: 'a' }, [[now - 1000, 0.5], [now, 0.75]]));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true, series: 1, points: 2 });
    const lines = await exportSeries(srv.url, '{__name__="cpu.usage",host="a"}');
    expect(lines).toEqual([{ metric: { __name__: 'cpu.usage', host: 'a' }, values: [0.5, 0.75], timestamps: [now - 1000, now] }]);
  });
});
