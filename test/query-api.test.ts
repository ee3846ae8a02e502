import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriesId } from '../ingest/series-id.js';
import { LAST_SEEN_MARGIN_MS } from '../server/series/lookup.js';
import { startTestServer, type TestServer } from './helpers.js';
import { baseTime, loadSeries, promGet, promPost, samples } from './promql-helpers.js';

/**
 * The Prometheus HTTP query API end to end: request parsing, result shapes, and errors.
 * Data: two counters sampled every 15 s from B+5s (off the minute grid), one with a reset.
 */
let srv: TestServer;
const B = baseTime();
const sec = (ms: number) => ms / 1000;
const T = B + 600_000; // 10 minutes in

beforeAll(async () => {
  srv = await startTestServer();
  await loadSeries(srv.ctx.store, [
    // a: +15 per sample (1/s), 40 samples from B+5s to B+590s.
    { labels: { __name__: 'http_requests_total', job: 'api', instance: 'a' }, samples: samples(B + 5000, 15000, Array.from({ length: 40 }, (_, k) => 15 * k)) },
    // b: +30 per sample (2/s), reset to 0 at sample 30 (B+455s).
    {
      labels: { __name__: 'http_requests_total', job: 'api', instance: 'b' },
      samples: samples(B + 5000, 15000, Array.from({ length: 40 }, (_, k) => (k < 30 ? 30 * k : 30 * (k - 30)))),
    },
    { labels: { __name__: 'special', kind: 'nan' }, samples: [[T - 1000, NaN]] },
    { labels: { __name__: 'special', kind: 'inf' }, samples: [[T - 1000, Infinity]] },
    { labels: { __name__: 'special', kind: 'ninf' }, samples: [[T - 1000, -Infinity]] },
    { labels: { __name__: 'special', kind: 'tiny' }, samples: [[T - 1000, 1e-7]] },
  ]);
});
afterAll(async () => {
  await srv?.destroy();
});

