import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { len, str, varint } from '../test/protobuf-wire.js';
import { promLabels, remoteWriteRequest, remoteWriteV2Request, requestV2Bytes, writeRequestBytes } from '../bench/wire.js';
import { DecodeLimitError } from './decode-limits.js';
import { RemoteWriteDecoder } from './decode-remote-write.js';
import { RemoteWriteV2Decoder } from './decode-remote-write-v2.js';
import { ProtoError } from './protobuf.js';

const T = 1_700_000_000_000;
const STALE_NAN = new Float64Array(new Uint32Array([2, 0x7ff00000]).buffer)[0];

function flat(r: { batch: { series: { key: string; tags: Record<string, string>; timestamps: ArrayLike<number>; values: ArrayLike<number> }[] } }) {
  return r.batch.series.flatMap((s) => Array.from(s.timestamps, (t, i) => ({ key: s.key, tags: s.tags, ts: t, value: s.values[i] })));
}

// Hand-encoded pieces of io.prometheus.write.v2 (field numbers from its types.proto).
const packed = (field: number, xs: number[]) => len(field, Buffer.concat(xs.map(varint)));
const double = (field: number, v: number) => {
  const b = Buffer.alloc(9);
  b[0] = (field << 3) | 1;
  b.writeDoubleLE(v, 1);
  return b;
};
const int = (field: number, v: number) => Buffer.concat([varint(field << 3), varint(v)]);
const sample = (value: number, ts: number, start = 0) =>
  len(2, Buffer.concat([double(1, value), int(2, ts), ...(start ? [int(3, start)] : [])]));
const series = (refs: number[], ...fields: Buffer[]) => len(5, Buffer.concat([packed(1, refs), ...fields]));
const symbols = (...ss: string[]) => Buffer.concat(ss.map((s) => str(4, s)));

