import { rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { pack } from 'msgpackr';
import snappy from 'snappy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeWriteRequest, lineProtocol, otlpJson, otlpResourceMetrics, promLabels, writeRequestBytes } from '../bench/wire.js';
import { exportSeries, getJson, heroic, postJson, startTestServer, tempDir, type TestServer } from './helpers.js';

/**
 * The write path's limits through a real server: new series per service and per metric name per
 * day (kept across a restart), the cardinality API, and the per-series limits and body size that
 * every protocol must apply the same way.
 */

const ENV = {
  MAX_SERIES_PER_SERVICE: '5',
  MAX_SERIES_PER_KEY: '3',
  BODY_LIMIT_BYTES: '65536',
  MAX_TAGS_PER_SERIES: '8',
  MAX_TAG_VALUE_BYTES: '64',
  MAX_TAG_NAME_LENGTH: '32',
  MAX_KEY_LENGTH: '48',
};
let srv: TestServer;
let dataDir: string;
beforeAll(async () => {
  dataDir = tempDir();
  srv = await startTestServer({ ...ENV, DATA_DIR: dataDir });
});
afterAll(async () => {
  await srv?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const now = Date.now() - 50;
const write = (key: string, tags: Record<string, string>, ts = now) => postJson(`${srv.url}/write`, heroic(key, tags, [[ts, 1]]));
const writeMany = (items: [string, Record<string, string>][], ts = now) =>
  postJson(
    `${srv.url}/write`,
    items.map(([k, t]) => heroic(k, t, [[ts, 1]])),
  );

describe('new-series limits', () => {
  it('refuses the request that would create a fourth new series of a metric, naming the limit and the metric', async () => {
    expect((await writeMany([['card.a', { service: 's1', i: '1' }], ['card.a', { service: 's1', i: '2' }]])).status).toBe(200);
    expect((await write('card.a', { service: 's1', i: '3' })).status).toBe(200);
    // A fourth new series, with a point for an existing one: the whole request is refused.
    const r = await writeMany([['card.a', { service: 's1', i: '1' }], ['card.a', { service: 's1', i: '4' }]], now - 1000);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'MTR_LIMIT_SERIES_PER_KEY', limit: 'MAX_SERIES_PER_KEY', key: 'card.a', max: 3, today: 3, requested: 1 });
    expect(r.body.error.message).toContain('card.a');
    const stored = await exportSeries(srv.url, 'card.a');
    expect(stored.map((s) => s.metric.i).sort()).toEqual(['1', '2', '3']);
    expect(stored.find((s) => s.metric.i === '1')!.timestamps).toEqual([now]);
    // Existing series keep being written.
    expect((await writeMany([['card.a', { service: 's1', i: '1' }], ['card.a', { service: 's1', i: '3' }]], now - 2000)).status).toBe(200);
  });

  it('refuses new series past the service limit, across metrics', async () => {
    expect((await writeMany([['card.b', { service: 's1', i: '1' }], ['card.b', { service: 's1', i: '2' }]])).status).toBe(200);
    const r = await write('card.c', { service: 's1' });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'MTR_LIMIT_SERIES_PER_SERVICE', service: 's1', max: 5, today: 5, requested: 1 });
    // Another service has its own budget; the job label names the service too.
    expect((await write('card.c', { job: 's2' })).status).toBe(200);
    // Concurrent requests racing for the last slots of a metric: exactly the limit gets through.
    const racing = await Promise.all(Array.from({ length: 6 }, (_, i) => write('card.race', { service: 's3', i: String(i) })));
    expect(racing.filter((x) => x.status === 200)).toHaveLength(3);
    expect(racing.filter((x) => x.status === 400).every((x) => x.body.error.code === 'MTR_LIMIT_SERIES_PER_KEY')).toBe(true);
  });

  it('serves cardinality per service and metric with the top offenders first', async () => {
    const r = await getJson(`${srv.url}/api/v1/status/cardinality?limit=2`);
    expect(r.status).toBe(200);
    expect(r.body.data.limits).toEqual({ MAX_SERIES_PER_SERVICE: 5, MAX_SERIES_PER_KEY: 3 });
    expect(r.body.data.services).toEqual([
      { name: 's1', series: 5, newToday: 5, limit: 5 },
      { name: 's3', series: 3, newToday: 3, limit: 5 },
    ]);
    expect(r.body.data.keys.map((k: { name: string; newToday: number }) => [k.name, k.newToday])).toEqual([
      ['card.a', 3],
      ['card.race', 3],
    ]);
    const bad = await getJson(`${srv.url}/api/v1/status/cardinality?limit=abc`);
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ status: 'error', code: 'MTR_READ_BAD_PARAM' });
  });

  it('keeps counting today’s series after a restart on the same data directory', async () => {
    await srv.close();
    srv = await startTestServer({ ...ENV, DATA_DIR: dataDir });
    const svc = await write('card.a', { service: 's1', i: '9' });
    expect(svc.status).toBe(400);
    expect(svc.body.error).toMatchObject({ code: 'MTR_LIMIT_SERIES_PER_SERVICE', service: 's1', today: 5 });
    const key = await write('card.a', { service: 's4', i: '9' });
    expect(key.status).toBe(400);
    expect(key.body.error).toMatchObject({ code: 'MTR_LIMIT_SERIES_PER_KEY', key: 'card.a', today: 3 });
    // Series written before the restart are not new.
    expect((await writeMany([['card.a', { service: 's1', i: '2' }], ['card.b', { service: 's1', i: '1' }]], now - 3000)).status).toBe(200);
    const m = await fetch(`${srv.url}/metrics`).then((x) => x.text());
    expect(m).toMatch(/metronome_series_limited_total\{limit="service"\} 1/);
    expect(m).toMatch(/metronome_series_limited_total\{limit="key"\} 1/);
  });
});