describe('GET /api/v1/query', () => {
  it('returns an instant vector with values as strings and times in seconds', async () => {
    const r = await promGet(srv.url, '/api/v1/query', { query: 'http_requests_total', time: sec(T) });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('success');
    expect(r.body.data.resultType).toBe('vector');
    const byInstance = Object.fromEntries(r.body.data.result.map((s: any) => [s.metric.instance, s]));
    // The last sample at or before T within the 5 m lookback: k = 39 (B+590s).
    expect(byInstance.a).toEqual({ metric: { __name__: 'http_requests_total', job: 'api', instance: 'a' }, value: [sec(T), '585'] });
    expect(byInstance.b.value).toEqual([sec(T), '270']);
  });

  it('accepts RFC 3339 times and form POSTs', async () => {
    const rfc = new Date(T).toISOString();
    const r = await promPost(srv.url, '/api/v1/query', { query: 'sum(http_requests_total)', time: rfc });
    expect(r.status).toBe(200);
    expect(r.body.data.result).toEqual([{ metric: {}, value: [sec(T), '855'] }]);
  });

  it('computes rate with extrapolation and across a counter reset', async () => {
    const r = await promGet(srv.url, '/api/v1/query', { query: 'rate(http_requests_total[5m])', time: sec(T) });
    const v = Object.fromEntries(r.body.data.result.map((s: any) => [s.metric.instance, Number(s.value[1])]));
    // a: 20 samples in (T-300s, T], 300 -> 585 over 285 s; 5 s and 10 s to the window edges are
    // under 1.1 x the 15 s spacing, so extrapolate to the full 300 s: 285 * 300/285 / 300 = 1.
    expect(v.a).toBeCloseTo(1, 12);
    // b: 600..870 then reset, 0..270: increase = 270 - 600 + 870 = 540, extrapolated x 300/285.
    expect(v.b).toBeCloseTo((540 * 300) / 285 / 300, 12);
    // rate drops the metric name.
    expect(r.body.data.result[0].metric.__name__).toBeUndefined();
  });

  it('returns a scalar for scalar expressions', async () => {
    const r = await promGet(srv.url, '/api/v1/query', { query: '2 ^ 3 * 2', time: sec(T) });
    expect(r.body.data).toEqual({ resultType: 'scalar', result: [sec(T), '16'] });
  });

  it('returns a string for a string literal', async () => {
    const r = await promGet(srv.url, '/api/v1/query', { query: '"hello"', time: sec(T) });
    expect(r.body.data).toEqual({ resultType: 'string', result: [sec(T), 'hello'] });
  });

  it('returns the raw samples of a range selector as a matrix', async () => {
    const r = await promGet(srv.url, '/api/v1/query', { query: 'http_requests_total{instance="a"}[1m]', time: sec(T) });
    expect(r.body.data.resultType).toBe('matrix');
    // (T-60s, T]: samples at B+545, 560, 575, 590.
    expect(r.body.data.result[0].values).toEqual([
      [sec(B + 545_000), '540'],
      [sec(B + 560_000), '555'],
      [sec(B + 575_000), '570'],
      [sec(B + 590_000), '585'],
    ]);
  });

  it('spells NaN and infinities as Prometheus does and never uses exponents', async () => {
    const r = await promGet(srv.url, '/api/v1/query', { query: 'special', time: sec(T) });
    const v = Object.fromEntries(r.body.data.result.map((s: any) => [s.metric.kind, s.value[1]]));
    expect(v).toEqual({ nan: 'NaN', inf: '+Inf', ninf: '-Inf', tiny: '0.0000001' });
  });

  it('answers a parse error with bad_data, 400 and the position', async () => {
    const r = await promGet(srv.url, '/api/v1/query', { query: 'rate(http_requests_total[5m]', time: sec(T) });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ status: 'error', errorType: 'bad_data', code: 'MTR_QUERY_PARSE' });
    expect(r.body.error).toMatch(/position 28/);
  });

  it('rejects a type error with the position of the offending argument', async () => {
    const r = await promGet(srv.url, '/api/v1/query', { query: 'rate(http_requests_total)', time: sec(T) });
    expect(r.status).toBe(400);
    expect(r.body.error).toContain('expected type range vector in call to function "rate", got instant vector');
    expect(r.body.error).toContain('position 5');
  });

  it('rejects an unknown function by name', async () => {
    const r = await promGet(srv.url, '/api/v1/query', { query: 'foo(http_requests_total)' });
    expect(r.status).toBe(400);
    expect(r.body.error).toContain('unknown function with name "foo"');
  });

  it('rejects a missing query and a bad time', async () => {
    const a = await promGet(srv.url, '/api/v1/query', {});
    expect(a.status).toBe(400);
    expect(a.body.errorType).toBe('bad_data');
    const b = await promGet(srv.url, '/api/v1/query', { query: '1', time: 'yesterday' });
    expect(b.status).toBe(400);
    expect(b.body.code).toBe('MTR_QUERY_BAD_PARAM');
    expect(b.body.error).toBe('invalid parameter "time": cannot parse "yesterday" to a valid timestamp (unix seconds or RFC 3339)');
  });

  it('reports an execution error (422) for many-to-many matching', async () => {
    const r = await promGet(srv.url, '/api/v1/query', { query: 'http_requests_total + on(job) http_requests_total', time: sec(T) });
    expect(r.status).toBe(422);
    expect(r.body.errorType).toBe('execution');
    expect(r.body.error).toContain('many-to-many matching not allowed');
  });
});

