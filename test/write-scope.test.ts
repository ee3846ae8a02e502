import { pack, unpack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeWriteRequest, promLabels, requestV2Bytes, SymbolTable } from '../bench/wire.js';
import snappy from 'snappy';
import { seriesId } from '../ingest/series-id.js';
import { sql } from '../server/store/index.js';
import { heroic, startTestServer, type TestServer } from './helpers.js';

/**
 * Issue 11, "Scope that holds": a write token limited to a service may write only series of that
 * service, by both labels that name one (`service` and `job`), through every item of a request:
 * samples, remote-write staleness markers, OTLP "no recorded value" points, and metadata, which
 * only a token whose services cover every series of the metric may set. And Heroic msgpack
 * bodies with int64/uint64 timestamps (msgpackr's BigInt) are stored, not answered with a 500.
 */

const T = {
  writer: 'w-0123456789abcdef-writer',
  checkout: 'c-0123456789abcdef-checkout',
  reader: 'r-0123456789abcdef-reader',
};
let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ AUTH_TOKENS: `writer:${T.writer}:write,checkout:${T.checkout}:write:checkout,reader:${T.reader}:read` });
});
afterAll(async () => {
  await srv?.destroy();
});

const now = Date.now() - 60_000;
const STALE_NAN = Buffer.from('020000000000f07f', 'hex').readDoubleLE(0);
const auth = (token: string) => ({ authorization: `Bearer ${token}` });