/** One request per protocol carrying one series `key{tags}` with one point. */
const PROTOCOLS: Record<string, (key: string, tags: Record<string, string>) => { path: string; headers: Record<string, string>; body: Uint8Array | string }> = {
  'heroic-json': (key, tags) => ({ path: '/write', headers: { 'content-type': 'application/json' }, body: JSON.stringify(heroic(key, tags, [[now, 1]])) }),
  'heroic-msgpack': (key, tags) => ({ path: '/write', headers: { 'content-type': 'application/msgpack' }, body: pack(heroic(key, tags, [[now, 1]])) }),
  'remote-write': (key, tags) => ({
    path: '/api/v1/write',
    headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
    body: encodeWriteRequest({ timeseries: [{ labels: promLabels(key, tags), samples: [{ value: 1, timestamp: now }] }] }),
  }),
  influx: (key, tags) => ({
    path: '/influx/write?precision=ms',
    headers: {},
    // measurement_field is the key: split the key at its first underscore.
    body: lineProtocol([{ key, tags, timestamps: [now], values: [1] }]).replace(/ (\d+)000000\n$/, ' $1\n'),
  }),
  otlp: (key, tags) => ({
    path: '/v1/metrics',
    headers: { 'content-type': 'application/json' },
    body: otlpJson(otlpResourceMetrics([{ key, tags, timestamps: [now], values: [1] }])),
  }),
};

async function send(p: { path: string; headers: Record<string, string>; body: Uint8Array | string }) {
  const res = await fetch(`${srv.url}${p.path}`, { method: 'POST', headers: p.headers, body: typeof p.body === 'string' ? p.body : new Uint8Array(p.body) });
  return { status: res.status, text: await res.text() };
}

describe('per-series limits are the same for every protocol', () => {
  const manyTags = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`t${i}`, 'v']));
  // [what, key, tags, issue code, message]: OTLP's google.rpc.Status carries only messages.
  const cases: [string, string, Record<string, string>, string, RegExp][] = [
    ['too many tags', 'lim_tags', manyTags, 'MTR_WRITE_TOO_MANY_TAGS', /9 tags; at most 8 allowed/],
    ['a tag value over MAX_TAG_VALUE_BYTES', 'lim_value', { big: 'é'.repeat(33) }, 'MTR_WRITE_TAG_VALUE_TOO_LONG', /tag value is 66 bytes; at most 64 allowed/],
    ['a tag name over MAX_TAG_NAME_LENGTH', 'lim_name', { ['n'.repeat(33)]: 'v' }, 'MTR_WRITE_TAG_NAME_TOO_LONG', /tag name is 33 characters; at most 32 allowed/],
    ['a metric name over MAX_KEY_LENGTH', `lim_${'k'.repeat(45)}`, {}, 'MTR_WRITE_KEY_TOO_LONG', /key is 49 characters; at most 48 allowed/],
  ];
  for (const [protocol, make] of Object.entries(PROTOCOLS)) {
    it(`${protocol}: rejects ${cases.map((c) => c[0]).join(', ')} with 400 and the same code; accepts one under every limit`, async () => {
      for (const [, key, tags, code, message] of cases) {
        const r = await send(make(key, tags));
        expect(r.status, `${protocol} ${code}: ${r.text}`).toBe(400);
        if (protocol !== 'otlp') expect(r.text).toContain(code);
        expect(r.text).toMatch(message);
      }
      const atLimit = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`t${i}`, 'é'.repeat(32)]));
      const ok = await send(make(`lim_${'k'.repeat(43 - protocol.length)}_${protocol.replace(/-/g, '_')}`, { ['n'.repeat(32)]: 'v', ...atLimit }));
      expect(ok.status, ok.text).toBeLessThan(300);
    });
  }

  it('answers 413 for a body over BODY_LIMIT_BYTES after decompression, whatever the protocol', async () => {
    const huge = 'x'.repeat(70_000);
    const bodies: { path: string; headers: Record<string, string>; body: string | Uint8Array }[] = [
      { path: '/write', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pad: huge }) },
      { path: '/write', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(JSON.stringify({ pad: huge })) },
      { path: '/influx/write', headers: {}, body: `m f=1 ${huge}` },
      { path: '/v1/metrics', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(`{"pad":"${huge}"}`) },
      {
        path: '/api/v1/write',
        headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
        body: snappy.compressSync(writeRequestBytes({ timeseries: [{ labels: [{ name: '__name__', value: huge }], samples: [] }] })),
      },
    ];
    for (const b of bodies) {
      const r = await send(b);
      expect(r.status, `${b.path} ${JSON.stringify(b.headers)}: ${r.text.slice(0, 200)}`).toBe(413);
      expect(r.text).toContain('MTR_WRITE_TOO_LARGE');
    }
  });
});
