import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MetronomeError } from '../errors.js';
import { formatAnswer, formatResult } from './format.js';
import type { QueryValue } from './types.js';

/** A budget that counts the answer and never yields. */
function meter(max = Infinity) {
  const m = {
    bytes: 0,
    tick: () => false,
    pause: () => Promise.resolve(),
    answer(n: number) {
      m.bytes += n;
      if (m.bytes > max) throw new MetronomeError('MTR_QUERY_RESULT_TOO_LARGE', [max]);
    },
  };
  return m;
}

const seed = Number(process.env.FORMAT_SEED ?? Date.now() % 2 ** 31);
const value = fc.oneof(fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, 0, -0, 1e21, 5e-324));
const time = fc.integer({ min: 0, max: 4_102_444_800_000 });
const labels = fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.string({ minLength: 22_000, maxLength: 22_000 })), { maxKeys: 4 });
const queryValue: fc.Arbitrary<QueryValue> = fc.oneof(
  fc.record({ type: fc.constant('scalar' as const), t: time, v: value }),
  fc.record({ type: fc.constant('string' as const), t: time, v: fc.string({ unit: 'binary' }) }),
  fc.record({ type: fc.constant('vector' as const), samples: fc.array(fc.record({ labels, t: time, v: value }), { maxLength: 20 }) }),
  fc.record({
    type: fc.constant('matrix' as const),
    series: fc.array(
      fc.array(fc.tuple(time, value), { maxLength: 3000 }).chain((pts) => fc.record({ labels, t: fc.constant(pts.map((p) => p[0])), v: fc.constant(pts.map((p) => p[1])) })),
      { maxLength: 8 },
    ),
  }),
);

describe('formatAnswer', () => {
  it(`writes exactly the JSON of {status, data: formatResult(value)} (seed ${seed}, FORMAT_SEED replays)`, async () => {
    await fc.assert(
      fc.asyncProperty(queryValue, async (v) => {
        const m = meter();
        const body = await formatAnswer(v, m);
        expect(body.toString('utf8')).toBe(JSON.stringify({ status: 'success', data: formatResult(v) }));
        expect(m.bytes).toBe(body.length);
      }),
      { seed, numRuns: 100 },
    );
  });

  it('stops with MTR_QUERY_RESULT_TOO_LARGE once the answer passes its limit, before writing it all', async () => {
    const series = Array.from({ length: 100 }, (_, i) => ({ labels: { i: String(i) }, t: Array.from({ length: 1000 }, (_, j) => j * 1000), v: Array(1000).fill(1.5) }));
    const m = meter(200_000);
    await expect(formatAnswer({ type: 'matrix', series }, m)).rejects.toMatchObject({ code: 'MTR_QUERY_RESULT_TOO_LARGE' });
    // Counted in 64 KiB pieces: it stopped at the first piece past the limit.
    expect(m.bytes).toBeLessThan(200_000 + 64 * 1024 + 1);
  });
});
