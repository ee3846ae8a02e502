import type { ClickHouseClient } from '@clickhouse/client';

/**
 * CLICKHOUSE_URL as a list (issue 12): one client per server, a call going to the server that
 * answered last and, when it cannot be reached at all, to the next ones in order. Only "not
 * reachable" fails over (connection refused or reset, no route, no such host, a timeout before
 * an answer): a server that answered with an error answered, and its error is the caller's.
 * Re-sending is safe for what Metronome sends: reads, DDL written IF [NOT] EXISTS, and inserts
 * carrying their deduplication token (replicas deduplicate through Keeper).
 */
export class Failover {
  #current = 0;
  /** Calls that went to another server because one could not be reached. */
  failovers = 0;

  constructor(
    readonly clients: readonly ClickHouseClient[],
    readonly urls: readonly string[],
    private readonly onFailover: (from: string, to: string, err: unknown) => void = () => {},
  ) {
    if (clients.length === 0 || clients.length !== urls.length) throw new Error('failover needs one client per URL');
  }

  /** `fn` on the server that answered last, then the others in order while none can be reached. */
  async run<T>(fn: (client: ClickHouseClient) => Promise<T>, signal?: AbortSignal): Promise<T> {
    let last: unknown;
    for (let k = 0; k < this.clients.length; k++) {
      const i = (this.#current + k) % this.clients.length;
      try {
        const r = await fn(this.clients[i]);
        if (i !== this.#current) {
          this.failovers++;
          this.onFailover(this.urls[this.#current], this.urls[i], last);
          this.#current = i;
        }
        return r;
      } catch (e) {
        if (!unreachable(e) || signal?.aborted) throw e;
        last = e;
      }
    }
    throw last;
  }

  /** A client whose query, exec, command, insert and ping go through `run`; close closes them all. */
  client(): ClickHouseClient {
    const methods = new Set(['query', 'exec', 'command', 'insert', 'ping']);
    return new Proxy(this.clients[0], {
      get: (target, prop, receiver) => {
        if (typeof prop === 'string' && methods.has(prop)) {
          return (params: { abort_signal?: AbortSignal } | undefined) =>
            this.run((c) => (c as unknown as Record<string, (p: unknown) => Promise<unknown>>)[prop](params), params?.abort_signal);
        }
        if (prop === 'close') return async () => void (await Promise.all(this.clients.map((c) => c.close())));
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  }
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

/** Whether an error says the server could not be reached (as opposed to an answer). */
export function unreachable(e: unknown): boolean {
  for (let x = e as { code?: unknown; cause?: unknown; message?: unknown } | undefined, depth = 0; x && depth < 4; x = x.cause as typeof x, depth++) {
    if (typeof x.code === 'string' && UNREACHABLE.has(x.code)) return true;
    if (typeof x.message === 'string' && /socket hang up|connect ETIMEDOUT|Timeout error/i.test(x.message)) return true;
  }
  return false;
}

/** CLICKHOUSE_URL's servers: one URL or a comma-separated list. */
export function clickhouseUrls(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
