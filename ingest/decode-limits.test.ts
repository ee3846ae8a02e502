import { pack, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { promLabels, writeRequestBytes } from '../bench/wire.js';
import { decodeHeroic } from './decode-heroic.js';
import { DecodeLimitError, type DecodeLimits } from './decode-limits.js';
import { InfluxDecoder, precisionOf } from './decode-influx.js';
import { decodeOtlp, decodeOtlpSteps, parseOtlpJson, parseOtlpProtobuf, parseOtlpProtobufSteps } from './decode-otlp.js';
import { drain } from './slices.js';
import { RemoteWriteDecoder } from './decode-remote-write.js';
import { IssueList } from './validate.js';
import { otlpHistogram } from '../test/protobuf-wire.js';

const LIMITS: DecodeLimits = { maxSeries: 3, maxSamples: 5, maxLabels: 4, maxBuckets: 4 };
const T = 1_700_000_000_000;

function refusal(f: () => unknown): { limit: string; field: string } {
  try {
    f();
  } catch (e) {
    if (e instanceof DecodeLimitError) return { limit: e.limit, field: e.field };
    throw e;
  }
  throw new Error('not refused');
}

describe('limits while decoding', () => {
  it('refuses a remote-write request past the samples, series or labels limit, naming the time series', () => {
    const rw = new RemoteWriteDecoder();
    const series = (n: number, samples: number, tags: Record<string, string> = {}) =>
      writeRequestBytes({
        timeseries: Array.from({ length: n }, (_, i) => ({
          labels: promLabels('m', { i: String(i), ...tags }),
          samples: Array.from({ length: samples }, (_, k) => ({ value: k, timestamp: T + k })),
        })),
      });
    expect(rw.decode(series(1, 5), LIMITS).batch.points).toBe(5);
    expect(refusal(() => rw.decode(series(1, 6), LIMITS))).toEqual({ limit: 'maxSamples', field: 'timeseries[0].samples' });
    expect(refusal(() => rw.decode(series(4, 1), LIMITS))).toEqual({ limit: 'maxSeries', field: 'timeseries[3]' });
    expect(refusal(() => rw.decode(series(1, 1, { a: '1', b: '2', c: '3' }), LIMITS))).toEqual({ limit: 'maxLabels', field: 'timeseries[0].labels' });
  });

  it('refuses line protocol past a limit, naming the line, and counts fields as samples', () => {
    const d = new InfluxDecoder();
    const ns = precisionOf('ns')!;
    const decode = (text: string) => d.decode(text, ns, T, new IssueList(), false, LIMITS);
    expect(decode('m a=1,b=2,c=3\nm a=1,b=2').batch.points).toBe(5);
    expect(refusal(() => decode('m a=1,b=2,c=3\nm a=1,b=2,c=3'))).toEqual({ limit: 'maxSamples', field: 'line 2' });
    expect(refusal(() => decode('m a=1,b=2,c=3,d=4'))).toEqual({ limit: 'maxSeries', field: 'line 1' });
    expect(refusal(() => decode('m,a=1,b=2,c=3,d=4 v=1'))).toEqual({ limit: 'maxLabels', field: 'line 1' });
    // A cached series part is checked again on every use.
    expect(refusal(() => d.decode('m,a=1,b=2,c=3,d=4 v=1', ns, T, new IssueList(), false, { ...LIMITS, maxLabels: 4 }))).toEqual({
      limit: 'maxLabels',
      field: 'line 1',
    });
  });

  it('refuses an OTLP histogram with too many bounds before protobufjs decodes it, in protobuf and JSON', () => {
    const field = 'resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].explicitBounds';
    const json = (bounds: number) =>
      JSON.stringify({
        resourceMetrics: [
          {
            scopeMetrics: [
              {
                metrics: [
                  {
                    name: 'h',
                    histogram: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: String(T * 1e6), count: '1', explicitBounds: Array.from({ length: bounds }, (_, i) => i) }] },
                  },
                ],
              },
            ],
          },
        ],
      });
    expect(refusal(() => parseOtlpJson(json(4), LIMITS))).toEqual({ limit: 'maxBuckets', field });
    const limits = { ...LIMITS, maxSamples: 100, maxSeries: 100 };
    expect(decodeOtlp(parseOtlpProtobuf(otlpHistogram(3, T), limits), T, new IssueList(), limits).batch.points).toBe(5);
    expect(refusal(() => parseOtlpProtobuf(otlpHistogram(4, T), limits))).toEqual({ limit: 'maxBuckets', field });
    expect(refusal(() => parseOtlpProtobuf(otlpHistogram(4_000_000, T), limits))).toEqual({ limit: 'maxBuckets', field });
    // The sliced decoder the route uses counts each point as it reaches it.
    expect(refusal(() => drain(parseOtlpProtobufSteps(otlpHistogram(4_000_000, T), limits)))).toEqual({ limit: 'maxBuckets', field });
    expect(refusal(() => drain(parseOtlpProtobufSteps(otlpHistogram(3, T), { ...limits, maxSamples: 3 })))).toEqual({ limit: 'maxSamples', field: field.replace('.explicitBounds', '') });
    // Buckets fit, samples do not: 4 buckets + count (no sum) > 3.
    expect(refusal(() => parseOtlpProtobuf(otlpHistogram(3, T), { ...limits, maxSamples: 3 }))).toEqual({ limit: 'maxSamples', field: field.replace('.explicitBounds', '') });
    // Series are counted as decodeOtlp makes them.
    expect(refusal(() => decodeOtlp(parseOtlpProtobuf(otlpHistogram(3, T), limits), T, new IssueList(), { ...limits, maxSeries: 4 }))).toMatchObject({ limit: 'maxSeries' });
  });

  it('refuses a Heroic body past a limit before copying its points', () => {
    const item = (n: number, tags: Record<string, string> = {}) => ({ series: { key: 'k', tags }, data: { type: 'points', data: Array.from({ length: n }, (_, i) => [T + i, i]) } });
    expect(refusal(() => decodeHeroic([item(1), item(1), item(1), item(1)], new IssueList(), LIMITS))).toEqual({ limit: 'maxSeries', field: '[3]' });
    expect(refusal(() => decodeHeroic([item(3), item(3)], new IssueList(), LIMITS))).toEqual({ limit: 'maxSamples', field: '[1].data.data' });
    expect(refusal(() => decodeHeroic(item(1, { a: '', b: '', c: '', d: '' }), new IssueList(), LIMITS))).toEqual({ limit: 'maxLabels', field: '[0].series.tags' });
  });

  it('takes msgpack int64 and uint64 timestamps exactly, and names one a double cannot hold', () => {
    // msgpackr decodes every 64-bit integer as a BigInt.
    const int64 = (n: bigint) => Buffer.concat([Buffer.from([0xd3]), Buffer.from(BigInt.asUintN(64, n).toString(16).padStart(16, '0'), 'hex')]);
    const uint64 = (n: bigint) => Buffer.concat([Buffer.from([0xcf]), Buffer.from(n.toString(16).padStart(16, '0'), 'hex')]);
    // {series: {key, tags}, data: {type: 'points', data: [[ts, value]]}} with the pair hand-encoded.
    const body = (ts: Buffer, value: Buffer) =>
      Buffer.concat([Buffer.from([0x82]), pack('series'), pack({ key: 'k', tags: {} }), pack('data'), Buffer.from([0x82]), pack('type'), pack('points'), pack('data'), Buffer.from([0x91, 0x92]), ts, value]);
    expect(typeof (unpack(body(int64(BigInt(T)), uint64(7n))) as { data: { data: unknown[][] } }).data.data[0][0]).toBe('bigint');
    const issues = new IssueList();
    const batch = decodeHeroic(unpack(body(int64(BigInt(T)), uint64(7n))), issues);
    expect(issues.count).toBe(0);
    expect(batch.series[0].timestamps[0]).toBe(T);
    expect(batch.series[0].values[0]).toBe(7);
    decodeHeroic(unpack(body(uint64(2n ** 63n), int64(-(2n ** 60n)))), issues);
    expect(issues.items).toMatchObject([
      { code: 'MTR_WRITE_TIMESTAMP_RANGE', series: 0, point: 0, field: 'timestamp' },
      { code: 'MTR_WRITE_VALUE_TYPE', series: 0, point: 0, field: 'value' },
    ]);
    expect(issues.items[0].message).toContain('9223372036854775808');
  });
});

