import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewSeries } from '../ingest/types.js';
import { LAST_SEEN_MARGIN_MS } from '../server/series/lookup.js';
import { getJson, heroic, postJson, startTestServer, wrapStore, type TestServer } from './helpers.js';
import { promGet } from './promql-helpers.js';

/**
 * The series index never hides live data: history that arrives oldest-first, in many requests
 * (a backfill, a replay, a Prometheus catching up), leaves every series visible at its newest
 * sample through every read API. Before, last_seen stayed at the first flush's data time for an
 * hour of wall-clock time and every query near "now" answered empty.
 */
let srv: TestServer;
const STEP = 10_000;
const HOURS = 3;
const REQUESTS = 18;
/** The newest sample: a little before now (the write path refuses the future). */
let newest: number;
const sec = (ms: number) => ms / 1000;

const SERIES = [
  { key: 'http_requests_total', tags: { service: 'shop', code: '200', route: '/cart' } },
  { key: 'http_requests_total', tags: { service: 'shop', code: '500', route: '/cart' } },
];

/** Every series row the writer records, in order (the real store, wrapped). */
const recorded: NewSeries[] = [];
const recording = wrapStore({
  insertSeries: (real, rows) => {
    recorded.push(...rows);
    return real(rows);
  },
});

beforeAll(async () => {
  srv = await startTestServer({ FLUSH_MS: '5' }, { wrapStore: recording });
  newest = Math.floor(Date.now() / 1000) * 1000 - 2_000;
  const total = (HOURS * 3_600_000) / STEP;
  const perRequest = total / REQUESTS;
  const first = newest - (total - 1) * STEP;
  // Oldest first, one request after another, as a backfill sends them.
  for (let r = 0; r < REQUESTS; r++) {
    const body = SERIES.map((s, i) => {
      const points: [number, number][] = [];
      for (let k = r * perRequest; k < (r + 1) * perRequest; k++) points.push([first + k * STEP, (i + 1) * k]);
      return heroic(s.key, s.tags, points);
    });
    const res = await postJson(`${srv.url}/write`, body);
    expect(res.status).toBe(200);
  }
});
afterAll(async () => {
  await srv?.destroy();
});

describe('history written oldest-first in many requests', () => {
  it('is visible to an instant selection at its newest sample', async () => {
    const r = await promGet(srv.url, '/api/v1/query', { query: 'http_requests_total', time: sec(newest) });
    expect(r.status).toBe(200);
    expect(r.body.data.result.map((s: any) => s.metric.code).sort()).toEqual(['200', '500']);
    const last = (HOURS * 3_600_000) / STEP - 1;
    const byCode = Object.fromEntries(r.body.data.result.map((s: any) => [s.metric.code, Number(s.value[1])]));
    expect(byCode).toEqual({ '200': last, '500': 2 * last });
  });

  it('answers rate over the last 5 minutes', async () => {
    const r = await promGet(srv.url, '/api/v1/query', { query: 'sum by (code) (rate(http_requests_total[5m]))', time: sec(newest) });
    const byCode = Object.fromEntries(r.body.data.result.map((s: any) => [s.metric.code, Number(s.value[1])]));
    // +1 (code 200) and +2 (code 500) every 10 s.
    expect(byCode['200']).toBeCloseTo(0.1, 9);
    expect(byCode['500']).toBeCloseTo(0.2, 9);
  });

  it('fills a 15-minute range at every step', async () => {
    const r = await promGet(srv.url, '/api/v1/query_range', {
      query: 'http_requests_total{code="200"}',
      start: sec(newest - 15 * 60_000),
      end: sec(newest),
      step: 60,
    });
    expect(r.body.data.result).toHaveLength(1);
    expect(r.body.data.result[0].values).toHaveLength(16);
  });

  it('lists the series, label names and label values over the last 5 minutes', async () => {
    const range = { start: sec(newest - 300_000), end: sec(newest) };
    const series = await promGet(srv.url, '/api/v1/series', { 'match[]': 'http_requests_total', ...range });
    expect(series.body.data).toHaveLength(2);
    const labels = await promGet(srv.url, '/api/v1/labels', range);
    expect(labels.body.data).toEqual(expect.arrayContaining(['__name__', 'code', 'route', 'service']));
    const values = await promGet(srv.url, '/api/v1/label/code/values', range);
    expect(values.body.data).toEqual(['200', '500']);
  });

  it('exports the newest samples', async () => {
    const qs = new URLSearchParams({ 'match[]': 'http_requests_total{code="500"}', start: String(sec(newest - 60_000)), end: String(sec(newest)) });
    const res = await fetch(`${srv.url}/api/v1/export?${qs}`);
    const lines = (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0].timestamps.at(-1)).toBe(newest);
  });

  it('shows in Heroic metadata for the last 5 minutes', async () => {
    const range = { type: 'absolute', start: newest - 300_000, end: newest };
    const r = await postJson(`${srv.url}/metadata/series`, { filter: ['key', 'http_requests_total'], range });
    expect(r.status).toBe(200);
    expect(r.body.series).toHaveLength(2);
    const count = await postJson(`${srv.url}/metadata/series-count`, { filter: ['key', 'http_requests_total'], range });
    expect(count.body.count).toBe(2);
  });

  it("gives the service's health its request rate and error ratio", async () => {
    const r = await getJson(`${srv.url}/api/v1/services`);
    const shop = r.body.data.find((s: any) => s.name === 'shop');
    expect(shop.health.requestRate).toBeCloseTo(0.3, 6);
    expect(shop.health.errorRatio).toBeCloseTo(2 / 3, 6);
  });

  it('finds a series in a past window after newer data was written first', async () => {
    // Newest first: the series row must reach back to the older samples too.
    const key = 'backwards_gauge';
    const old = newest - 2 * 3_600_000;
    expect((await postJson(`${srv.url}/write`, heroic(key, {}, [[newest - 1000, 2]]))).status).toBe(200);
    expect((await postJson(`${srv.url}/write`, heroic(key, {}, [[old, 1]]))).status).toBe(200);
    const r = await promGet(srv.url, '/api/v1/query', { query: key, time: sec(old + 1000) });
    expect(r.body.data.result.map((s: any) => s.value[1])).toEqual(['1']);
  });

  it('re-records a live series at most once per margin of data time', async () => {
    // 20 minutes of a 30 s push, one sample per request, as a pushing service sends it.
    const key = 'live_gauge';
    const every = 30_000;
    const start = newest - 20 * 60_000;
    for (let t = start; t <= newest; t += every) {
      expect((await postJson(`${srv.url}/write`, heroic(key, { instance: 'a' }, [[t, 1]]))).status).toBe(200);
    }
    await srv.ctx.writer.settled(); // `recorded` sees what reaches the store
    const rows = recorded.filter((r) => r.key === key);
    // One row when first seen, then at most one each time the data moves more than the margin
    // on (fewer when requests answered from the write-ahead log share a flush: one row then
    // covers them all).
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect(rows.length).toBeLessThanOrEqual(Math.floor((20 * 60_000) / (LAST_SEEN_MARGIN_MS + every)) + 1);
    expect(rows[0].lastSeen).toBe(start);
    // Every sample lies within [first_seen, last_seen + margin] of a row, so lookups find it.
    for (let t = start; t <= newest; t += every) {
      expect(rows.some((r) => r.firstSeen <= t && t <= r.lastSeen + LAST_SEEN_MARGIN_MS), `sample at ${t}`).toBe(true);
    }
    // Every row covers the series from its first sample.
    expect(new Set(rows.map((r) => r.firstSeen))).toEqual(new Set([start]));
  });
});
