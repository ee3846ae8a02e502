/**
 * Token buckets keyed by client (the token's name): `rate` per second, holding at most
 * `rate * burstSeconds`. A request is let through while the bucket is not in debt and then pays
 * its whole cost, so one request larger than the bucket still passes when the bucket is full and
 * the long-run rate holds; the debt tells the client when to come back (Retry-After).
 */
interface Bucket {
  level: number;
  at: number;
}

export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();

  /** `clock`: Unix milliseconds (tests pass a manual clock's). */
  constructor(
    private readonly burstSeconds: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** 0 when `cost` may proceed now (and is charged), else the seconds to wait (nothing charged). */
  take(key: string, rate: number, cost: number, now = this.clock()): number {
    if (!(rate > 0)) return 0;
    const cap = Math.max(rate * this.burstSeconds, 1);
    let b = this.#buckets.get(key);
    if (!b) {
      // Bounded: clients are named tokens (few); idle full buckets are dropped when it grows.
      if (this.#buckets.size >= 10_000) this.#sweep(now, rate);
      b = { level: cap, at: now };
      this.#buckets.set(key, b);
    }
    b.level = Math.min(cap, b.level + ((now - b.at) / 1000) * rate);
    b.at = now;
    if (b.level < 0) return Math.max(1, Math.ceil(-b.level / rate));
    b.level -= cost;
    return 0;
  }

  /** Give back what `take` charged (the request was refused for another reason). */
  refund(key: string, cost: number): void {
    const b = this.#buckets.get(key);
    if (b) b.level += cost;
  }

  #sweep(now: number, rate: number): void {
    for (const [k, b] of this.#buckets) if (b.level + ((now - b.at) / 1000) * rate >= rate * this.burstSeconds) this.#buckets.delete(k);
  }
}
