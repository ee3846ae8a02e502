import type { MetricMeta, Sample } from './metrics.js';
import { compress, encodeWriteRequest, REMOTE_WRITE_HEADERS } from './remote-write.js';

/**
 * Sends collected samples to Metronome without ever blocking or failing the application:
 * - a bounded buffer: above `maxBufferedSamples` the oldest samples are dropped (and counted).
 *   Counters and histograms are cumulative, so a dropped collection loses resolution, not counts:
 *   the next one carries the totals;
 * - batching: one request carries up to `maxSamplesPerSend` samples;
 * - one request in flight; a failure that can succeed later (network error, 429, 5xx) is retried
 *   with exponential backoff and full jitter, or after the server's Retry-After; a refusal that
 *   cannot (any other 4xx) drops the batch and is remembered in `stats.lastError`.
 * Every timer goes through an injected clock and every request through an injected transport,
 * so tests drive it without sleeping.
 */

export interface Clock {
  now(): number;
  setTimeout(fn: () => unknown, ms: number): object;
  clearTimeout(handle: object): void;
}

/** Wall-clock time and Node timers that never keep the process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(() => void fn(), Math.max(0, ms));
    t.unref?.();
    return t;
  },
  clearTimeout(h) {
    clearTimeout(h as NodeJS.Timeout);
  },
};

export interface TransportResponse {
  status: number;
  /** Retry-After in seconds, when the server sent one. */
  retryAfter?: number;
  body?: string;
}

/** Sends one request body; rejects on network errors. */
export type Transport = (body: Uint8Array, headers: Record<string, string>) => Promise<TransportResponse>;

export interface PusherOptions {
  transport: Transport;
  clock?: Clock;
  maxBufferedSamples?: number;
  maxSamplesPerSend?: number;
  /** First retry delay; doubles per attempt up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** [0, 1): jitter source (tests pass a seeded one). */
  random?: () => number;
  /** Called once per distinct problem (not per retry), e.g. to log it. */
  onError?: (message: string) => void;
}

export interface PusherStats {
  sentSamples: number;
  sentRequests: number;
  droppedSamples: number;
  failedRequests: number;
  buffered: number;
  lastError: string | null;
}

interface Queued {
  sample: Sample;
  timestamp: number;
}

export class Pusher {
  readonly #o: Required<Omit<PusherOptions, 'onError'>> & Pick<PusherOptions, 'onError'>;
  #queue: Queued[] = [];
  #head = 0;
  #metadata: MetricMeta[] = [];
  #metadataSent = false;
  #inFlight: Promise<void> | null = null;
  #retryTimer: object | null = null;
  #attempt = 0;
  #closed = false;
  readonly stats: PusherStats = { sentSamples: 0, sentRequests: 0, droppedSamples: 0, failedRequests: 0, buffered: 0, lastError: null };

  constructor(opts: PusherOptions) {
    this.#o = {
      clock: systemClock,
      maxBufferedSamples: 100_000,
      maxSamplesPerSend: 2_000,
      minBackoffMs: 500,
      maxBackoffMs: 30_000,
      random: Math.random,
      ...opts,
    };
  }

  /** Metadata (types and help) to send with the next request; sent again after a server refusal. */
  setMetadata(meta: MetricMeta[]): void {
    this.#metadata = meta;
    this.#metadataSent = false;
  }

  /** Queue samples taken at `timestamp` and start sending. Never throws, never waits. */
  enqueue(samples: readonly Sample[], timestamp: number): void {
    if (this.#closed) return;
    for (const sample of samples) this.#queue.push({ sample, timestamp });
    const over = this.#queue.length - this.#head - this.#o.maxBufferedSamples;
    if (over > 0) {
      this.#head += over;
      this.stats.droppedSamples += over;
      this.#report(`buffer full (${this.#o.maxBufferedSamples} samples): dropped the oldest`);
    }
    this.#compact();
    this.stats.buffered = this.#queue.length - this.#head;
    this.kick();
  }

  /** Send what is queued unless a request or a retry is already pending. */
  kick(): void {
    if (this.#inFlight || this.#retryTimer || this.#head >= this.#queue.length) return;
    this.#inFlight = this.#sendOne().finally(() => {
      this.#inFlight = null;
      // More queued (a full batch sent, or samples that came in meanwhile): next request.
      this.kick();
    });
  }

  /** Send everything queued now (retries included) or give up at `deadlineMs` from now. */
  async flush(deadlineMs = 5_000): Promise<void> {
    const until = this.#o.clock.now() + deadlineMs;
    while (this.#head < this.#queue.length && this.#o.clock.now() < until) {
      if (this.#retryTimer) {
        this.#o.clock.clearTimeout(this.#retryTimer);
        this.#retryTimer = null;
      }
      this.kick();
      await this.#inFlight;
      if (this.#retryTimer) break; // the server refuses for now; do not spin
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#retryTimer) this.#o.clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }

  async #sendOne(): Promise<void> {
    const end = Math.min(this.#queue.length, this.#head + this.#o.maxSamplesPerSend);
    const batch = this.#queue.slice(this.#head, end);
    const meta = this.#metadataSent ? [] : this.#metadata;
    let body: Uint8Array;
    try {
      body = compress(encodeWriteRequest(batch, meta));
    } catch (e) {
      this.#drop(end, `encoding failed: ${(e as Error).message}`);
      return;
    }
    let res: TransportResponse;
    try {
      res = await this.#o.transport(body, { ...REMOTE_WRITE_HEADERS });
    } catch (e) {
      this.#retry(`push failed: ${(e as Error).message}`);
      return;
    }
    if (res.status >= 200 && res.status < 300) {
      this.#head = end;
      this.#compact();
      this.#attempt = 0;
      if (meta.length) this.#metadataSent = true;
      this.stats.sentSamples += batch.length;
      this.stats.sentRequests++;
      this.stats.buffered = this.#queue.length - this.#head;
      this.stats.lastError = null;
      return;
    }
    const why = `push answered ${res.status}${res.body ? `: ${res.body.slice(0, 300)}` : ''}`;
    if (res.status === 429 || res.status >= 500) this.#retry(why, res.retryAfter);
    else this.#drop(end, why);
  }

  #drop(end: number, why: string): void {
    this.stats.failedRequests++;
    this.stats.droppedSamples += end - this.#head;
    this.#head = end;
    this.#compact();
    this.stats.buffered = this.#queue.length - this.#head;
    this.#metadataSent = false;
    this.#report(why);
  }

  #retry(why: string, retryAfterSec?: number): void {
    this.stats.failedRequests++;
    this.#report(why);
    if (this.#closed) return;
    // "Equal jitter" (AWS architecture blog, "Exponential Backoff And Jitter"): half the delay
    // fixed, half random, so instances failing together do not retry together.
    const cap = Math.min(this.#o.maxBackoffMs, this.#o.minBackoffMs * 2 ** this.#attempt);
    this.#attempt++;
    const delay = retryAfterSec !== undefined && retryAfterSec >= 0 ? Math.min(retryAfterSec * 1000, this.#o.maxBackoffMs) : cap / 2 + (cap / 2) * this.#o.random();
    this.#retryTimer = this.#o.clock.setTimeout(() => {
      this.#retryTimer = null;
      this.kick();
    }, delay);
  }

  /** Whether a retry is scheduled. */
  get retrying(): boolean {
    return this.#retryTimer !== null;
  }

  #report(message: string): void {
    if (this.stats.lastError === message) return;
    this.stats.lastError = message;
    this.#o.onError?.(message);
  }

  // Drop sent entries from the array once they are most of it (amortised O(1) per sample).
  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
