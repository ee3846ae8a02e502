import snappy from 'snappy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRemoteWriteV2, encodeWriteRequest, promLabels, requestV2Bytes, SymbolTable, writeRequestBytes } from '../bench/wire.js';
import { seriesId } from '../ingest/series-id.js';
import { sql } from '../server/store/index.js';
import { exportSeries, startTestServer, type TestServer } from './helpers.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.destroy();
});

const STALE_NAN = new Float64Array(new Uint32Array([2, 0x7ff00000]).buffer)[0];

async function send(body: Buffer, headers: Record<string, string> = {}) {
  const res = await fetch(`${srv.url}/api/v1/write`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-protobuf',
      'content-encoding': 'snappy',
      'x-prometheus-remote-write-version': '0.1.0',
      ...headers,
    },
    body: new Uint8Array(body),
  });
  const text = await res.text();
  return { status: res.status, text, json: text ? JSON.parse(text) : undefined, headers: res.headers };
}

describe('POST /api/v1/write (Prometheus remote write 1.0)', () => {
  it('stores samples with __name__ as the key and answers 204', async () => {
    const t = Date.now() - 30_000;
    const r = await send(
      encodeWriteRequest({
        timeseries: [
          { labels: promLabels('node_load1', { job: 'node', instance: 'h1:9100' }), samples: [{ value: 0.25, timestamp: t }] },
          { labels: promLabels('node_load1', { job: 'node', instance: 'h1:9100' }), samples: [{ value: 0.5, timestamp: t + 15_000 }] },
          { labels: promLabels('node_load1', { job: 'node', instance: 'h2:9100' }), samples: [{ value: 1.75, timestamp: t }] },
        ],
      }),
    );
    expect(r.status).toBe(204);
    const lines = await exportSeries(srv.url, 'node_load1');
    expect(lines.sort((a, b) => a.metric.instance.localeCompare(b.metric.instance))).toEqual([
      { metric: { __name__: 'node_load1', instance: 'h1:9100', job: 'node' }, values: [0.25, 0.5], timestamps: [t, t + 15_000] },
      { metric: { __name__: 'node_load1', instance: 'h2:9100', job: 'node' }, values: [1.75], timestamps: [t] },
    ]);
  });

  it('records a staleness marker as the end of its series instead of storing NaN', async () => {
    const t = Date.now() - 20_000;
    const r = await send(
      encodeWriteRequest({
        timeseries: [
          { labels: promLabels('gone', { job: 'j' }), samples: [{ value: 7, timestamp: t }] },
          { labels: promLabels('gone', { job: 'j' }), samples: [{ value: STALE_NAN, timestamp: t + 15_000 }] },
          { labels: promLabels('weird', { job: 'j' }), samples: [{ value: NaN, timestamp: t }, { value: 2, timestamp: t + 1 }] },
        ],
      }),
    );
    expect(r.status).toBe(204);
    expect(await exportSeries(srv.url, 'gone')).toEqual([{ metric: { __name__: 'gone', job: 'j' }, values: [7], timestamps: [t] }]);
    // An ordinary NaN is a sample (export's JSON writes it as null); only the marker ends a series.
    expect((await exportSeries(srv.url, 'weird'))[0].values).toEqual([null, 2]);
    const ends = await srv.ctx.store.query<{ series_id: string; ms: string }>(
      sql`SELECT toString(series_id) AS series_id, toString(toUnixTimestamp64Milli(ts)) AS ms FROM series_ends`,
    );
    expect(ends).toContainEqual({ series_id: seriesId('gone', { job: 'j' }), ms: String(t + 15_000) });
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    expect(metrics).toMatch(/metronome_points_dropped_total\{protocol="prom-remote-write",reason="stale_marker"\} 1/);
    expect(metrics).not.toMatch(/reason="non_finite"/);
  });

  it('stores NaN and infinities as values that queries answer, apart from staleness markers', async () => {
    const t = Math.floor(Date.now() / 60_000) * 60_000 - 120_000;
    const r = await send(
      encodeWriteRequest({
        timeseries: [
          { labels: promLabels('ratio', { i: 'nan' }), samples: [{ value: NaN, timestamp: t }] },
          { labels: promLabels('ratio', { i: 'inf' }), samples: [{ value: Infinity, timestamp: t }] },
          { labels: promLabels('ratio', { i: 'neg' }), samples: [{ value: -Infinity, timestamp: t }] },
          { labels: promLabels('ratio', { i: 'one' }), samples: [{ value: 1, timestamp: t }, { value: STALE_NAN, timestamp: t + 30_000 }] },
        ],
      }),
    );
    expect(r.status).toBe(204);
    const q = async (query: string, at: number) => {
      const res = await fetch(`${srv.url}/api/v1/query?${new URLSearchParams({ query, time: String(at / 1000) })}`);
      const body = (await res.json()) as { data: { result: { metric: { i?: string }; value: [number, string] }[] } };
      return Object.fromEntries(body.data.result.map((s) => [s.metric.i ?? '', s.value[1]]));
    };
    expect(await q('ratio', t + 10_000)).toEqual({ nan: 'NaN', inf: '+Inf', neg: '-Inf', one: '1' });
    // The marker hides `one` from then on; the stored NaN is a sample and stays visible.
    expect(await q('ratio', t + 40_000)).toEqual({ nan: 'NaN', inf: '+Inf', neg: '-Inf' });
    expect(await q('sum(ratio)', t + 10_000)).toEqual({ '': 'NaN' });
    expect(await q('max(ratio{i!="nan"})', t + 10_000)).toEqual({ '': '+Inf' });
  });

  it('records metric metadata once per change', async () => {
    const meta = (help: string) =>
      encodeWriteRequest({ metadata: [{ type: 'COUNTER', metricFamilyName: 'jobs_done_total', help, unit: '' }] });
    expect((await send(meta('Jobs done.'))).status).toBe(204);
    expect((await send(meta('Jobs done.'))).status).toBe(204);
    expect((await send(meta('Jobs completed.'))).status).toBe(204);
    const rows = await srv.ctx.store.query<{ type: string; help: string }>(
      sql`SELECT type, help FROM metric_metadata WHERE metric = 'jobs_done_total' ORDER BY updated_at`,
    );
    expect(rows).toEqual([
      { type: 'counter', help: 'Jobs done.' },
      { type: 'counter', help: 'Jobs completed.' },
    ]);
  });

  it('rejects native histograms and exemplars with 400 and says how to turn them off', async () => {
    const t = Date.now();
    const r = await send(
      encodeWriteRequest({
        timeseries: [
          { labels: promLabels('ok_metric', {}), samples: [{ value: 1, timestamp: t }] },
          { labels: promLabels('rpc_latency_seconds', {}), histograms: [{ countInt: 2, sum: 0.3, schema: 0, timestamp: t }] },
        ],
      }),
    );
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('MTR_WRITE_UNSUPPORTED');
    expect(r.json.error.message).toContain('rpc_latency_seconds');
    expect(r.json.error.message).toContain('send_native_histograms: false');
    expect(await exportSeries(srv.url, 'ok_metric')).toEqual([]);
  });

  it('rejects samples outside the accepted window with 400, naming the series, and stores none of the request', async () => {
    const r = await send(
      encodeWriteRequest({
        timeseries: [
          { labels: promLabels('atomic_ok', { a: '1' }), samples: [{ value: 1, timestamp: Date.now() }] },
          { labels: promLabels('too_old', { a: '1' }), samples: [{ value: 1, timestamp: 1000 }] },
        ],
      }),
    );
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('MTR_WRITE_INVALID');
    expect(r.json.error.issues[0]).toMatchObject({ code: 'MTR_WRITE_TIMESTAMP_RANGE', labels: { __name__: 'too_old', a: '1' } });
    expect(await exportSeries(srv.url, 'atomic_ok')).toEqual([]);
  });

  it('answers undecodable bodies with 400, never 5xx', async () => {
    const garbage = await send(Buffer.from('definitely not snappy'));
    expect(garbage.status).toBe(400);
    expect(garbage.json.error.code).toBe('MTR_WRITE_BODY');
    const notProto = await send(snappy.compressSync(Buffer.from([0x0a, 0x05, 0x01])));
    expect(notProto.status).toBe(400);
    expect(notProto.json.error.message).toMatch(/protobuf/);
    const empty = await send(Buffer.alloc(0));
    expect(empty.status).toBe(400);
  });

  it('refuses a snappy block that claims more than the body limit before decompressing it', async () => {
    // Header says 2^31 bytes; the block itself is tiny.
    const r = await send(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x08, 0x00]));
    expect(r.status).toBe(413);
    expect(r.json.error.code).toBe('MTR_WRITE_TOO_LARGE');
  });

  it('answers 415 for other protobuf messages, other encodings and other content types', async () => {
    const body = encodeWriteRequest({ timeseries: [] });
    const v3 = await send(body, { 'content-type': 'application/x-protobuf;proto=io.prometheus.write.v3.Request' });
    expect(v3.status).toBe(415);
    expect(v3.json.error.code).toBe('MTR_WRITE_CONTENT_TYPE');
    expect(v3.json.error.message).toContain('io.prometheus.write.v2.Request');
    const gz = await send(body, { 'content-encoding': 'gzip' });
    expect(gz.status).toBe(415);
    expect(gz.json.error.code).toBe('MTR_WRITE_PROTOCOL_ENCODING');
    const json = await send(body, { 'content-type': 'application/json' });
    expect(json.status).toBe(415);
  });

  it('accepts an uncompressed WriteRequest from lenient senders', async () => {
    const t = Date.now() - 1000;
    const r = await send(writeRequestBytes({ timeseries: [{ labels: promLabels('plain_pb', {}), samples: [{ value: 3, timestamp: t }] }] }), {
      'content-encoding': 'identity',
    });
    expect(r.status).toBe(204);
    expect((await exportSeries(srv.url, 'plain_pb'))[0].values).toEqual([3]);
  });
});