describe('decoding in slices', () => {
  it('decodes OTLP protobuf point by point to the same request and series as a whole-message decode', () => {
    const attrs = (i: number) => [{ key: 'host', value: { stringValue: `h${i % 7}` } }, { key: 'n', value: { intValue: String(i) } }];
    const t = String(T * 1e6);
    const json = {
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'api' } }] },
          scopeMetrics: [
            {
              scope: { name: 's', version: '1' },
              metrics: [
                { name: 'g', unit: 'ms', description: 'G.', gauge: { dataPoints: Array.from({ length: 3000 }, (_, i) => ({ attributes: attrs(i), timeUnixNano: t, asDouble: i / 2 })) } },
                { name: 'c', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ timeUnixNano: t, asInt: '5' }, { timeUnixNano: t, flags: 1 }] } },
                { name: 'd', sum: { aggregationTemporality: 1, dataPoints: [{ timeUnixNano: t, asDouble: 1 }] } },
                { name: 'h', histogram: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: t, count: '3', sum: 4.5, bucketCounts: ['1', '1', '1'], explicitBounds: [1, 2] }] } },
                { name: 's', summary: { dataPoints: [{ timeUnixNano: t, count: '2', sum: 3, quantileValues: [{ quantile: 0.5, value: 1 }] }] } },
                { name: 'e', exponentialHistogram: { dataPoints: [{ timeUnixNano: t }] } },
              ],
            },
          ],
        },
        { scopeMetrics: [{ metrics: [{ name: 'empty' }] }] },
      ],
    };
    const msg = parseOtlpJson(JSON.stringify(json)) as unknown as { $type: { encode(m: unknown): { finish(): Uint8Array } } };
    const bytes = msg.$type.encode(msg).finish();
    const whole = parseOtlpProtobuf(bytes);
    const sliced = drain(parseOtlpProtobufSteps(bytes));
    // The instrumentation scope is not read, so not decoded.
    expect(JSON.parse(JSON.stringify(sliced))).toEqual(JSON.parse(JSON.stringify(whole, (k, v: unknown) => (k === 'scope' ? undefined : v))));
    const a = decodeOtlp(whole, T, new IssueList());
    const b = drain(decodeOtlpSteps(sliced, T, new IssueList()));
    expect(b).toEqual(a);
    expect(a.batch.points).toBe(3000 + 1 + 4 + 2 + 1 + 1);
  });

  it('gives each of two interleaved Influx decodes the batch it would get alone', () => {
    const ns = precisionOf('ns')!;
    const body = (n: number, offset: number) => Array.from({ length: n }, (_, i) => `m,h=h${(i + offset) % 50} a=${i},b=${i} ${T + i}`).join('\n');
    const x = body(5000, 0);
    const y = body(4000, 25);
    const alone = (text: string) => new InfluxDecoder().decode(text, ns, T, new IssueList(), true);
    const d = new InfluxDecoder();
    const gx = d.steps(x, ns, T, new IssueList(), true);
    const gy = d.steps(y, ns, T, new IssueList(), true);
    let rx, ry;
    while (!rx?.done || !ry?.done) {
      if (!rx?.done) rx = gx.next();
      if (!ry?.done) ry = gy.next();
    }
    expect(rx.value).toEqual(alone(x));
    expect(ry.value).toEqual(alone(y));
    expect(rx.value.batch.series).toHaveLength(100);
  });

  it('refuses broken protobuf bytes with a decode error, not a crash', () => {
    expect(() => drain(parseOtlpProtobufSteps(Uint8Array.from([0x0a, 0x05, 0x12, 0x03, 0x12, 0x09])))).toThrow(/protobuf/);
  });
});
