import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers.js';
import { baseTime, loadSeries } from './promql-helpers.js';

/**
 * Heroic's query routes under random, deep and wrongly typed requests: every answer is a 2xx, or
 * a 4xx in Heroic's error shape with a message; never a 5xx or a hang, and the server stays up.
 * fast-check prints the seed of a failure; FC_SEED replays it.
 */
let srv: TestServer;
const B = baseTime(3);
beforeAll(async () => {
  srv = await startTestServer({ QUERY_TIMEOUT_MS: '10000' });
  await loadSeries(
    srv.ctx.store,
    ['a', 'b', 'c'].map((host, h) => ({ labels: { __name__: 'm', host, role: h ? 'x' : 'y' }, samples: Array.from({ length: 120 }, (_, i): [number, number] => [B + i * 30_000, (i * (h + 1)) % 17]) })),
  );
});
afterAll(async () => {
  await srv?.destroy();
});

async function send(path: string, body: string, type = 'application/json') {
  const res = await fetch(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body, signal: AbortSignal.timeout(20_000) });
  return { status: res.status, text: await res.text() };
}

function acceptable(a: { status: number; text: string }, what: string) {
  expect(a.status, `${what} -> ${a.status} ${a.text.slice(0, 300)}`).toBeLessThan(500);
  if (a.status >= 400) {
    const j = JSON.parse(a.text);
    expect(j.type, what).toBe('error');
    expect(String(j.message).length, what).toBeGreaterThan(0);
  }
}

const seed = process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {};
const duration = fc.oneof(fc.integer({ min: -5, max: 100_000_000 }), fc.constantFrom('1m', '30s', '0s', '1x', '5h', ''), fc.record({ unit: fc.constantFrom('seconds', 'minutes', 'x'), value: fc.oneof(fc.integer({ min: -2, max: 5000 }), fc.double()) }, { requiredKeys: [] }));
const agg: fc.Arbitrary<unknown> = fc.letrec<{ a: unknown }>((tie) => ({
  a: fc.oneof(
    { depthSize: 'small' },
    fc.record(
      {
        type: fc.constantFrom('sum', 'sum2', 'average', 'min', 'max', 'count', 'stddev', 'quantile', 'topk', 'bottomk', 'abovek', 'belowk', 'pointsabove', 'pointsbelow', 'delta', 'notNegative', 'empty', 'nope'),
        sampling: fc.record({ unit: fc.constantFrom('seconds', 'minutes', 'hours', 'weird'), value: fc.oneof(fc.integer({ min: -1, max: 7200 }), fc.string()), extent: fc.integer({ min: 0, max: 7200 }) }, { requiredKeys: [] }),
        size: duration,
        q: fc.oneof(fc.double(), fc.integer()),
        k: fc.oneof(fc.integer({ min: -3, max: 10 }), fc.double(), fc.string()),
        threshold: fc.oneof(fc.double(), fc.integer()),
      },
      { requiredKeys: ['type'] },
    ),
    fc.record({ type: fc.constant('group'), of: fc.oneof(fc.constant(null), fc.array(fc.constantFrom('host', 'role', 'zz')), fc.string()), each: tie('a') }, { requiredKeys: ['type'] }),
    fc.record({ type: fc.constant('chain'), chain: fc.array(tie('a'), { maxLength: 3 }) }),
    fc.array(tie('a'), { maxLength: 3 }),
    fc.jsonValue({ maxDepth: 2 }),
  ),
})).a;
const filter = fc.oneof(
  fc.constantFrom(['key', 'm'], ['and', ['key', 'm'], ['=', 'host', 'a']], '$key = m and role = x', 'host in [a, b', ['q', 'role ^'], ['~', 'host', '(']),
  fc.string({ maxLength: 30 }),
  fc.jsonValue({ maxDepth: 2 }),
);
const range = fc.oneof(
  fc.constant({ type: 'absolute', start: B, end: B + 3_600_000 }),
  fc.record({ type: fc.constantFrom('absolute', 'relative', 'x'), start: fc.oneof(fc.integer(), fc.double()), end: fc.oneof(fc.integer(), fc.double()), unit: fc.constantFrom('HOURS', 'DAYS', 'SECONDS', 'MILLISECONDS', 'x'), value: fc.oneof(fc.integer({ min: -1, max: 100 }), fc.double()) }, { requiredKeys: [] }),
  fc.jsonValue({ maxDepth: 1 }),
);
const query = fc.record({ range, filter, aggregation: agg, aggregators: agg, features: fc.oneof(fc.array(fc.constantFrom('com.spotify.heroic.shift_range', '-com.spotify.heroic.end_bucket_stategy', 'x')), fc.jsonValue({ maxDepth: 1 })), options: fc.record({ bucketStrategy: fc.constantFrom('start', 'end', 'x') }) }, { requiredKeys: [] });

describe('Heroic query routes under hostile input', () => {
  it('answer random queries with 2xx or a 4xx in Heroic error shape', async () => {
    await fc.assert(
      fc.asyncProperty(query, async (q) => {
        const body = JSON.stringify(q);
        acceptable(await send('/query/metrics', body), body.slice(0, 300));
      }),
      { numRuns: 250, ...seed },
    );
  });

  it('answer malformed batches, deep nesting and raw bytes likewise', async () => {
    const body = fc.oneof(
      fc.record({ queries: fc.dictionary(fc.string({ maxLength: 5 }), query, { maxKeys: 3 }), range }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.nat(20_000).map((n) => `{"range":{"type":"relative","unit":"HOURS","value":1},"filter":${'["not",'.repeat(n)}["key","m"]${']'.repeat(n)}}`),
      fc.nat(5_000).map((n) => `{"range":{"type":"relative","unit":"HOURS","value":1},"aggregation":${'{"type":"group","each":'.repeat(n)}{"type":"sum"}${'}'.repeat(n)}}`),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('/query/batch', '/query/metrics'), body, async (p, b) => {
        acceptable(await send(p, b), `${p} ${b.slice(0, 200)}`);
      }),
      { numRuns: 150, ...seed },
    );
    const deepHql = await send('/parser/parse-filter', '('.repeat(50_000) + 'a = b' + ')'.repeat(50_000), 'text/plain');
    acceptable(deepHql, 'deep HQL');
    expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
  });
});