describe('POST /api/v1/write (Prometheus remote write 2.0)', () => {
  const V2 = { 'content-type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request', 'x-prometheus-remote-write-version': '2.0.0' };
  const written = (h: Headers) => [
    h.get('x-prometheus-remote-write-samples-written'),
    h.get('x-prometheus-remote-write-histograms-written'),
    h.get('x-prometheus-remote-write-exemplars-written'),
  ];
  /** A v2 Request built the way a sender builds one: a symbols table and refs. */
  function request(series: { key: string; tags: Record<string, string>; samples: { value: number; timestamp: number; startTimestamp?: number }[]; metadata?: { type: string; help: string; unit: string } }[]) {
    const table = new SymbolTable();
    const timeseries = series.map((s) => ({
      labelsRefs: table.refs(promLabels(s.key, s.tags)),
      samples: s.samples,
      ...(s.metadata
        ? { metadata: { type: s.metadata.type, helpRef: table.ref(s.metadata.help), unitRef: table.ref(s.metadata.unit) } }
        : {}),
    }));
    return snappy.compressSync(requestV2Bytes({ symbols: table.symbols, timeseries }));
  }

  it('stores samples and answers 204 with the written-samples headers Prometheus 3 checks', async () => {
    const t = Date.now() - 30_000;
    const body = encodeRemoteWriteV2([
      { key: 'v2_load', tags: { job: 'node', instance: 'a' }, timestamps: [t, t + 15_000], values: [0.5, 0.75] },
      { key: 'v2_load', tags: { job: 'node', instance: 'b' }, timestamps: [t], values: [2] },
    ]);
    const r = await send(body, V2);
    expect(r.status).toBe(204);
    expect(written(r.headers)).toEqual(['3', '0', '0']);
    const lines = await exportSeries(srv.url, 'v2_load');
    expect(lines.sort((a, b) => a.metric.instance.localeCompare(b.metric.instance))).toEqual([
      { metric: { __name__: 'v2_load', instance: 'a', job: 'node' }, values: [0.5, 0.75], timestamps: [t, t + 15_000] },
      { metric: { __name__: 'v2_load', instance: 'b', job: 'node' }, values: [2], timestamps: [t] },
    ]);
    // 1.0 answers keep their shape: no 2.0 headers.
    const v1 = await send(encodeWriteRequest({ timeseries: [{ labels: promLabels('v1_still', {}), samples: [{ value: 1, timestamp: t }] }] }));
    expect(v1.status).toBe(204);
    expect(written(v1.headers)).toEqual([null, null, null]);
  });

  it('records the metadata sent with a series and counts a staleness marker as written', async () => {
    const t = Date.now() - 20_000;
    const body = request([
      {
        key: 'v2_jobs_total',
        tags: { job: 'w' },
        samples: [{ value: 4, timestamp: t, startTimestamp: t - 600_000 }, { value: STALE_NAN, timestamp: t + 15_000 }],
        metadata: { type: 'METRIC_TYPE_COUNTER', help: 'Jobs done.', unit: 'jobs' },
      },
    ]);
    const r = await send(body, V2);
    expect(r.status).toBe(204);
    expect(written(r.headers)).toEqual(['2', '0', '0']);
    expect(await exportSeries(srv.url, 'v2_jobs_total')).toEqual([{ metric: { __name__: 'v2_jobs_total', job: 'w' }, values: [4], timestamps: [t] }]);
    const rows = await srv.ctx.store.query<{ type: string; help: string; unit: string }>(
      sql`SELECT type, help, unit FROM metric_metadata WHERE metric = 'v2_jobs_total'`,
    );
    expect(rows).toEqual([{ type: 'counter', help: 'Jobs done.', unit: 'jobs' }]);
    const ends = await srv.ctx.store.query<{ series_id: string; ms: string }>(
      sql`SELECT toString(series_id) AS series_id, toString(toUnixTimestamp64Milli(ts)) AS ms FROM series_ends`,
    );
    expect(ends).toContainEqual({ series_id: seriesId('v2_jobs_total', { job: 'w' }), ms: String(t + 15_000) });
  });

  it('answers 400 with zero written for a ref outside the symbols table, invalid samples and histograms', async () => {
    const badRef = snappy.compressSync(requestV2Bytes({ symbols: ['', '__name__', 'x'], timeseries: [{ labelsRefs: [1, 7], samples: [{ value: 1, timestamp: Date.now() }] }] }));
    const a = await send(badRef, V2);
    expect(a.status).toBe(400);
    expect(a.json.error.code).toBe('MTR_WRITE_BODY');
    expect(a.json.error.message).toContain('timeseries[0].labels_refs[1] = 7 is not in the symbols table');
    expect(written(a.headers)).toEqual(['0', '0', '0']);

    const old = request([
      { key: 'v2_atomic', tags: {}, samples: [{ value: 1, timestamp: Date.now() }] },
      { key: 'v2_too_old', tags: {}, samples: [{ value: 1, timestamp: 1000 }] },
    ]);
    const b = await send(old, V2);
    expect(b.status).toBe(400);
    expect(b.json.error.issues[0]).toMatchObject({ code: 'MTR_WRITE_TIMESTAMP_RANGE', labels: { __name__: 'v2_too_old' } });
    expect(written(b.headers)).toEqual(['0', '0', '0']);
    expect(await exportSeries(srv.url, 'v2_atomic')).toEqual([]);

    const hist = snappy.compressSync(
      requestV2Bytes({ symbols: ['', '__name__', 'v2_h'], timeseries: [{ labelsRefs: [1, 2], histograms: [{ countInt: 1, sum: 1, schema: 0, timestamp: Date.now() }] }] }),
    );
    const c = await send(hist, V2);
    expect(c.status).toBe(400);
    expect(c.json.error.code).toBe('MTR_WRITE_UNSUPPORTED');
    expect(c.json.error.message).toContain('v2_h');
    expect(written(c.headers)).toEqual(['0', '0', '0']);
  });
});
