import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportSeries, startTestServer, type TestServer } from './helpers.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.destroy();
});

async function post(path: string, body: string | Buffer, headers: Record<string, string> = {}) {
  const res = await fetch(srv.url + path, { method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8', ...headers }, body: typeof body === 'string' ? body : new Uint8Array(body) });
  const text = await res.text();
  return { status: res.status, text, json: text ? JSON.parse(text) : undefined };
}

describe('POST /influx/write (InfluxDB 1.x)', () => {
  it('stores every field of every line as its own series and answers 204', async () => {
    const s = Math.floor(Date.now() / 1000) - 60;
    const body = [
      `cpu,host=web-1,region=eu usage_user=12.5,usage_system=3i ${s}`,
      `cpu,host=web-1,region=eu usage_user=13.5,usage_system=4i ${s + 10}`,
      `disk,host=web-1,path=/var free=1024u,ok=true ${s}`,
    ].join('\n');
    const r = await post('/influx/write?db=telegraf&precision=s', body);
    expect(r.status).toBe(204);
    expect(r.text).toBe('');
    expect(await exportSeries(srv.url, '{__name__="cpu_usage_user"}')).toEqual([
      { metric: { __name__: 'cpu_usage_user', host: 'web-1', region: 'eu' }, values: [12.5, 13.5], timestamps: [s * 1000, (s + 10) * 1000] },
    ]);
    expect((await exportSeries(srv.url, '{__name__="cpu_usage_system"}'))[0].values).toEqual([3, 4]);
    const disk = await exportSeries(srv.url, '{__name__=~"disk_.*"}');
    expect(disk.map((d) => [d.metric.__name__, d.metric.path, d.values[0]]).sort()).toEqual([
      ['disk_free', '/var', 1024],
      ['disk_ok', '/var', 1],
    ]);
  });

  it('accepts a gzip-compressed body, as Telegraf sends it', async () => {
    const ms = Date.now() - 5000;
    const r = await post('/influx/write?precision=ms', gzipSync(`gz,host=a value=7 ${ms}`), { 'content-encoding': 'gzip' });
    expect(r.status).toBe(204);
    expect(await exportSeries(srv.url, '{__name__="gz"}')).toEqual([{ metric: { __name__: 'gz', host: 'a' }, values: [7], timestamps: [ms] }]);
  });

  it('stamps lines without a timestamp with the time of the request', async () => {
    const before = Date.now();
    expect((await post('/influx/write', 'notime,host=a value=1')).status).toBe(204);
    const [line] = await exportSeries(srv.url, '{__name__="notime"}');
    expect(line.timestamps[0]).toBeGreaterThanOrEqual(before);
    expect(line.timestamps[0]).toBeLessThanOrEqual(Date.now());
  });

  it('rejects the whole request when any line is invalid, naming every bad line, and stores nothing', async () => {
    const ns = BigInt(Date.now() - 1000) * 1_000_000n;
    const body = [
      `mixed,host=a v=1 ${ns}`,
      `mixed,host=a msg="hello world" ${ns}`,
      `mixed,host=a v=2 ${ns}`,
      `mixed,host=a v=oops ${ns}`,
      `mixed,host=a v=3 1`, // 1 ns after the epoch: outside retention, caught by the shared validation
    ].join('\n');
    const r = await post('/influx/write?db=x', body);
    expect(r.status).toBe(400);
    expect(r.json.code).toBe('MTR_WRITE_INVALID');
    expect(r.json.issues.map((i: { line: number; code: string }) => [i.line, i.code])).toEqual([
      [2, 'MTR_WRITE_INFLUX_STRING_FIELD'],
      [4, 'MTR_WRITE_INFLUX_FIELD_VALUE'],
      [5, 'MTR_WRITE_TIMESTAMP_RANGE'],
    ]);
    expect(r.json.issues[2].message).toMatch(/^line 5: timestamp 0 is outside/);
    // InfluxDB's error shape, which Telegraf reads: a string naming the bad lines.
    expect(r.json.error).toMatch(/^unable to parse: the request has 3 invalid item\(s\); nothing was stored: line 2: field "msg" is a string/);
    expect(await exportSeries(srv.url, '{__name__=~"mixed.*"}')).toEqual([]);
  });

  it('rejects an unknown precision and an empty body', async () => {
    const bad = await post('/influx/write?precision=fortnight', 'm v=1');
    expect(bad.status).toBe(400);
    expect(bad.json.code).toBe('MTR_WRITE_BAD_PARAM');
    const empty = await post('/influx/write', '\n# only a comment\n');
    expect(empty.status).toBe(400);
    expect(empty.json.code).toBe('MTR_WRITE_BODY');
  });

  it('answers the ping clients send before writing', async () => {
    const res = await fetch(`${srv.url}/influx/ping`);
    expect(res.status).toBe(204);
  });
});

describe('POST /influx/api/v2/write (InfluxDB 2.x)', () => {
  it('stores points with the bucket and precision parameters', async () => {
    const us = (Date.now() - 2000) * 1000 + 999;
    const r = await post(`/influx/api/v2/write?org=o&bucket=b&precision=us`, `v2m,host=a value=1.25 ${us}`);
    expect(r.status).toBe(204);
    expect(await exportSeries(srv.url, '{__name__="v2m"}')).toEqual([
      { metric: { __name__: 'v2m', host: 'a' }, values: [1.25], timestamps: [Math.floor(us / 1000)] },
    ]);
  });

  it('accepts only the precisions InfluxDB 2 knows', async () => {
    const r = await post('/influx/api/v2/write?bucket=b&precision=h', 'm v=1 1');
    expect(r.status).toBe(400);
    expect(r.json.code).toBe('MTR_WRITE_BAD_PARAM');
    expect(r.json.message).toContain('ns, us, ms, s');
  });
});
