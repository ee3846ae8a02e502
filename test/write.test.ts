import { gzipSync } from 'node:zlib';
import { pack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportSeries, getJson, heroic, postJson, startTestServer, type TestServer } from './helpers.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ BODY_LIMIT_BYTES: String(64 * 1024) });
});
afterAll(async () => {
  await srv?.destroy();
});

const now = Date.now();

describe('POST /write', () => {
  it('stores points that read back through export', async () => {
    const r = await postJson(`${srv.url}/write`, heroic('cpu.usage', { host: 'a' }, [[now - 1000, 0.5], [now, 0.75]]));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true, series: 1, points: 2 });
    const lines = await exportSeries(srv.url, '{__name__="cpu.usage",host="a"}');
    expect(lines).toEqual([{ metric: { __name__: 'cpu.usage', host: 'a' }, values: [0.5, 0.75], timestamps: [now - 1000, now] }]);
  });

  it('accepts an array of series in one body', async () => {
    const body = [heroic('arr.metric', { i: '1' }, [[now, 1]]), heroic('arr.metric', { i: '2' }, [[now, 2], [now - 10, 3]])];
    const r = await postJson(`${srv.url}/write`, body);
    expect(r.body).toEqual({ ok: true, series: 2, points: 3 });
    const lines = await exportSeries(srv.url, 'arr.metric');
    expect(lines.map((l) => [l.metric.i, l.values]).sort()).toEqual([['1', [1]], ['2', [3, 2]]]);
  });

  it('accepts msgpack bodies', async () => {
    const res = await fetch(`${srv.url}/write`, {
      method: 'POST',
      headers: { 'content-type': 'application/msgpack' },
      body: new Uint8Array(pack([heroic('mp.metric', { host: 'm' }, [[now, 42.5]])])),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, series: 1, points: 1 });
    expect((await exportSeries(srv.url, 'mp.metric'))[0].values).toEqual([42.5]);
  });

  it('accepts gzip-compressed bodies', async () => {
    const res = await fetch(`${srv.url}/write`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify(heroic('gz.metric', { host: 'g' }, [[now, 7]]))),
    });
    expect(res.status).toBe(200);
    expect((await exportSeries(srv.url, 'gz.metric'))[0].values).toEqual([7]);
  });

  it('rejects the whole request when one point is bad, and stores nothing of it', async () => {
    const body = [
      heroic('atomic.metric', { host: 'ok' }, [[now, 1], [now - 1000, 2]]),
      heroic('atomic.metric', { host: 'bad' }, [[now, 1], [now - 2000, Number.NaN]]),
    ];
    // NaN is not JSON: send it as a string to reach the value check.
    const text = JSON.stringify(body).replace('null', '"NaN"');
    const r = await postJson(`${srv.url}/write`, text);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('MTR_WRITE_INVALID');
    expect(r.body.error.issues).toEqual([expect.objectContaining({ code: 'MTR_WRITE_VALUE_TYPE', series: 1, point: 1, field: 'value' })]);
    expect(await exportSeries(srv.url, 'atomic.metric')).toEqual([]);
  });

  it('lists every problem of a request, with where it is', async () => {
    const r = await postJson(`${srv.url}/write`, [
      { series: { key: '', tags: { 'bad-name': 'x' } }, data: { type: 'points', data: [[1, 1]] } },
      { series: { key: 'k' }, data: { type: 'points', data: [[now, 1], 'oops'] } },
      { nope: true },
    ]);
    expect(r.status).toBe(400);
    const issues = r.body.error.issues as { code: string; series: number; point?: number }[];
    expect(issues.map((i) => [i.code, i.series, i.point])).toEqual(
      expect.arrayContaining([
        ['MTR_WRITE_KEY_EMPTY', 0, undefined],
        ['MTR_WRITE_TAG_NAME', 0, undefined],
        ['MTR_WRITE_TIMESTAMP_RANGE', 0, 0],
        ['MTR_WRITE_SHAPE', 1, 1],
        ['MTR_WRITE_SHAPE', 2, undefined],
      ]),
    );
  });

  it('rejects a lone surrogate with 400 instead of failing the flush it would share with others', async () => {
    const bad = postJson(`${srv.url}/write`, '{"series":{"key":"enc.metric","tags":{"host":"\\ud800"}},"data":{"type":"points","data":[[' + now + ',1]]}}');
    const good = postJson(`${srv.url}/write`, heroic('enc.metric', { host: 'fine' }, [[now, 2]]));
    const [b, g] = await Promise.all([bad, good]);
    expect(b.status).toBe(400);
    expect(b.body.error.issues[0]).toMatchObject({ code: 'MTR_WRITE_STRING_ENCODING', field: 'tags.host' });
    expect(g.status).toBe(200);
  });

  it('answers malformed JSON with 400 naming the problem', async () => {
    const r = await postJson(`${srv.url}/write`, '{"series": ');
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('MTR_WRITE_BODY');
  });

  it('answers an unknown content type with 415', async () => {
    const r = await postJson(`${srv.url}/write`, 'x', { 'content-type': 'text/csv' });
    expect(r.status).toBe(415);
    expect(r.body.error.code).toBe('MTR_WRITE_CONTENT_TYPE');
  });

  it('answers an unknown content encoding with 415', async () => {
    const r = await postJson(`${srv.url}/write`, '{}', { 'content-encoding': 'br' });
    expect(r.status).toBe(415);
    expect(r.body.error.code).toBe('MTR_WRITE_ENCODING');
  });

  it('answers an oversized body with 413, compressed or not', async () => {
    const big = JSON.stringify(heroic('big', {}, Array.from({ length: 8000 }, (_, i) => [now - i, i])));
    const r = await postJson(`${srv.url}/write`, big);
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('MTR_WRITE_TOO_LARGE');
    const res = await fetch(`${srv.url}/write`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(big),
    });
    expect(res.status).toBe(413);
  });

  it('answers a corrupt gzip body with 400', async () => {
    const r = await postJson(`${srv.url}/write`, 'not gzip at all', { 'content-encoding': 'gzip' });
    expect(r.status).toBe(400);
  });
});