describe('GET /api/v1/query_range', () => {
  it('evaluates at start, start+step, ... <= end and returns a matrix', async () => {
    const r = await promGet(srv.url, '/api/v1/query_range', {
      query: 'http_requests_total{instance="a"}',
      start: sec(T),
      end: sec(T + 150_000),
      step: 60,
    });
    expect(r.status).toBe(200);
    expect(r.body.data.resultType).toBe('matrix');
    // Steps T, T+60, T+120 (T+180 > end). The last sample (B+590s) stays visible for 5 minutes.
    expect(r.body.data.result).toEqual([
      {
        metric: { __name__: 'http_requests_total', job: 'api', instance: 'a' },
        values: [
          [sec(T), '585'],
          [sec(T + 60_000), '585'],
          [sec(T + 120_000), '585'],
        ],
      },
    ]);
  });

  it('drops a series after the lookback window (staleness)', async () => {
    const r = await promGet(srv.url, '/api/v1/query_range', { query: 'http_requests_total{instance="a"}', start: sec(T), end: sec(T + 600_000), step: '2m' });
    // Last sample at B+590s: visible until B+890s; steps at B+600, 720, 840 only.
    expect(r.body.data.result[0].values.map((p: any) => p[0])).toEqual([sec(T), sec(T + 120_000), sec(T + 240_000)]);
  });

  it('returns scalar expressions as one series without labels', async () => {
    const r = await promGet(srv.url, '/api/v1/query_range', { query: 'time()', start: sec(T), end: sec(T + 60_000), step: 30 });
    expect(r.body.data.result).toEqual([{ metric: {}, values: [[sec(T), String(sec(T))], [sec(T + 30_000), String(sec(T + 30_000))], [sec(T + 60_000), String(sec(T + 60_000))]] }]);
  });

  it('accepts a form POST', async () => {
    const r = await promPost(srv.url, '/api/v1/query_range', { query: 'sum(rate(http_requests_total[5m]))', start: sec(T), end: sec(T), step: '15s' });
    expect(r.status).toBe(200);
    expect(Number(r.body.data.result[0].values[0][1])).toBeCloseTo(1 + 540 / 285, 12);
  });

  it('refuses more than 11,000 points per series, asking for a larger step', async () => {
    const r = await promGet(srv.url, '/api/v1/query_range', { query: 'up', start: 0, end: 11_000, step: 1 });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('MTR_QUERY_TOO_MANY_POINTS');
    expect(r.body.error).toContain('11000');
  });

  it('rejects end before start, a zero step and a missing step', async () => {
    expect((await promGet(srv.url, '/api/v1/query_range', { query: '1', start: 10, end: 5, step: 1 })).body.code).toBe('MTR_QUERY_BAD_PARAM');
    expect((await promGet(srv.url, '/api/v1/query_range', { query: '1', start: 1, end: 5, step: 0 })).status).toBe(400);
    const missing = await promGet(srv.url, '/api/v1/query_range', { query: '1', start: 1, end: 5 });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toContain('"step"');
  });

  it('rejects a range vector as the result of a range query', async () => {
    const r = await promGet(srv.url, '/api/v1/query_range', { query: 'http_requests_total[5m]', start: sec(T), end: sec(T), step: 60 });
    expect(r.status).toBe(400);
    expect(r.body.error).toContain('invalid expression type "range vector" for range query');
  });
});

