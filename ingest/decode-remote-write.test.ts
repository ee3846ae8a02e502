import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { promLabels, writeRequestBytes } from '../bench/wire.js';
import { RemoteWriteDecoder, snappyDeclaredLength } from './decode-remote-write.js';
import { ProtoError } from './protobuf.js';

const STALE_NAN = new Float64Array(new Uint32Array([2, 0x7ff00000]).buffer)[0];

function flat(r: ReturnType<RemoteWriteDecoder['decode']>) {
  return r.batch.series.flatMap((s) =>
    Array.from(s.timestamps, (t, i) => ({ key: s.key, tags: s.tags, ts: t, value: s.values[i] })),
  );
}

describe('remote write WriteRequest decoding', () => {
  it('maps __name__ to the key and the other labels to tags', () => {
    const bytes = writeRequestBytes({
      timeseries: [
        { labels: promLabels('up', { job: 'node', instance: 'a:9100' }), samples: [{ value: 1, timestamp: 1_700_000_000_000 }] },
        { labels: promLabels('http_requests_total', { code: '200' }), samples: [{ value: 10, timestamp: 1_700_000_000_000 }, { value: 12.5, timestamp: 1_700_000_015_000 }] },
      ],
    });
    const r = new RemoteWriteDecoder().decode(bytes);
    expect(flat(r)).toEqual([
      { key: 'up', tags: { instance: 'a:9100', job: 'node' }, ts: 1_700_000_000_000, value: 1 },
      { key: 'http_requests_total', tags: { code: '200' }, ts: 1_700_000_000_000, value: 10 },
      { key: 'http_requests_total', tags: { code: '200' }, ts: 1_700_000_015_000, value: 12.5 },
    ]);
    expect(r.batch.points).toBe(3);
  });

  it('gathers samples sent as separate TimeSeries of one label set into one series', () => {
    const labels = promLabels('x', { a: '1' });
    const bytes = writeRequestBytes({
      timeseries: [
        { labels, samples: [{ value: 1, timestamp: 1000 }] },
        { labels: promLabels('x', { a: '2' }), samples: [{ value: 5, timestamp: 1000 }] },
        { labels, samples: [{ value: 2, timestamp: 2000 }] },
      ],
    });
    const r = new RemoteWriteDecoder().decode(bytes);
    expect(r.batch.series.map((s) => [s.tags.a, Array.from(s.values)])).toEqual([
      ['1', [1, 2]],
      ['2', [5]],
    ]);
  });

  it('returns staleness markers as series ends and keeps other NaN and Inf values as samples', () => {
    const bytes = writeRequestBytes({
      timeseries: [
        { labels: promLabels('g', { i: 'a' }), samples: [{ value: 3, timestamp: 1000 }, { value: STALE_NAN, timestamp: 2000 }] },
        { labels: promLabels('g', { i: 'b' }), samples: [{ value: NaN, timestamp: 1000 }, { value: Infinity, timestamp: 1000 }, { value: -Infinity, timestamp: 1000 }] },
      ],
    });
    // The encoder kept the exact staleness bits.
    expect(bytes.includes(Buffer.from('020000000000f07f', 'hex'))).toBe(true);
    const r = new RemoteWriteDecoder().decode(bytes);
    expect(flat(r)).toEqual([
      { key: 'g', tags: { i: 'a' }, ts: 1000, value: 3 },
      { key: 'g', tags: { i: 'b' }, ts: 1000, value: NaN },
      { key: 'g', tags: { i: 'b' }, ts: 1000, value: Infinity },
      { key: 'g', tags: { i: 'b' }, ts: 1000, value: -Infinity },
    ]);
    expect(r.staleMarks).toEqual([{ key: 'g', tags: { i: 'a' }, ts: 2000 }]);
  });

  it('reads metric metadata with its type names', () => {
    const bytes = writeRequestBytes({
      metadata: [
        { type: 'COUNTER', metricFamilyName: 'http_requests_total', help: 'Requests.', unit: '' },
        { type: 'HISTOGRAM', metricFamilyName: 'latency_seconds', help: 'Latency.', unit: 'seconds' },
      ],
    });
    const r = new RemoteWriteDecoder().decode(bytes);
    expect(r.metadata).toEqual([
      { metric: 'http_requests_total', type: 'counter', help: 'Requests.', unit: '' },
      { metric: 'latency_seconds', type: 'histogram', help: 'Latency.', unit: 'seconds' },
    ]);
    expect(r.batch.series).toEqual([]);
  });

  it('counts native histograms and exemplars, naming the first metric that has one', () => {
    const bytes = writeRequestBytes({
      timeseries: [
        { labels: promLabels('plain', {}), samples: [{ value: 1, timestamp: 1 }] },
        { labels: promLabels('lat', {}), histograms: [{ countInt: 3, sum: 1.5, schema: 3, timestamp: 1 }] },
        { labels: promLabels('req', {}), exemplars: [{ labels: [{ name: 'trace_id', value: 'abc' }], value: 1, timestamp: 1 }] },
      ],
    });
    const r = new RemoteWriteDecoder().decode(bytes);
    expect(r.unsupported).toEqual({ histograms: 1, exemplars: 1, firstMetric: 'lat' });
  });

  it('decodes negative and large timestamps exactly', () => {
    const bytes = writeRequestBytes({
      timeseries: [{ labels: promLabels('t', {}), samples: [{ value: 1, timestamp: -5 }, { value: 2, timestamp: 2 ** 52 + 1 }] }],
    });
    expect(Array.from(new RemoteWriteDecoder().decode(bytes).batch.series[0].timestamps)).toEqual([-5, 2 ** 52 + 1]);
  });

  it('decodes labels interleaved with samples (legal protobuf, unusual order)', () => {
    // TimeSeries fields written sample, label, sample, label.
    const label = (name: string, value: string) => {
      const n = Buffer.from(name);
      const v = Buffer.from(value);
      const inner = Buffer.concat([Buffer.from([0x0a, n.length]), n, Buffer.from([0x12, v.length]), v]);
      return Buffer.concat([Buffer.from([0x0a, inner.length]), inner]);
    };
    const sample = (value: number, ts: number) => {
      const d = Buffer.alloc(8);
      d.writeDoubleLE(value);
      const inner = Buffer.concat([Buffer.from([0x09]), d, Buffer.from([0x10, ts])]);
      return Buffer.concat([Buffer.from([0x12, inner.length]), inner]);
    };
    const ts = Buffer.concat([sample(1, 5), label('__name__', 'm'), sample(2, 6), label('k', 'v')]);
    const req = Buffer.concat([Buffer.from([0x0a, ts.length]), ts]);
    const d = new RemoteWriteDecoder();
    for (let round = 0; round < 2; round++) {
      expect(flat(d.decode(req))).toEqual([
        { key: 'm', tags: { k: 'v' }, ts: 5, value: 1 },
        { key: 'm', tags: { k: 'v' }, ts: 6, value: 2 },
      ]);
    }
  });

  it('remembers label sets across requests and forgets them past its bound', () => {
    const d = new RemoteWriteDecoder({ maxCachedLabelSets: 2 });
    const req = (n: number) =>
      writeRequestBytes({ timeseries: [{ labels: promLabels('m', { n: String(n) }), samples: [{ value: n, timestamp: 1 }] }] });
    d.decode(req(1));
    d.decode(req(2));
    expect(d.cachedLabelSets).toBe(2);
    d.decode(req(3));
    expect(d.cachedLabelSets).toBe(1);
    expect(flat(d.decode(req(1)))).toEqual([{ key: 'm', tags: { n: '1' }, ts: 1, value: 1 }]);
  });

  it('throws ProtoError on every truncation of a valid request', () => {
    const bytes = writeRequestBytes({
      timeseries: [{ labels: promLabels('m', { a: 'b' }), samples: [{ value: 1.5, timestamp: 1_700_000_000_000 }] }],
    });
    let threw = 0;
    for (let cut = 1; cut < bytes.length; cut++) {
      try {
        new RemoteWriteDecoder().decode(bytes.subarray(0, cut));
      } catch (e) {
        expect(e).toBeInstanceOf(ProtoError);
        threw++;
      }
    }
    // A cut between two complete fields is itself a valid (shorter) message; every other cut throws.
    expect(threw).toBeGreaterThan(bytes.length - 5);
  });

  it('agrees with protobufjs on random requests', () => {
    const name = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,12}$/);
    const series = fc.record({
      key: name,
      tags: fc.dictionary(name.filter((n) => n !== '__name__'), fc.string({ maxLength: 20 }), { maxKeys: 5 }),
      samples: fc.array(
        fc.record({
          value: fc.double({ noNaN: true, noDefaultInfinity: true }),
          timestamp: fc.integer({ min: -(2 ** 40), max: 2 ** 45 }),
        }),
        { minLength: 1, maxLength: 4 },
      ),
    });
    fc.assert(
      fc.property(fc.array(series, { maxLength: 8 }), (list) => {
        const bytes = writeRequestBytes({ timeseries: list.map((s) => ({ labels: promLabels(s.key, s.tags), samples: s.samples })) });
        const got = flat(new RemoteWriteDecoder().decode(bytes));
        const want = list.flatMap((s) => s.samples.map((p) => ({ key: s.key, tags: s.tags, ts: p.timestamp, value: p.value })));
        const norm = (xs: typeof want) => xs.map((x) => JSON.stringify([x.key, Object.entries(x.tags).sort(), x.ts, Object.is(x.value, -0) ? 0 : x.value])).sort();
        expect(norm(got)).toEqual(norm(want));
      }),
      { numRuns: 300 },
    );
  });

  it("reads a snappy block's declared length", () => {
    expect(snappyDeclaredLength(Buffer.from([0xac, 0x02, 0x00]))).toBe(300);
    expect(() => snappyDeclaredLength(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).toThrow(ProtoError);
  });
});
