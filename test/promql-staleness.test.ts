import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriesId } from '../ingest/series-id.js';
import { chTime } from '../server/store/store.js';
import { startTestServer, type TestServer } from './helpers.js';
import { baseTime, loadSeries, promGet, samples } from './promql-helpers.js';

/**
 * Staleness markers (series_ends, written by the remote-write path when Prometheus reports a
 * series ended): the series disappears from instant selection at the marker instead of
 * lingering for the 5 m lookback, and comes back with its next sample.
 *   gone{job="a"}  samples every 15 s from B+5s to B+290s, marker at B+310s, a sample at B+605s
 * (at B+600 neither shows: B+290 is more than 5 m back, and B+605 is still ahead)
 *   kept{job="a"}  the same samples, no marker
 */
let srv: TestServer;
const B = baseTime();
const sec = (ms: number) => ms / 1000;

beforeAll(async () => {
  srv = await startTestServer();
  const train = [...samples(B + 5000, 15_000, Array.from({ length: 20 }, (_, k) => k)), [B + 605_000, 100]] as [number, number][];
  await loadSeries(srv.ctx.store, [
    { labels: { __name__: 'gone', job: 'a' }, samples: train },
    { labels: { __name__: 'kept', job: 'a' }, samples: train },
  ]);
  await srv.ctx.store.insertRows('series_ends', [{ series_id: seriesId('gone', { job: 'a' }), ts: chTime(B + 310_000) }]);
});
afterAll(async () => {
  await srv?.destroy();
});

async function steps(query: string): Promise<number[]> {
  const r = await promGet(srv.url, '/api/v1/query_range', { query, start: sec(B + 60_000), end: sec(B + 900_000), step: 60 });
  expect(r.status).toBe(200);
  return (r.body.data.result[0]?.values ?? []).map((p: [number, string]) => (p[0] * 1000 - B) / 1000);
}

describe('staleness markers', () => {
  it('end a series at its marker, until its next sample', async () => {
    expect(await steps('gone')).toEqual([60, 120, 180, 240, 300, 660, 720, 780, 840, 900]);
    // Without a marker the last sample stays visible for the 5 m lookback.
    expect(await steps('kept')).toEqual([60, 120, 180, 240, 300, 360, 420, 480, 540, 660, 720, 780, 840, 900]);
  });

  it('apply under an aggregation and to timestamp()', async () => {
    expect(await steps('sum(gone)')).toEqual([60, 120, 180, 240, 300, 660, 720, 780, 840, 900]);
    expect(await steps('timestamp(gone)')).toEqual([60, 120, 180, 240, 300, 660, 720, 780, 840, 900]);
  });

  it('hide a series from instant queries from its marker until its next sample', async () => {
    const at = async (t: number) => (await promGet(srv.url, '/api/v1/query', { query: 'gone', time: sec(t) })).body.data.result.length;
    expect(await at(B + 300_000)).toBe(1);
    expect(await at(B + 310_000)).toBe(0);
    expect(await at(B + 605_000)).toBe(1);
  });

  it('do not touch range functions (a marker is not a sample)', async () => {
    const r = await promGet(srv.url, '/api/v1/query', { query: 'count_over_time(gone[10m])', time: sec(B + 600_000) });
    expect(r.body.data.result[0].value[1]).toBe('20');
  });
});
