import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MetronomeError } from '../errors.js';
import { CHECK_EVERY, Frame, MemoryPool, QueryBudget, UNMETERED, YIELD_AFTER_MS, type BudgetLimits } from './budget.js';
import { sortAsync } from './matrix.js';

const LIMITS: BudgetLimits = { maxSamples: 1000, maxBytes: 10_000, maxResultBytes: 500, timeoutMs: 60_000 };

/** A budget on a hand-driven clock (ms). */
function budget(limits: Partial<BudgetLimits> = {}, pool = new MemoryPool(1e9), outer?: AbortSignal) {
  const clock = { t: 0 };
  const b = new QueryBudget({ ...LIMITS, ...limits }, pool, outer, () => clock.t);
  return { b, clock, pool };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof MetronomeError ? e.code : String(e);
  }
  return undefined;
}

describe('QueryBudget', () => {
  it('refuses a hold past MAX_QUERY_SAMPLES or MAX_QUERY_BYTES, naming the limit, and stays failed', async () => {
    const { b } = budget();
    b.hold(999, 10);
    expect(codeOf(() => b.hold(2, 0))).toBe('MTR_QUERY_TOO_MANY_SAMPLES');
    // The first failure is the answer from then on, and it cancels ClickHouse queries.
    expect(codeOf(() => b.check())).toBe('MTR_QUERY_TOO_MANY_SAMPLES');
    expect(b.signal.aborted).toBe(true);
    await expect(b.failed).rejects.toMatchObject({ code: 'MTR_QUERY_TOO_MANY_SAMPLES' });
    b.end();

    const { b: c } = budget();
    expect(codeOf(() => c.hold(1, 10_001))).toBe('MTR_QUERY_TOO_MANY_BYTES');
    expect(codeOf(() => c.hold(0, 1))).toBe('MTR_QUERY_TOO_MANY_BYTES');
    c.end();
  });

  it('counts what is held at once: released memory can be held again', () => {
    const { b } = budget();
    for (let i = 0; i < 100; i++) {
      b.hold(900, 9000);
      b.release(900, 9000);
    }
    expect([b.samples, b.bytes, b.peakSamples, b.peakBytes]).toEqual([0, 0, 900, 9000]);
    b.end();
  });

  it('gives back everything a frame held when it closes', () => {
    const { b } = budget();
    const parent = new Frame(b);
    const child = new Frame(b);
    child.hold(500, 5000);
    parent.hold(100, 1000);
    child.close();
    expect([b.samples, b.bytes]).toEqual([100, 1000]);
    // What the child held is free again: 800 more samples fit.
    parent.hold(800, 8000);
    expect([b.samples, b.bytes]).toEqual([900, 9000]);
    b.end();
  });

  it('refuses an answer past MAX_RESULT_BYTES', () => {
    const { b } = budget();
    b.answer(400);
    expect(codeOf(() => b.answer(101))).toBe('MTR_QUERY_RESULT_TOO_LARGE');
    b.end();
  });

  it('reads the clock only every CHECK_EVERY units, asks for a yield after 5 ms and times out at the deadline', async () => {
    const { b, clock } = budget({ timeoutMs: 1000 });
    clock.t = YIELD_AFTER_MS;
    // Below CHECK_EVERY units the clock is not read: no yield asked for.
    expect(b.tick(CHECK_EVERY - 1)).toBe(false);
    expect(b.tick(1)).toBe(true);
    await b.pause();
    expect(b.tick(CHECK_EVERY)).toBe(false);
    clock.t = 1000;
    expect(codeOf(() => b.tick(CHECK_EVERY))).toBe('MTR_QUERY_TIMEOUT');
    expect(b.timedOut).toBe(true);
    expect(b.signal.aborted).toBe(true);
    b.end();
  });

  it('fails with the caller\u2019s reason when the caller aborts', () => {
    const ac = new AbortController();
    const { b } = budget({}, undefined, ac.signal);
    ac.abort(new Error('client disconnected'));
    expect(codeOf(() => b.check())).toBe('Error: client disconnected');
    expect(b.timedOut).toBe(false);
    b.end();
  });

  it('shares QUERY_MEMORY_BYTES between queries and gives a query\u2019s memory back when it ends', () => {
    const pool = new MemoryPool(15_000);
    const { b: first } = budget({}, pool);
    const { b: second } = budget({}, pool);
    first.hold(0, 9000);
    expect(codeOf(() => second.hold(0, 9000))).toBe('MTR_QUERY_MEMORY_FULL');
    expect(pool.held).toBe(9000);
    first.end();
    expect(pool.held).toBe(0);
    // A branch still unwinding after the end gives nothing back twice.
    first.release(0, 9000);
    expect(pool.held).toBe(0);
    const { b: third } = budget({}, pool);
    third.hold(0, 9000);
    expect(pool.held).toBe(9000);
    third.end();
    second.end();
    expect(pool.held).toBe(0);
  });

  it('stops work still running after the query ended', () => {
    const { b } = budget();
    b.end();
    expect(() => b.tick(CHECK_EVERY)).toThrow('query budget ended');
    expect(() => b.hold(1, 1)).toThrow('query budget ended');
  });
});

describe('sortAsync', () => {
  const seed = Number(process.env.BUDGET_SORT_SEED ?? Date.now() % 2 ** 31);

  it(`sorts as Array.sort does, stable, and yields when asked (seed ${seed}, BUDGET_SORT_SEED replays)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.nat()), { maxLength: 3000 }), fc.boolean(), async (xs, yieldEvery) => {
        let pauses = 0;
        const meter = yieldEvery ? { tick: () => true, pause: async () => void pauses++, hold: () => {} } : UNMETERED;
        const cmp = (a: [number, number], b: [number, number]) => a[0] - b[0];
        const sorted = await sortAsync(xs, cmp, meter);
        expect(sorted).toEqual(xs.slice().sort(cmp));
        if (yieldEvery && xs.length > 512) expect(pauses).toBeGreaterThan(0);
      }),
      { seed, numRuns: 200 },
    );
  });
});
