import { gzipSync } from 'node:zlib';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  AggregationType,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { otlpJson, otlpProtobuf } from '../bench/wire.js';
import { sql } from '../server/store/index.js';
import { exportSeries, startTestServer, type TestServer } from './helpers.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.destroy();
});

/** A reader that hands collected metrics to the test (what an exporter would serialize). */
class TestReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** Record with the real OpenTelemetry SDK and collect one ResourceMetrics. */
async function collect(
  record: (meter: ReturnType<MeterProvider['getMeter']>) => void,
  opts: { service: string; temporality?: AggregationTemporality; exponential?: string } = { service: 'checkout' },
): Promise<ResourceMetrics> {
  const temporality = opts.temporality ?? AggregationTemporality.CUMULATIVE;
  const reader = new TestReader({ aggregationTemporalitySelector: () => temporality });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': opts.service, 'service.instance.id': 'pod-1', 'host.name': 'node-7' }),
    readers: [reader],
    views: opts.exponential ? [{ instrumentName: opts.exponential, aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }] : [],
  });
  record(provider.getMeter('shop', '1.0.0'));
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  await provider.shutdown();
  return resourceMetrics;
}

async function post(body: Buffer | string, contentType: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${srv.url}/v1/metrics`, {
    method: 'POST',
    headers: { 'content-type': contentType, ...headers },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  return { status: res.status, type: res.headers.get('content-type'), body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

// Reference decoding of the answers (google.rpc.Status and the export response).
const answers = protobuf.parse(`
  syntax = "proto3";
  message Status { int32 code = 1; string message = 2; }
  message PartialSuccess { int64 rejected_data_points = 1; string error_message = 2; }
  message ExportMetricsServiceResponse { PartialSuccess partial_success = 1; }
`).root;
const Status = answers.lookupType('Status');
const Response = answers.lookupType('ExportMetricsServiceResponse');

function record(meter: ReturnType<MeterProvider['getMeter']>, prefix: string) {
  meter.createCounter(`${prefix}.http.requests`, { unit: '{request}', description: 'HTTP requests served.' }).add(3, { 'http.route': '/cart' });
  meter.createUpDownCounter(`${prefix}.queue.depth`, { unit: '{item}' }).add(-2);
  meter.createGauge(`${prefix}.cpu.utilization`, { unit: '1' }).record(0.25, { cpu: '0' });
  const h = meter.createHistogram(`${prefix}.http.duration`, { unit: 'ms', advice: { explicitBucketBoundaries: [10, 100] } });
  for (const v of [5, 50, 500, 7]) h.record(v, { 'http.route': '/cart' });
}

const target = { service: 'checkout', instance: 'pod-1' };

async function expectStored(prefix: string) {
  const one = async (sel: string) => {
    const lines = await exportSeries(srv.url, sel);
    expect(lines).toHaveLength(1);
    return lines[0];
  };
  const counter = await one(`${prefix}_http_requests_total`);
  expect(counter.metric).toEqual({ __name__: `${prefix}_http_requests_total`, http_route: '/cart', ...target });
  expect(counter.values).toEqual([3]);
  expect((await one(`${prefix}_queue_depth`)).values).toEqual([-2]);
  const gauge = await one(`${prefix}_cpu_utilization_ratio`);
  expect(gauge.metric).toEqual({ __name__: `${prefix}_cpu_utilization_ratio`, cpu: '0', ...target });
  expect(gauge.values).toEqual([0.25]);
  const name = `${prefix}_http_duration_milliseconds`;
  const buckets = await exportSeries(srv.url, `${name}_bucket`);
  expect(Object.fromEntries(buckets.map((b) => [b.metric.le, b.values[0]]))).toEqual({ '10': 2, '100': 3, '+Inf': 4 });
  expect(buckets[0].metric).toMatchObject({ http_route: '/cart', ...target });
  expect((await one(`${name}_count`)).values).toEqual([4]);
  expect((await one(`${name}_sum`)).values).toEqual([562]);
}

describe('POST /v1/metrics (OTLP/HTTP)', () => {
  it('stores counters, up-down counters, gauges and histograms sent as protobuf by the official serializer', async () => {
    const rm = await collect((m) => record(m, 'pb'));
    const r = await post(otlpProtobuf(rm), 'application/x-protobuf');
    expect(r.status).toBe(200);
    expect(r.type).toBe('application/x-protobuf');
    expect(Response.toObject(Response.decode(r.body))).toEqual({});
    await expectStored('pb');
  });

  it('stores the same metrics sent as OTLP/JSON, gzip-compressed', async () => {
    const rm = await collect((m) => record(m, 'js'));
    const r = await post(gzipSync(otlpJson(rm)), 'application/json', { 'content-encoding': 'gzip' });
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^application\/json/);
    expect(JSON.parse(r.body.toString())).toEqual({});
    await expectStored('js');
  });

  it('records type, help and unit metadata', async () => {
    const rows = await srv.ctx.store.query<{ metric: string; type: string; help: string; unit: string }>(
      sql`SELECT metric, type, help, unit FROM metric_metadata FINAL WHERE metric LIKE 'pb_%' ORDER BY metric`,
    );
    expect(rows).toEqual([
      { metric: 'pb_cpu_utilization_ratio', type: 'gauge', help: '', unit: 'ratio' },
      { metric: 'pb_http_duration_milliseconds', type: 'histogram', help: '', unit: 'milliseconds' },
      { metric: 'pb_http_requests_total', type: 'counter', help: 'HTTP requests served.', unit: '' },
      { metric: 'pb_queue_depth', type: 'gauge', help: '', unit: '' },
    ]);
  });

  it('answers delta sums and exponential histograms with a partial success that says why, storing the rest', async () => {
    const delta = await collect(
      (m) => {
        m.createCounter('delta.requests').add(5);
        m.createGauge('delta.kept').record(1);
      },
      { service: 'checkout', temporality: AggregationTemporality.DELTA },
    );
    const r = await post(otlpProtobuf(delta), 'application/x-protobuf');
    expect(r.status).toBe(200);
    const partial = Response.toObject(Response.decode(r.body), { longs: Number }) as { partialSuccess: { rejectedDataPoints: number; errorMessage: string } };
    expect(partial.partialSuccess.rejectedDataPoints).toBe(1);
    expect(partial.partialSuccess.errorMessage).toMatch(/delta temporality is not supported/);
    expect((await exportSeries(srv.url, 'delta_kept'))[0].values).toEqual([1]);
    expect(await exportSeries(srv.url, '{__name__=~"delta_requests.*"}')).toEqual([]);

    const expo = await collect((m) => m.createHistogram('expo.latency').record(3), { service: 'checkout', exponential: 'expo.latency' });
    const j = await post(otlpJson(expo), 'application/json');
    expect(j.status).toBe(200);
    const body = JSON.parse(j.body.toString());
    expect(body.partialSuccess.rejectedDataPoints).toBe('1');
    expect(body.partialSuccess.errorMessage).toMatch(/exponential histogram "expo.latency"/);
  });

  it('rejects undecodable bodies with 400 and a google.rpc.Status in the request encoding', async () => {
    const pb = await post(Buffer.from([0x0a, 0xff, 0xff, 0x01]), 'application/x-protobuf');
    expect(pb.status).toBe(400);
    const status = Status.toObject(Status.decode(pb.body)) as { code: number; message: string };
    expect(status.code).toBe(3);
    expect(status.message).toMatch(/^MTR_WRITE_BODY: /);

    const js = await post('{"resourceMetrics": 5}', 'application/json');
    expect(js.status).toBe(400);
    expect(JSON.parse(js.body.toString())).toMatchObject({ code: 3, message: expect.stringMatching(/^MTR_WRITE_BODY: .*array expected/) });
  });

  it('rejects the whole request when a point is invalid, saying where, and stores nothing', async () => {
    const now = `${Date.now()}000000`;
    const body = {
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bad' } }] },
          scopeMetrics: [
            {
              metrics: [
                { name: 'atomic.ok', gauge: { dataPoints: [{ timeUnixNano: now, asDouble: 1 }] } },
                { name: 'atomic.old', gauge: { dataPoints: [{ timeUnixNano: '1000000000', asDouble: 1 }] } },
              ],
            },
          ],
        },
      ],
    };
    const r = await post(JSON.stringify(body), 'application/json');
    expect(r.status).toBe(400);
    const status = JSON.parse(r.body.toString());
    expect(status.code).toBe(3);
    expect(status.message).toMatch(/^MTR_WRITE_INVALID: .*resourceMetrics\[0\]\.scopeMetrics\[0\]\.metrics\[1\]\.gauge\.dataPoints\[0\]: timestamp/);
    expect(await exportSeries(srv.url, '{__name__=~"atomic_.*"}')).toEqual([]);
  });

  it('answers 415 for other content types, as a Status', async () => {
    const r = await post('x', 'text/plain');
    expect(r.status).toBe(415);
    expect((Status.toObject(Status.decode(r.body)) as { message: string }).message).toMatch(/^MTR_WRITE_CONTENT_TYPE/);
  });
});
