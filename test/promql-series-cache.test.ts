import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriesId } from '../ingest/series-id.js';
import { chTime } from '../server/store/store.js';
import { startTestServer, type TestServer } from './helpers.js';
import { baseTime, loadSeries, promGet, samples } from './promql-helpers.js';

/**
 * The embedded store keeps series lookups and series_ends' span in process (series-cache.ts):
 * what a query answered before a write must never hide the write from the next query.
 */
let srv: TestServer;
const B = baseTime();
const sec = (ms: number) => ms / 1000;
const train = samples(B, 15_000, Array.from({ length: 40 }, (_, k) => k));

beforeAll(async () => {
  srv = await startTestServer();
  await loadSeries(srv.ctx.store, [{ labels: { __name__: 'cached', job: 'a' }, samples: train }]);
});
afterAll(async () => {
  await srv?.destroy();
});

async function range(query: string, end = B + 540_000) {
  const r = await promGet(srv.url, '/api/v1/query_range', { query, start: sec(B + 60_000), end: sec(end), step: 60 });
  expect(r.status).toBe(200);
  return r.body.data.result as { metric: Record<string, string>; values: [number, string][] }[];
}

describe('series lookups kept in process', () => {
  it('see a series written after the selector was last answered', async () => {
    expect((await range('cached')).map((s) => s.metric.job)).toEqual(['a']);
    expect((await range('sum by (job) (cached)')).map((s) => s.metric.job)).toEqual(['a']);
    expect((await range('count_over_time(cached[5m])')).length).toBe(1);
    await loadSeries(srv.ctx.store, [{ labels: { __name__: 'cached', job: 'b' }, samples: train }]);
    expect((await range('cached')).map((s) => s.metric.job)).toEqual(['a', 'b']);
    expect((await range('sum by (job) (cached)')).map((s) => s.metric.job)).toEqual(['a', 'b']);
    expect((await range('count_over_time(cached[5m])')).length).toBe(2);
  });

  it('see a staleness marker written after series_ends was last read', async () => {
    // The last sample is at B+585s: the lookback shows it up to the step at B+840s.
    const end = B + 900_000;
    expect((await range('cached{job="a"}', end))[0].values.length).toBe(14);
    await srv.ctx.store.insertRows('series_ends', [{ series_id: seriesId('cached', { job: 'a' }), ts: chTime(B + 590_000) }]);
    // The marker at B+590s hides it from the step at B+600s on.
    const after = await range('cached{job="a"}', end);
    expect(after[0].values.map((p) => p[0] - sec(B))).toEqual([60, 120, 180, 240, 300, 360, 420, 480, 540]);
    expect((await range('sum(cached{job="a"})', end))[0].values.length).toBe(9);
  });
});
