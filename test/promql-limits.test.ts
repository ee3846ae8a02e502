import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../server/config.js';
import { startMetronome, type Running } from '../server/start.js';
import type { Store } from '../server/store/index.js';
import { tempDir } from './helpers.js';
import { baseTime, loadSeries, promGet } from './promql-helpers.js';

/**
 * The engine's protections: QUERY_TIMEOUT_MS (and the API's timeout) cancel the ClickHouse
 * query, MAX_SERIES, MAX_CONCURRENT_QUERIES with a short queue. The real store is wrapped to
 * make its queries slow on demand (never replaced).
 */
let running: Running;
const slow = { ms: 0, aborted: 0, started: 0 };
/** What the server logged at warn and above (JSON lines). */
const logged: { level: number; msg: string }[] = [];

function slowStore(store: Store): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop !== 'query') {
        // Private fields need the real object as `this`.
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      }
      return async (q: Parameters<Store['query']>[0], opts: Parameters<Store['query']>[1] = {}) => {
        if (slow.ms > 0) {
          slow.started++;
          await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(resolve, slow.ms);
            opts.signal?.addEventListener('abort', () => {
              clearTimeout(timer);
              slow.aborted++;
              reject(opts.signal!.reason);
            });
          });
        }
        return target.query(q, opts);
      };
    },
  });
}

const B = baseTime();
const T = B + 600_000;

beforeAll(async () => {
  const config = loadConfig({
    PORT: '0',
    LOG_LEVEL: 'silent',
    DEMO: '0',
    DATA_DIR: tempDir(),
    QUERY_TIMEOUT_MS: '3000',
    // Leaves must run in ClickHouse, which the slow store delays: no head of recent points.
    HEAD_BYTES: '0',
    MAX_SERIES: '2',
    MAX_CONCURRENT_QUERIES: '1',
    QUERY_QUEUE_MS: '100',
    MAX_QUERY_SAMPLES: '100',
  });
  const sink = { write: (line: string) => void logged.push(JSON.parse(line)) };
  running = await startMetronome(config, pino({ level: 'warn' }, sink), { wrapStore: slowStore });
  await loadSeries(running.ctx.store, [
    { labels: { __name__: 'm', i: '1' }, samples: [[T - 1000, 1]] },
    { labels: { __name__: 'm', i: '2' }, samples: [[T - 1000, 2]] },
    { labels: { __name__: 'm', i: '3' }, samples: [[T - 1000, 3]] },
  ]);
});
afterAll(async () => {
  await running?.close();
});

const q = (query: string, extra: Record<string, string | number> = {}) => promGet(running.url, '/api/v1/query', { query, time: T / 1000, ...extra });

describe('MAX_SERIES', () => {
  it('refuses a selector matching more series, naming the limit', async () => {
    const r = await q('m');
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({ status: 'error', errorType: 'execution', code: 'MTR_QUERY_TOO_MANY_SERIES' });
    expect(r.body.error).toContain('MAX_SERIES');
  });

  it('applies to aggregations computed in ClickHouse too', async () => {
    expect((await q('sum(m)')).body.code).toBe('MTR_QUERY_TOO_MANY_SERIES');
  });

  it('lets a narrower selector through', async () => {
    const r = await q('m{i=~"1|2"}');
    expect(r.status).toBe(200);
    expect(r.body.data.result).toHaveLength(2);
  });
});

describe('MAX_QUERY_SAMPLES', () => {
  it('refuses a query that would hold more step values in memory', async () => {
    const ok = await promGet(running.url, '/api/v1/query_range', { query: 'm{i="1"}', start: (T - 60_000) / 1000, end: T / 1000, step: 1 });
    expect(ok.status).toBe(200);
    const r = await promGet(running.url, '/api/v1/query_range', { query: 'm{i="1"}', start: (T - 200_000) / 1000, end: T / 1000, step: 1 });
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('MTR_QUERY_TOO_MANY_SAMPLES');
    expect(r.body.error).toContain('MAX_QUERY_SAMPLES');
  });
});

describe('QUERY_TIMEOUT_MS', () => {
  it('cancels a slow query, ClickHouse query included, with 503 timeout', async () => {
    slow.ms = 20_000;
    slow.aborted = 0;
    try {
      const t0 = Date.now();
      const r = await q('m{i="1"}');
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ errorType: 'timeout', code: 'MTR_QUERY_TIMEOUT' });
      expect(r.body.error).toContain('3000 ms');
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(slow.aborted).toBeGreaterThan(0);
    } finally {
      slow.ms = 0;
    }
  });

  it('honours a tighter timeout parameter', async () => {
    slow.ms = 20_000;
    try {
      const r = await q('m{i="1"}', { timeout: '50ms' });
      expect(r.status).toBe(503);
      expect(r.body.error).toContain('50 ms');
    } finally {
      slow.ms = 0;
    }
  });
});

describe('a client that goes away', () => {
  it('cancels its query without logging a server error', async () => {
    slow.ms = 20_000;
    slow.aborted = 0;
    slow.started = 0;
    logged.length = 0;
    const ac = new AbortController();
    const url = `${running.url}/api/v1/query?query=${encodeURIComponent('m{i="1"}')}&time=${T / 1000}`;
    const pending = fetch(url, { signal: ac.signal }).catch(() => 'aborted');
    try {
      // Bounded waits for what the server does, not for time to pass.
      for (let i = 0; i < 200 && slow.started === 0; i++) await new Promise((r) => setTimeout(r, 25));
      expect(slow.started).toBeGreaterThan(0);
      ac.abort();
      expect(await pending).toBe('aborted');
      for (let i = 0; i < 200 && slow.aborted === 0; i++) await new Promise((r) => setTimeout(r, 25));
      expect(slow.aborted).toBeGreaterThan(0);
      await new Promise((r) => setImmediate(r));
      expect(logged.filter((l) => l.level >= 50)).toEqual([]);
    } finally {
      slow.ms = 0;
    }
  });
});

describe('MAX_CONCURRENT_QUERIES', () => {
  it('queues briefly, then answers 503 overloaded', async () => {
    slow.ms = 1000;
    try {
      const results = await Promise.all([q('m{i="1"}'), q('m{i="2"}'), q('m{i="3"}')]);
      const codes = results.map((r) => r.status).sort();
      // One runs (1 s per store query, under the 3 s timeout); the others wait 100 ms.
      expect(codes).toEqual([200, 503, 503]);
      const busy = results.find((r) => r.status === 503)!;
      expect(busy.body.code).toBe('MTR_QUERY_OVERLOADED');
      expect(busy.body.error).toContain('MAX_CONCURRENT_QUERIES=1');
    } finally {
      slow.ms = 0;
    }
    // Slots are released: the next query runs.
    expect((await q('m{i="1"}')).status).toBe(200);
  });
});
