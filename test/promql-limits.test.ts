import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../server/config.js';
import { startMetronome, type Running } from '../server/start.js';
import { param, sql } from '../server/store/index.js';
import { tempDir, wrapStore } from './helpers.js';
import { baseTime, loadSeries, promGet } from './promql-helpers.js';

/**
 * The engine's protections: QUERY_TIMEOUT_MS (and the API's timeout) answer 503 and stop the
 * ClickHouse query, MAX_SERIES, MAX_CONCURRENT_QUERIES with a short queue. The real store is
 * wrapped (never replaced): while `slow.ms` is set, each leaf query first runs a real ClickHouse
 * query that takes that long, with the settings and the signal the engine gave the leaf.
 */
let running: Running;
/** How each slow ClickHouse query ended by itself: its error (null when it ran to the end) and how long it ran. */
interface Ended {
  error: string | null;
  ms: number;
}
const slow = { ms: 0, aborted: 0, started: 0, ended: [] as Promise<Ended>[] };
/** What the server logged at warn and above (JSON lines). */
const logged: { level: number; msg: string }[] = [];

/** Rows of ROW_MS each, one row a block, so ClickHouse checks max_execution_time between them. */
const ROW_MS = 50;

const slowStore = wrapStore({
  query: async (real, q, opts = {}) => {
    if (slow.ms > 0) {
      slow.started++;
      const t0 = Date.now();
      // Run to its own end, without the caller's signal: the embedded store cannot cancel a
      // running native query, so what must stop it is the engine's max_execution_time.
      const ended = real(sql`SELECT sum(sleepEachRow(${param('Float64', ROW_MS / 1000)})) AS s FROM numbers(${param('UInt64', Math.ceil(slow.ms / ROW_MS))})`, {
        settings: { ...opts.settings, max_block_size: 1 },
      }).then(
        () => ({ error: null, ms: Date.now() - t0 }),
        (e: Error) => ({ error: e.message, ms: Date.now() - t0 }),
      );
      slow.ended.push(ended);
      await new Promise<void>((resolve, reject) => {
        void ended.then(() => resolve());
        opts.signal?.addEventListener('abort', () => {
          slow.aborted++;
          reject(opts.signal!.reason);
        });
      });
    }
    return real(q, opts);
  },
});

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
  it('answers 503 timeout at QUERY_TIMEOUT_MS, and ClickHouse stops the slow query itself', async () => {
    slow.ms = 20_000;
    slow.aborted = 0;
    slow.ended = [];
    try {
      const t0 = Date.now();
      const r = await q('m{i="1"}');
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ errorType: 'timeout', code: 'MTR_QUERY_TIMEOUT' });
      expect(r.body.error).toContain('3000 ms');
      expect(Date.now() - t0).toBeLessThan(10_000);
      // The engine's signal reached the store call...
      expect(slow.aborted).toBeGreaterThan(0);
      // ...and the 20 s ClickHouse query was stopped by ClickHouse at the query's 3 s.
      expect(slow.ended).toHaveLength(1);
      const ended = await slow.ended[0];
      expect(ended.error).toMatch(/Timeout exceeded: elapsed [\d.]+ ms, maximum: 3000 ms/);
      expect(ended.ms).toBeLessThan(10_000);
    } finally {
      slow.ms = 0;
    }
  });

  it('honours a tighter timeout parameter, down to ClickHouse\'s whole second', async () => {
    slow.ms = 20_000;
    slow.ended = [];
    try {
      const r = await q('m{i="1"}', { timeout: '50ms' });
      expect(r.status).toBe(503);
      expect(r.body.error).toContain('50 ms');
      // max_execution_time counts whole seconds: a ClickHouse query the leaf started stops at 1 s
      // (under load the 50 ms may pass before any starts).
      for (const ended of await Promise.all(slow.ended)) expect(ended.error).toMatch(/maximum: 1000 ms/);
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
    slow.ended = [];
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
      // ClickHouse stopped the abandoned query at max_execution_time (it holds the embedded
      // store's read session until then).
      for (const ended of await Promise.all(slow.ended)) expect(ended.error).toMatch(/Timeout exceeded/);
      expect(logged.filter((l) => l.level >= 50)).toEqual([]);
    } finally {
      slow.ms = 0;
    }
  });
});

describe('MAX_CONCURRENT_QUERIES', () => {
  it('queues a query beyond the limit for QUERY_QUEUE_MS, then answers 503 overloaded, and frees the slot after', async () => {
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