describe('metadata and build info', () => {
  it('answers /api/v1/query_exemplars with no exemplars', async () => {
    const r = await promGet(srv.url, '/api/v1/query_exemplars', { query: 'http_requests_total', start: sec(T - 60_000), end: sec(T) });
    expect(r.body).toEqual({ status: 'success', data: [] });
  });

  it('answers /api/v1/status/buildinfo for Grafana', async () => {
    const r = await promGet(srv.url, '/api/v1/status/buildinfo', {});
    expect(r.status).toBe(200);
    expect(r.body.data.version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('answers /api/v1/metadata from the metric_metadata table', async () => {
    await srv.ctx.store.insertRows('metric_metadata', [
      { metric: 'http_requests_total', type: 'counter', help: 'Requests served.', unit: '', updated_at: '2024-01-01 00:00:00.000' },
      { metric: 'temp', type: 'gauge', help: 'Temperature.', unit: 'celsius', updated_at: '2024-01-01 00:00:00.000' },
    ]);
    const all = await promGet(srv.url, '/api/v1/metadata', {});
    expect(all.body.data).toEqual({
      http_requests_total: [{ type: 'counter', help: 'Requests served.', unit: '' }],
      temp: [{ type: 'gauge', help: 'Temperature.', unit: 'celsius' }],
    });
    const one = await promGet(srv.url, '/api/v1/metadata', { metric: 'temp' });
    expect(Object.keys(one.body.data)).toEqual(['temp']);
    const limited = await promGet(srv.url, '/api/v1/metadata', { limit: 1 });
    expect(Object.keys(limited.body.data)).toHaveLength(1);
  });
});

describe('series, labels and label values', () => {
  it('cut at `limit` with the warning Prometheus gives', async () => {
    const series = await promGet(srv.url, '/api/v1/series', { 'match[]': 'http_requests_total', limit: 1 });
    expect(series.body.data).toHaveLength(1);
    expect(series.body.warnings[0]).toContain('results truncated due to limit');
    const all = await promGet(srv.url, '/api/v1/series', { 'match[]': 'http_requests_total', limit: 5 });
    expect(all.body.data).toHaveLength(2);
    expect(all.body.warnings).toBeUndefined();
    const labels = await promGet(srv.url, '/api/v1/labels', { limit: 2 });
    expect(labels.body.data).toEqual(['__name__', 'instance']);
    expect(labels.body.warnings).toHaveLength(1);
    const values = await promGet(srv.url, '/api/v1/label/kind/values', { limit: 3 });
    expect(values.body.data).toEqual(['inf', 'nan', 'ninf']);
    expect(values.body.warnings).toHaveLength(1);
  });

  it('answer no label names when nothing matches', async () => {
    const r = await promGet(srv.url, '/api/v1/labels', { 'match[]': 'nosuch_metric' });
    expect(r.body).toEqual({ status: 'success', data: [] });
  });

  it('find a series whose recorded last sighting lags its newest point by up to the margin', async () => {
    // The writer re-records last_seen once the data is LAST_SEEN_MARGIN_MS past it, so a row may
    // say last seen up to that long before the series' newest point.
    const tags = { probe: 'lag' };
    await srv.ctx.store.insertSeries([{ seriesId: seriesId('lagging', tags), key: 'lagging', tags, service: '', firstSeen: T - 3 * 3_600_000, lastSeen: T - 300_000 - LAST_SEEN_MARGIN_MS }]);
    const r = await promGet(srv.url, '/api/v1/series', { 'match[]': 'lagging', start: sec(T - 300_000), end: sec(T) });
    expect(r.body.data).toEqual([{ __name__: 'lagging', probe: 'lag' }]);
    // ...but not one last seen before that.
    const old = await promGet(srv.url, '/api/v1/series', { 'match[]': 'lagging', start: sec(T - 299_000), end: sec(T) });
    expect(old.body.data).toEqual([]);
  });

  it('word a bad start or end as /api/v1/query does, naming the parameter once', async () => {
    const timestamp = (param: string, v: string) => `invalid parameter "${param}": cannot parse "${v}" to a valid timestamp (unix seconds or RFC 3339)`;
    const cases: [string, Record<string, string>, string][] = [
      ['/api/v1/series', { 'match[]': 'http_requests_total', start: 'yesterday' }, timestamp('start', 'yesterday')],
      ['/api/v1/labels', { end: 'soon' }, timestamp('end', 'soon')],
      ['/api/v1/label/job/values', { start: '1h' }, timestamp('start', '1h')],
      ['/api/v1/export', { 'match[]': 'http_requests_total', end: 'x' }, timestamp('end', 'x')],
      ['/api/v1/query', { query: '1', time: 'yesterday' }, timestamp('time', 'yesterday')],
    ];
    for (const [path, params, message] of cases) {
      const r = await promGet(srv.url, path, params);
      expect(r.status, path).toBe(400);
      expect(r.body.errorType, path).toBe('bad_data');
      expect(r.body.error, path).toBe(message);
    }
    const selector = await promGet(srv.url, '/api/v1/series', {});
    expect(selector.body.error).toBe('invalid parameter "match[]": at least one match[] is required');
  });
});
