import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import snappy from 'snappy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lineProtocol, otlpJson, otlpProtobuf, otlpResourceMetrics, promLabels, remoteWriteRequest, writeRequestBytes } from '../bench/wire.js';
import { startTestServer, type TestServer } from './helpers.js';

/**
 * Every decoder, fed random, truncated and mutated bodies through the real server: the answer is
 * a 2xx or a 4xx, never a 5xx, a hang or a crash (the server keeps answering afterwards).
 */

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.destroy();
});

const RUNS = 150;

async function status(path: string, body: Uint8Array | string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(srv.url + path, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : new Uint8Array(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (res.status >= 500) throw new Error(`${path} answered ${res.status}: ${text}`);
  return res.status;
}

const now = Date.now();
const sample = [
  { key: 'cpu_usage_user', tags: { hostname: 'host_1', region: 'eu-west-1' }, timestamps: [now - 20_000, now - 10_000], values: [1.5, 2.25] },
  { key: 'cpu_usage_idle', tags: { hostname: 'host_1', region: 'eu-west-1' }, timestamps: [now - 20_000, now - 10_000], values: [97, 96.5] },
];
const validRemote = writeRequestBytes(remoteWriteRequest(sample));
const validInflux = Buffer.from(lineProtocol(sample) + 'm,t=a\\ b\\,c f="s\\"q",g=1i,h=t 1\n');
const validOtlpPb = otlpProtobuf(otlpResourceMetrics(sample, { 'service.name': 'fuzz' }));
const validOtlpJson = otlpJson(otlpResourceMetrics(sample, { 'service.name': 'fuzz' }));

/** A valid body cut at a random point, or with a few random bytes overwritten. */
function damaged(valid: Uint8Array) {
  return fc.oneof(
    fc.integer({ min: 0, max: valid.length }).map((cut) => valid.subarray(0, cut)),
    fc
      .array(fc.tuple(fc.integer({ min: 0, max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 })
      .map((edits) => {
        const copy = Buffer.from(valid);
        for (const [i, b] of edits) copy[i] = b;
        return copy;
      }),
  );
}

const PROM = { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' };

describe('fuzzing the write protocols through the server', () => {
  it('remote write: random bytes, random snappy payloads, damaged requests', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 400 }).map((b) => ({ body: b, snappy: false })),
          fc.uint8Array({ maxLength: 400 }).map((b) => ({ body: b, snappy: true })),
          damaged(validRemote).map((b) => ({ body: b, snappy: true })),
          damaged(snappy.compressSync(validRemote)).map((b) => ({ body: b, snappy: false })),
        ),
        async ({ body, snappy: compress }) => {
          const payload = compress ? snappy.compressSync(Buffer.from(body)) : body;
          const s = await status('/api/v1/write', payload, PROM);
          expect(s === 204 || (s >= 400 && s < 500)).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('influx: random text, line-protocol-like noise, damaged and gzip-damaged bodies', async () => {
    const piece = fc.constantFrom('m', 'cpu', ',', '=', ' ', '\\', '"', '\n', 'i', 'u', 't', 'f', '1', '-', '.', 'e', '9', '#', '\r', 'é', '🍭');
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 300 }).map((s) => ({ body: s as string | Uint8Array, gzip: false })),
          fc.array(piece, { maxLength: 120 }).map((p) => ({ body: p.join('') as string | Uint8Array, gzip: false })),
          damaged(validInflux).map((b) => ({ body: b as string | Uint8Array, gzip: false })),
          damaged(gzipSync(validInflux)).map((b) => ({ body: b as string | Uint8Array, gzip: true })),
        ),
        fc.constantFrom('/influx/write', '/influx/api/v2/write?bucket=b', '/influx/write?precision=s'),
        async ({ body, gzip }, path) => {
          const s = await status(path, body, { 'content-type': 'text/plain', ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
          expect(s === 204 || (s >= 400 && s < 500)).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('OTLP protobuf: random bytes and damaged requests', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 400 }), damaged(validOtlpPb)), async (body) => {
        const s = await status('/v1/metrics', body, { 'content-type': 'application/x-protobuf' });
        expect(s === 200 || (s >= 400 && s < 500)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('OTLP JSON: random JSON, damaged requests and random values grafted into a valid request', async () => {
    const valid = JSON.parse(validOtlpJson);
    const graft = fc
      .tuple(
        fc.constantFrom(
          ['resourceMetrics'],
          ['resourceMetrics', 0, 'resource'],
          ['resourceMetrics', 0, 'scopeMetrics', 0, 'metrics'],
          ['resourceMetrics', 0, 'scopeMetrics', 0, 'metrics', 0, 'gauge', 'dataPoints', 0],
          ['resourceMetrics', 0, 'scopeMetrics', 0, 'metrics', 0, 'gauge', 'dataPoints', 0, 'timeUnixNano'],
          ['resourceMetrics', 0, 'scopeMetrics', 0, 'metrics', 0, 'gauge', 'dataPoints', 0, 'attributes', 0, 'value'],
          ['resourceMetrics', 0, 'scopeMetrics', 0, 'metrics', 0, 'name'],
        ),
        fc.jsonValue(),
      )
      .map(([path, value]) => {
        const copy = structuredClone(valid);
        let o = copy;
        for (const k of path.slice(0, -1)) o = o[k];
        o[path[path.length - 1]] = value;
        return JSON.stringify(copy);
      });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.json(), graft, damaged(Buffer.from(validOtlpJson)).map((b) => Buffer.from(b).toString('latin1'))),
        async (body) => {
          const s = await status('/v1/metrics', body, { 'content-type': 'application/json' });
          expect(s === 200 || (s >= 400 && s < 500)).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('handles text that is not valid UTF-16 (lone surrogates) or UTF-8 without a 5xx', async () => {
    const lone = JSON.stringify({
      resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'lone', gauge: { dataPoints: [{ asDouble: 1, attributes: [{ key: 'k', value: { stringValue: '\ud800x' } }] }] } }] }] }],
    });
    expect(await status('/v1/metrics', lone, { 'content-type': 'application/json' })).toBeLessThan(500);
    // UTF-8-encoded surrogate (ED A0 80) inside an OTLP protobuf string: proto3 strings must be
    // valid UTF-8, and the decoder says so with a 400.
    const pb = otlpProtobuf(otlpResourceMetrics([{ key: 'cesu', tags: { k: 'zzz' }, timestamps: [now], values: [1] }]));
    pb.set([0xed, 0xa0, 0x80], pb.indexOf('zzz'));
    expect(await status('/v1/metrics', pb, { 'content-type': 'application/x-protobuf' })).toBe(400);
    const badUtf8 = writeRequestBytes({ timeseries: [{ labels: promLabels('bad_utf8', { k: 'x' }), samples: [{ value: 1, timestamp: now }] }] });
    // Overwrite the label value "x" with a byte that is not valid UTF-8.
    badUtf8[badUtf8.lastIndexOf(0x78)] = 0xff;
    expect(await status('/api/v1/write', snappy.compressSync(badUtf8), PROM)).toBe(204);
  });

  it('still accepts valid writes of every protocol afterwards', async () => {
    expect(await status('/api/v1/write', snappy.compressSync(validRemote), PROM)).toBe(204);
    expect(await status('/influx/write', lineProtocol(sample), { 'content-type': 'text/plain' })).toBe(204);
    expect(await status('/v1/metrics', validOtlpPb, { 'content-type': 'application/x-protobuf' })).toBe(200);
  });
});