async function post(path: string, token: string, headers: Record<string, string>, body: Buffer | string) {
  const res = await fetch(`${srv.url}${path}`, { method: 'POST', headers: { ...headers, ...auth(token) }, body: typeof body === 'string' ? body : new Uint8Array(body) });
  const text = await res.text();
  let json: { error?: { code?: string; [k: string]: unknown }; code?: string } = {};
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    // not JSON (204)
  }
  // Errors come as {error: {code}} (Heroic, remote write) or google.rpc.Status with the code in its message (OTLP).
  return { status: res.status, code: json.error?.code ?? /MTR_[A-Z_]+/.exec(text)?.[0], error: json.error, text };
}
const remoteWrite = (token: string, req: Record<string, unknown>) =>
  post('/api/v1/write', token, { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' }, encodeWriteRequest(req));
const heroicWrite = (token: string, tags: Record<string, string>) =>
  post('/write', token, { 'content-type': 'application/json' }, JSON.stringify(heroic('scope.metric', tags, [[now, 1]])));

async function exportSeries(selector: string): Promise<{ timestamps: number[] }[]> {
  const res = await fetch(`${srv.url}/api/v1/export?${new URLSearchParams({ 'match[]': selector })}`, { headers: auth(T.reader) });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { timestamps: number[] });
}

async function seriesEnds(key: string, tags: Record<string, string>): Promise<number> {
  const id = seriesId(key, tags);
  const rows = await srv.ctx.store.query<{ n: string }>(sql`SELECT count() AS n FROM series_ends WHERE toString(series_id) = ${{ __param: true, type: 'String', value: id }}`);
  return Number(rows[0].n);
}

describe('write scope', () => {
  it('refuses a series whose job label names another service, whatever its service label says', async () => {
    expect((await heroicWrite(T.checkout, { service: 'checkout', job: 'checkout' })).status).toBe(200);
    const r = await heroicWrite(T.checkout, { service: 'checkout', job: 'authsvc' });
    expect(r.status).toBe(403);
    expect(r.error).toMatchObject({ code: 'MTR_AUTH_SERVICE_FORBIDDEN', service: 'authsvc', item: 'series', index: 0 });
    expect(r.error?.message).toContain('service and job labels');
    const rw = await remoteWrite(T.checkout, { timeseries: [{ labels: promLabels('scope_rw', { job: 'checkout', service: 'authsvc' }), samples: [{ value: 1, timestamp: now }] }] });
    expect(rw.status).toBe(403);
    expect(rw.code).toBe('MTR_AUTH_SERVICE_FORBIDDEN');
    expect(await exportSeries('scope_rw')).toEqual([]);
    // An unrestricted write token writes either.
    expect((await heroicWrite(T.writer, { service: 'checkout', job: 'authsvc' })).status).toBe(200);
  });

  it("refuses staleness markers for another service's series, even in a request holding only markers", async () => {
    const labels = { job: 'authsvc', instance: 'a:1' };
    const marker = (job: string) => ({ timeseries: [{ labels: promLabels('scope_up', { ...labels, job }), samples: [{ value: STALE_NAN, timestamp: now }] }] });
    const r = await remoteWrite(T.checkout, marker('authsvc'));
    expect(r.status).toBe(403);
    expect(r.code).toBe('MTR_AUTH_SERVICE_FORBIDDEN');
    expect(r.error).toMatchObject({ item: 'staleness marker', service: 'authsvc' });
    expect(await seriesEnds('scope_up', labels)).toBe(0);
    // Its own series' markers are recorded.
    expect((await remoteWrite(T.checkout, marker('checkout'))).status).toBe(204);
    expect(await seriesEnds('scope_up', { ...labels, job: 'checkout' })).toBe(1);
  });

  it('holds for remote write 2.0: samples and staleness markers of another service refused', async () => {
    const v2 = (job: string, value: number) => {
      const table = new SymbolTable();
      const labelsRefs = table.refs(promLabels('scope_v2', { job }));
      const body = snappy.compressSync(requestV2Bytes({ symbols: table.symbols, timeseries: [{ labelsRefs, samples: [{ value, timestamp: now }] }] }));
      return post('/api/v1/write', T.checkout, { 'content-type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request', 'content-encoding': 'snappy' }, body);
    };
    const sample = await v2('authsvc', 1);
    expect(sample.status).toBe(403);
    expect(sample.code).toBe('MTR_AUTH_SERVICE_FORBIDDEN');
    const marker = await v2('authsvc', STALE_NAN);
    expect(marker.status).toBe(403);
    expect(marker.error).toMatchObject({ item: 'staleness marker', service: 'authsvc' });
    expect(await seriesEnds('scope_v2', { job: 'authsvc' })).toBe(0);
    expect(await exportSeries('scope_v2')).toEqual([]);
    expect((await v2('checkout', 1)).status).toBe(204);
    expect(await exportSeries('scope_v2')).toHaveLength(1);
  });

  it('refuses OTLP points flagged "no recorded value" for another service', async () => {
    const body = (service: string) =>
      JSON.stringify({
        resourceMetrics: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
            scopeMetrics: [{ metrics: [{ name: 'scope_otlp', gauge: { dataPoints: [{ timeUnixNano: String(now * 1e6), flags: 1 }] } }] }],
          },
        ],
      });
    const r = await post('/v1/metrics', T.checkout, { 'content-type': 'application/json' }, body('authsvc'));
    expect(r.status).toBe(403);
    expect(r.code).toBe('MTR_AUTH_SERVICE_FORBIDDEN');
    expect(await seriesEnds('scope_otlp', { service: 'authsvc' })).toBe(0);
    expect((await post('/v1/metrics', T.checkout, { 'content-type': 'application/json' }, body('checkout'))).status).toBe(200);
    expect(await seriesEnds('scope_otlp', { service: 'checkout' })).toBe(1);
  });

  it("sets a metric's metadata only for a token whose services cover every series of the metric", async () => {
    const meta = (metric: string, help: string) => ({ metadata: [{ type: 'COUNTER', metricFamilyName: metric, help, unit: '' }] });
    const help = async (metric: string) =>
      (await srv.ctx.store.query<{ help: string }>(sql`SELECT help FROM metric_metadata FINAL WHERE metric = ${{ __param: true, type: 'String', value: metric }}`))[0]?.help;
    // authsvc's metric, written and described by an unrestricted token.
    const series = (name: string, job: string) => ({ labels: promLabels(name, { job }), samples: [{ value: 1, timestamp: now }] });
    expect((await remoteWrite(T.writer, { timeseries: [series('auth_logins_total', 'authsvc')], ...meta('auth_logins_total', 'Logins.') })).status).toBe(204);
    // checkout's token cannot overwrite it (the request itself succeeds: metadata is left out).
    expect((await remoteWrite(T.checkout, meta('auth_logins_total', 'EVIL'))).status).toBe(204);
    expect(await help('auth_logins_total')).toBe('Logins.');
    // Nor describe a metric no series of which is its own, or one shared with another service.
    expect((await remoteWrite(T.checkout, meta('nobody_total', 'x'))).status).toBe(204);
    expect(await help('nobody_total')).toBeUndefined();
    expect((await remoteWrite(T.writer, { timeseries: [series('shared_total', 'authsvc')] })).status).toBe(204);
    expect((await remoteWrite(T.checkout, { timeseries: [series('shared_total', 'checkout')], ...meta('shared_total', 'mine') })).status).toBe(204);
    expect(await help('shared_total')).toBeUndefined();
    // Its own metric: stored, also when the series come in the same request.
    expect((await remoteWrite(T.checkout, { timeseries: [series('checkout_orders_total', 'checkout')], ...meta('checkout_orders_total', 'Orders.') })).status).toBe(204);
    expect(await help('checkout_orders_total')).toBe('Orders.');
  });

  it("stores an OTLP export's points but not the metadata of a metric another service shares", async () => {
    const help = async (metric: string) =>
      (await srv.ctx.store.query<{ help: string }>(sql`SELECT help FROM metric_metadata FINAL WHERE metric = ${{ __param: true, type: 'String', value: metric }}`))[0]?.help;
    const body = (service: string, name: string, description: string) =>
      JSON.stringify({
        resourceMetrics: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
            scopeMetrics: [{ metrics: [{ name, description, gauge: { dataPoints: [{ timeUnixNano: String(now * 1e6), asDouble: 1 }] } }] }],
          },
        ],
      });
    const otlp = (token: string, service: string, name: string, description: string) =>
      post('/v1/metrics', token, { 'content-type': 'application/json' }, body(service, name, description));
    expect((await otlp(T.writer, 'authsvc', 'queue_depth', 'Depth.')).status).toBe(200);
    expect((await otlp(T.checkout, 'checkout', 'queue_depth', 'EVIL')).status).toBe(200);
    expect(await help('queue_depth')).toBe('Depth.');
    expect((await exportSeries('queue_depth{service="checkout"}'))).toHaveLength(1);
    expect((await otlp(T.checkout, 'checkout', 'cart_size', 'Items in the cart.')).status).toBe(200);
    expect(await help('cart_size')).toBe('Items in the cart.');
  });

  it('stores Heroic msgpack points whose timestamps are int64 or uint64, and names one beyond 2^53', async () => {
    const int64 = (n: bigint) => Buffer.concat([Buffer.from([0xd3]), Buffer.from(BigInt.asUintN(64, n).toString(16).padStart(16, '0'), 'hex')]);
    const uint64 = (n: bigint) => Buffer.concat([Buffer.from([0xcf]), Buffer.from(n.toString(16).padStart(16, '0'), 'hex')]);
    const body = (key: string, ts: Buffer) =>
      Buffer.concat([Buffer.from([0x82]), pack('series'), pack({ key, tags: { service: 'checkout' } }), pack('data'), Buffer.from([0x82]), pack('type'), pack('points'), pack('data'), Buffer.from([0x91, 0x92]), ts, pack(2.5)]);
    expect(typeof (unpack(body('k', int64(1n))) as { data: { data: unknown[][] } }).data.data[0][0]).toBe('bigint');
    const h = { 'content-type': 'application/msgpack' };
    expect((await post('/write', T.writer, h, body('mp.int64', int64(BigInt(now))))).status).toBe(200);
    expect((await post('/write', T.writer, h, body('mp.uint64', uint64(BigInt(now + 1))))).status).toBe(200);
    expect((await exportSeries('mp.int64'))[0].timestamps).toEqual([now]);
    expect((await exportSeries('mp.uint64'))[0].timestamps).toEqual([now + 1]);
    const big = await post('/write', T.writer, h, body('mp.big', uint64(2n ** 63n)));
    expect(big.status).toBe(400);
    expect(big.error).toMatchObject({ code: 'MTR_WRITE_INVALID', issues: [{ code: 'MTR_WRITE_TIMESTAMP_RANGE', field: 'timestamp', series: 0, point: 0 }] });
  });
});