describe('remote write 2.0 Request decoding', () => {
  it('maps symbol refs to the key and tags, whichever order the symbols and series come in', () => {
    const ts = [series([1, 2, 3, 4], sample(1.5, T)), series([1, 5, 3, 4], sample(2, T))];
    const syms = symbols('', '__name__', 'up', 'job', 'node', 'down');
    for (const body of [Buffer.concat([syms, ...ts]), Buffer.concat([ts[0], syms, ts[1]])]) {
      const r = new RemoteWriteV2Decoder().decode(body);
      expect(flat(r)).toEqual([
        { key: 'up', tags: { job: 'node' }, ts: T, value: 1.5 },
        { key: 'down', tags: { job: 'node' }, ts: T, value: 2 },
      ]);
      expect(r.batch.points).toBe(2);
    }
  });

  it('decodes what a 1.0 decoder makes of the same series, for random requests', () => {
    const name = fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/);
    const value = fc.string({ minLength: 1, maxLength: 12 });
    const seriesArb = fc.record({
      key: name,
      tags: fc.dictionary(name.filter((n) => n !== '__name__'), value, { maxKeys: 5 }),
      timestamps: fc.array(fc.integer({ min: 0, max: 2 ** 45 }), { minLength: 1, maxLength: 3 }),
      values: fc.array(fc.double(), { minLength: 3, maxLength: 3 }),
    });
    const v1 = new RemoteWriteDecoder();
    const v2 = new RemoteWriteV2Decoder();
    fc.assert(
      fc.property(fc.array(seriesArb, { maxLength: 8 }), (list) => {
        const wire = list.map((s) => ({ ...s, values: s.values.slice(0, s.timestamps.length) }));
        const a = v1.decode(writeRequestBytes(remoteWriteRequest(wire)));
        const b = v2.decode(requestV2Bytes(remoteWriteV2Request(wire)));
        expect(flat(b)).toEqual(flat(a));
        expect(b.batch.points).toBe(a.batch.points);
      }),
      { numRuns: 200 },
    );
  });

  it('recognises a label set seen in an earlier request under other symbol numbers', () => {
    const d = new RemoteWriteV2Decoder();
    const a = d.decode(Buffer.concat([symbols('', '__name__', 'up', 'job', 'a'), series([1, 2, 3, 4], sample(1, T))]));
    const b = d.decode(Buffer.concat([symbols('', 'job', 'a', 'up', '__name__'), series([4, 3, 1, 2], sample(2, T))]));
    expect(b.batch.series[0].memo).toBe(a.batch.series[0].memo);
    expect(d.cachedLabelSets).toBe(1);
    // Same symbols, one label different: another set.
    const c = d.decode(Buffer.concat([symbols('', '__name__', 'up', 'job', 'b'), series([1, 2, 3, 4], sample(3, T))]));
    expect(c.batch.series[0].tags).toEqual({ job: 'b' });
    expect(c.batch.series[0].memo).not.toBe(a.batch.series[0].memo);
  });

  it('takes metadata from a series once per metric, with help and unit from the symbols', () => {
    const meta = len(5, Buffer.concat([int(1, 1), int(3, 5), int(4, 6)]));
    const body = Buffer.concat([
      symbols('', '__name__', 'http_requests_total', 'code', '200', 'Requests served.', 'requests', '500'),
      series([1, 2, 3, 4], sample(10, T), meta),
      series([1, 2, 3, 7], sample(1, T), meta),
      series([1, 2, 3, 4], sample(11, T + 15_000), len(5, Buffer.alloc(0))),
    ]);
    const r = new RemoteWriteV2Decoder().decode(body);
    expect(r.metadata).toEqual([{ metric: 'http_requests_total', type: 'counter', help: 'Requests served.', unit: 'requests' }]);
    expect(r.batch.points).toBe(3);
  });

  it('counts start timestamps (on the sample and the older created_timestamp) without storing them', () => {
    const body = Buffer.concat([
      symbols('', '__name__', 'c_total'),
      series([1, 2], sample(5, T, T - 60_000)),
      series([1, 2], sample(6, T + 1000), int(6, T - 60_000)),
    ]);
    const r = new RemoteWriteV2Decoder().decode(body);
    expect(r.startTimestamps).toBe(2);
    expect(flat(r)).toEqual([
      { key: 'c_total', tags: {}, ts: T, value: 5 },
      { key: 'c_total', tags: {}, ts: T + 1000, value: 6 },
    ]);
  });

  it('returns staleness markers apart and counts histograms and exemplars as unsupported', () => {
    const body = Buffer.concat([
      symbols('', '__name__', 'up', 'h'),
      series([1, 2], sample(STALE_NAN, T), sample(NaN, T + 1)),
      series([1, 3], len(3, int(1, 4)), len(4, double(2, 1))),
    ]);
    const r = new RemoteWriteV2Decoder().decode(body);
    expect(r.staleMarks).toEqual([{ key: 'up', tags: {}, ts: T }]);
    expect(flat(r)).toEqual([{ key: 'up', tags: {}, ts: T + 1, value: NaN }]);
    expect(r.unsupported).toEqual({ histograms: 1, exemplars: 1, firstMetric: 'h' });
  });

  it('refuses refs outside the symbols table, an odd number of refs and broken bytes, naming the place', () => {
    const d = new RemoteWriteV2Decoder();
    const bad = (body: Buffer) => {
      try {
        d.decode(body);
      } catch (e) {
        expect(e).toBeInstanceOf(ProtoError);
        return (e as Error).message;
      }
      throw new Error('decoded');
    };
    expect(bad(Buffer.concat([symbols('', '__name__', 'up'), series([1, 2], sample(1, T)), series([1, 9], sample(1, T))]))).toMatch(
      /^timeseries\[1\]\.labels_refs\[1\] = 9 is not in the symbols table \(3 symbols\)/,
    );
    expect(bad(Buffer.concat([symbols('', '__name__', 'up'), series([1, 2, 1], sample(1, T))]))).toMatch(/timeseries\[0\]\.labels_refs has 3 refs/);
    expect(bad(Buffer.concat([symbols('', '__name__', 'up'), series([1, 2], sample(1, T), len(5, int(3, 40)))]))).toMatch(
      /timeseries\[0\]\.metadata\.help_ref = 40 is not in the symbols table/,
    );
    const whole = Buffer.concat([symbols('', '__name__', 'up'), series([1, 2], sample(1, T))]);
    expect(bad(whole.subarray(0, whole.length - 3))).toMatch(/runs past the end|truncated/);
  });

  it('refuses a request past the labels, samples or series limit while decoding, naming the series', () => {
    const limits = { maxSeries: 2, maxSamples: 3, maxLabels: 2, maxBuckets: 10 };
    const d = new RemoteWriteV2Decoder();
    const err = (body: Buffer) => {
      try {
        d.decode(body, limits);
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeLimitError);
        const { limit, field } = e as DecodeLimitError;
        return `${limit} ${field}`;
      }
      throw new Error('decoded');
    };
    const syms = symbols('', '__name__', 'up', 'a', 'b', 'c');
    expect(err(Buffer.concat([syms, series([1, 2, 3, 3, 4, 4], sample(1, T))]))).toBe('maxLabels timeseries[0].labels_refs');
    expect(err(Buffer.concat([syms, series([1, 2], sample(1, T), sample(2, T + 1)), series([1, 3], sample(1, T), sample(2, T + 1))]))).toBe(
      'maxSamples timeseries[1].samples',
    );
    expect(err(Buffer.concat([syms, series([1, 2], sample(1, T)), series([1, 3], sample(1, T)), series([1, 4], sample(1, T))]))).toBe(
      'maxSeries timeseries[2]',
    );
    // Within every limit: decoded.
    expect(d.decode(Buffer.concat([syms, series([1, 2, 3, 4], sample(1, T))]), limits).batch.points).toBe(1);
  });

  it('keeps the same series for labels written as separate unpacked refs', () => {
    const unpacked = len(5, Buffer.concat([int(1, 1), int(1, 2), int(1, 3), int(1, 4), sample(7, T)]));
    const r = new RemoteWriteV2Decoder().decode(Buffer.concat([symbols('', '__name__', 'up', 'job', 'x'), unpacked]));
    expect(flat(r)).toEqual([{ key: 'up', tags: { job: 'x' }, ts: T, value: 7 }]);
    expect(promLabels('up', { job: 'x' }).length).toBe(2);
  });
});