describe('read-back endpoints', () => {
  it('lists series, label names and label values in the Prometheus shape', async () => {
    await postJson(`${srv.url}/write`, [
      heroic('meta.metric', { host: 'h1', service: 'api' }, [[now, 1]]),
      heroic('meta.metric', { host: 'h2', service: 'api' }, [[now, 1]]),
    ]);
    const series = await getJson(`${srv.url}/api/v1/series?match[]=${encodeURIComponent('{__name__="meta.metric",host="h2"}')}`);
    expect(series.body).toEqual({ status: 'success', data: [{ __name__: 'meta.metric', host: 'h2', service: 'api' }] });
    const labels = await getJson(`${srv.url}/api/v1/labels`);
    expect(labels.body.data).toEqual(expect.arrayContaining(['__name__', 'host', 'service']));
    const values = await getJson(`${srv.url}/api/v1/label/host/values?match[]=${encodeURIComponent('{__name__="meta.metric"}')}`);
    expect(values.body).toEqual({ status: 'success', data: ['h1', 'h2'] });
    const re = await getJson(`${srv.url}/api/v1/series?match[]=${encodeURIComponent('{__name__="meta.metric",host=~"h.*",host!="h1"}')}`);
    expect(re.body.data.map((s: { host: string }) => s.host)).toEqual(['h2']);
  });

  it('answers a bad selector with a Prometheus bad_data error', async () => {
    const r = await getJson(`${srv.url}/api/v1/series?match[]=${encodeURIComponent('{host="a"')}`);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ status: 'error', errorType: 'bad_data' });
  });

  it('exports only the points inside start and end', async () => {
    await postJson(`${srv.url}/write`, heroic('range.metric', {}, [[now - 3000, 1], [now - 2000, 2], [now - 1000, 3]]));
    const lines = await exportSeries(srv.url, 'range.metric', { start: now - 2500, end: now - 1500 });
    expect(lines[0].values).toEqual([2]);
  });

  it('reports health, readiness and its own metrics', async () => {
    expect((await getJson(`${srv.url}/healthz`)).status).toBe(200);
    const ready = await getJson(`${srv.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.body.checks.store).toBe('ok');
    const text = await (await fetch(`${srv.url}/metrics`)).text();
    expect(text).toMatch(/metronome_points_accepted_total\{protocol="heroic-json"\} \d+/);
    expect(text).toMatch(/metronome_points_rejected_total\{reason="MTR_WRITE_VALUE_TYPE"\} \d+/);
    expect(text).toContain('metronome_flush_duration_seconds_bucket');
    expect(text).toContain('metronome_buffered_points');
    expect(text).toMatch(/metronome_series_created_total \d+/);
  });

  it('answers a malformed URL with 400 MTR_BAD_REQUEST', async () => {
    const r = await getJson(`${srv.url}/api/v1/label/%E0%A4%A/values`);
    expect(r.status).toBe(400);
    expect(r.body.error?.code ?? r.body.code).toBe('MTR_BAD_REQUEST');
  });

  it('answers unknown API routes with 404 and a code', async () => {
    const r = await getJson(`${srv.url}/api/v1/nope`);
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('MTR_NOT_FOUND');
  });
});
