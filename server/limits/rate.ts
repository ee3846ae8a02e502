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
  #nodes = 1;

  constructor(
    private readonly burstSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Cluster mode: how many live nodes share every token's rate (server/cluster/heartbeat.ts).
   * Each node then allows rate / nodes, with a burst of the same share.
   */
  get nodes(): number {
    return this.#nodes;
  }

  set nodes(n: number) {
    this.#nodes = Number.isFinite(n) && n >= 1 ? Math.floor(n) : 1;
  }

  /** 0 when `cost` may proceed now (and is charged), else the seconds to wait (nothing charged). `rate` is the token's whole rate. */
  take(key: string, whole: number, cost: number, now = this.now()): number {
    if (!(whole > 0)) return 0;
    const rate = whole / this.#nodes;
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
