/**
 * The store as the rest of the server sees it (wrapped once in start.ts): insert outcomes feed
 * readiness, and failed queries are classified for clients (503 when the store does not answer,
 * 400 when only the input can be at fault).
 */
import { MetronomeError } from './errors.js';
import type { QueryOptions, Store } from './store/index.js';

/** How long after its last failure the store still counts as failing (with no success since). */
const WINDOW_MS = 15_000;

/**
 * Readiness fed by the store's recent inserts: a failing insert (the points, the series, alert
 * state) marks the store failing until an insert succeeds or WINDOW_MS pass without another
 * failure, so /readyz reports an outage that a ping misses (the engine answers, inserts fail)
 * and clears by itself once storage is back, even when no traffic arrives to prove it.
 * Queries are not counted: a bad user query fails in ClickHouse without saying anything about
 * the store's health.
 */
export class StoreHealth {
  #since = 0;
  #last = 0;
  #count = 0;
  #error = '';

  constructor(private readonly windowMs = WINDOW_MS) {}

  succeeded(): void {
    this.#since = 0;
    this.#count = 0;
  }

  failed(err: unknown): void {
    const now = Date.now();
    if (!this.#since || now - this.#last > this.windowMs) {
      this.#since = now;
      this.#count = 0;
    }
    this.#last = now;
    this.#count++;
    this.#error = err instanceof Error ? err.message.split('\n')[0].slice(0, 200) : String(err);
  }

  /** A sentence describing the current failure, or null when inserts are healthy. */
  problem(now = Date.now()): string | null {
    if (!this.#since || now - this.#last > this.windowMs) return null;
    return `${this.#count} failed insert(s) since ${new Date(this.#since).toISOString()}; last: ${this.#error}`;
  }
}

const INSERTS = new Set(['insertPoints', 'insertSeries', 'insertRows']);
const READS = new Set(['query', 'command']);

/**
 * The ClickHouse error code of a failed store call (159 TIMEOUT_EXCEEDED, 427 CANNOT_COMPILE_REGEXP),
 * 0 when ClickHouse raised it but its code cannot be read, null when ClickHouse did not raise it.
 * The remote client's ClickHouseError carries `code` as text; chdb says it only in the message
 * ("Code: 159. DB::Exception: ..."), so this is the one place a store error's text is read.
 */
export function clickHouseCode(e: unknown): number | null {
  if (!(e instanceof Error)) return null;
  const field = (e as { code?: unknown }).code;
  if (typeof field === 'string' && /^\d+$/.test(field)) return Number(field);
  const m = /Code: (\d+)/.exec(e.message);
  if (m) return Number(m[1]);
  return typeof (e as { type?: unknown }).type === 'string' ? 0 : null;
}

/** An error ClickHouse raised about the statement (it carries a code), as opposed to not answering. */
function fromClickHouse(e: unknown): boolean {
  return clickHouseCode(e) !== null;
}

/** Network failures: the store did not answer (remote ClickHouse down, restarting, unreachable). */
const UNREACHABLE = /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN)\b|socket hang up|other side closed/i;

function unreachable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as NodeJS.ErrnoException).code ?? (e.cause as NodeJS.ErrnoException | undefined)?.code ?? '';
  return UNREACHABLE.test(code) || UNREACHABLE.test(e.message);
}

/**
 * ClickHouse errors only a client's input can cause (the statement's shape: a filter nested
 * 10,000 deep, a regex RE2 rejects): a 400 naming the problem, from whichever route sent it.
 */
function inputError(e: unknown): MetronomeError | null {
  if (!(e instanceof Error)) return null;
  const code = clickHouseCode(e);
  if (code === 167 || code === 168 || code === 306) return new MetronomeError('MTR_INPUT_TOO_DEEP', [], { cause: e });
  if (code === 427) {
    const re = /cannot compile re2: (.*?), error: ([^.]*)/.exec(e.message);
    return new MetronomeError('MTR_INVALID_REGEX', [re ? `${re[1]}: ${re[2]}` : e.message.split('\n')[0].slice(0, 200)], { cause: e });
  }
  return null;
}

/**
 * The store, with every insert's outcome reported to `health`, and failed queries classified:
 * the store not answering (connection refused, reset) becomes a retryable 503
 * (MTR_STORE_UNAVAILABLE) instead of an internal error; ClickHouse errors only bad input can
 * cause become a 400. Other errors and cancelled queries pass through unchanged.
 */
export function trackStore(store: Store, health: StoreHealth): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      if (typeof prop === 'string' && READS.has(prop)) {
        return async (q: unknown, opts?: QueryOptions) => {
          try {
            return await (v as (...a: unknown[]) => Promise<unknown>).call(target, q, opts);
          } catch (e) {
            if (e instanceof MetronomeError || opts?.signal?.aborted) throw e;
            const bad = inputError(e);
            if (bad) throw bad;
            if (!fromClickHouse(e) && unreachable(e)) throw new MetronomeError('MTR_STORE_UNAVAILABLE', [], { cause: e, headers: { 'retry-after': '1' } });
            throw e;
          }
        };
      }
      if (typeof prop !== 'string' || !INSERTS.has(prop)) return v.bind(target);
      return async (...args: unknown[]) => {
        try {
          const r = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          health.succeeded();
          return r;
        } catch (e) {
          health.failed(e);
          throw e;
        }
      };
    },
  });
}
