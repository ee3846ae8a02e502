import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate.js';

describe('RateLimiter', () => {
  it('lets a burst through, then asks to wait as long as the debt takes to repay', () => {
    const r = new RateLimiter(2); // burst: 2 s worth
    const t = 1_000_000;
    expect(r.take('k', 10, 15, t)).toBe(0); // 20 in the bucket -> 5
    expect(r.take('k', 10, 15, t)).toBe(0); // 5 left: passes, now 10 in debt
    expect(r.take('k', 10, 1, t)).toBe(1); // debt 10 at 10/s: 1 s
    expect(r.take('k', 10, 1, t + 500)).toBe(1); // debt 5: still 1 s (rounded up)
    expect(r.take('k', 10, 1, t + 1000)).toBe(0); // repaid
  });
  it('keeps keys apart, refunds, and does nothing at rate 0', () => {
    const r = new RateLimiter(1);
    expect(r.take('a', 5, 100, 0)).toBe(0);
    expect(r.take('a', 5, 1, 0)).toBeGreaterThan(0);
    expect(r.take('b', 5, 1, 0)).toBe(0);
    r.refund('a', 100);
    expect(r.take('a', 5, 1, 0)).toBe(0);
    expect(r.take('c', 0, 1e9, 0)).toBe(0);
  });
  it('never lets the long-run rate exceed the limit', () => {
    const r = new RateLimiter(5);
    let passed = 0;
    for (let ms = 0; ms < 60_000; ms += 10) if (r.take('k', 100, 7, ms) === 0) passed += 7;
    // 60 s at 100/s plus the 500 burst, plus at most one request of overdraft.
    expect(passed).toBeLessThanOrEqual(6000 + 500 + 7);
    expect(passed).toBeGreaterThan(6000);
  });
});
