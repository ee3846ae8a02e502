import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heroic, postJson, tempDir } from './helpers.js';
import { startServerProcess, stopServerProcess, type ServerProcess } from './server-process.js';

/**
 * Issue 10, "Every query bounded": the queries that used to exhaust the heap or run for a minute,
 * and generated nested ones, against a real server (child process, embedded ClickHouse) with
 * QUERY_TIMEOUT_MS=2000. Every answer is a 200, a 4xx naming what was wrong (422 with the code
 * of the limit), or 503 MTR_QUERY_TIMEOUT, and it comes within the timeout + 10 %; /healthz,
 * probed every 20 ms from this process while each query runs, answers within 100 ms; the
 * server's peak RSS (VmHWM) stays under 2.5 GiB; and SIGTERM still stops it cleanly. (Before,
 * count_values and quantile_over_time over this much data took 5.1 and 5.2 GB. Most of the RSS is
 * ClickHouse's: the server starts at ~360 MB, ~540 MB with this data loaded, and its JS heap stays
 * under ~150 MB; peaks measured 0.97-1.54 GiB, the higher with other suites running.)
 *
 * A probe's wall time also counts time the server was not running at all: on the shared 2-core
 * VM an idle server's /healthz took up to 201 ms once in 586 probes over 15 s, and with other
 * suites running the CPU pressure (/proc/pressure/cpu) was 60-80 %. What the server itself is
 * responsible for is the time its main thread spent on the CPU while the probe waited (from
 * /proc/<pid>/task/<pid>/stat, 10 ms ticks): a probe is slow when both its wall time and that CPU
 * time are over 100 ms, i.e. the event loop was busy with something else than answering it.
 *
 * Generated queries are seeded: QUERY_BUDGET_SEED=<n> replays a run (the seed is printed on
 * failure).
 */

const TIMEOUT_MS = 2000;
/** The answer's deadline: QUERY_TIMEOUT_MS + 10 %. */
const ANSWER_MS = TIMEOUT_MS * 1.1;
const HEALTH_MS = 100;
/**
 * The server at rest with this data (~0.5-0.75 GiB), plus what one query may hold in ClickHouse
 * (max_memory_usage = MAX_QUERY_BYTES, 1 GiB by default) before it is refused, plus the JS heap
 * and the allocator's slack. A generated `sum without (i)(max_over_time(big{group="1"}[1d]))`
 * at a 1 s step is refused at that ClickHouse limit (422 MTR_QUERY_TOO_MANY_BYTES) after the
 * peak rose by ~1 GiB, to 1.8-2.16 GiB, on this code and before the 2026-12-02 merges alike.
 */
const RSS_BOUND = 2.5 * 1024 ** 3;
const SEED = Number(process.env.QUERY_BUDGET_SEED ?? Date.now() % 2 ** 31);

let srv: ServerProcess;
let dataDir: string;
/** The data's last sample: an instant query at T sees every series. */
const T = Math.floor((Date.now() - 600_000) / 10_000) * 10_000;
const HOUR = 3_600_000;

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** CPU time the server's main thread (the event loop) has used, ms. */
function loopCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  // Fields after "(comm)": state is field 3, utime 14 and stime 15.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}

/** Peak resident set of the server process (kernel's high-water mark). */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

interface Answer {
  status: number;
  code?: string;
  error?: string;
  ms: number;
  bytes: number;
  /** /healthz probes while the query ran: wall time, and the server's event-loop CPU meanwhile. */
  health: { wall: number; cpu: number }[];
}

/** How long the server's event loop kept a probe waiting (see above). */
const stall = (p: { wall: number; cpu: number }) => Math.min(p.wall, p.cpu);

/** Run one query while probing /healthz every 20 ms. */
async function run(path: '/api/v1/query' | '/api/v1/query_range', params: Record<string, string | number>): Promise<Answer> {
  const health: Answer['health'] = [];
  let done = false;
  const probe = (async () => {
    while (!done) {
      const c0 = loopCpuMs(srv.pid);
      const t0 = performance.now();
      const r = await fetch(`${srv.url}/healthz`, { signal: AbortSignal.timeout(10_000) });
      await r.text();
      health.push({ wall: performance.now() - t0, cpu: loopCpuMs(srv.pid) - c0 });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const t0 = performance.now();
  try {
    const body = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
    const res = await fetch(`${srv.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    const ms = performance.now() - t0;
    let code: string | undefined;
    let error: string | undefined;
    if (res.status !== 200) ({ code, error } = JSON.parse(text) as { code?: string; error?: string });
    return { status: res.status, code, error, ms, bytes: text.length, health };
  } finally {
    done = true;
    await probe;
  }
}

/** The bounds every query keeps, whatever it answers. */
function bounded(a: Answer, what: string): void {
  expect(a.ms, `${what}: answered after ${a.ms.toFixed(0)} ms`).toBeLessThanOrEqual(ANSWER_MS);
  const worst = a.health.reduce((w, p) => (stall(p) > stall(w) ? p : w), { wall: 0, cpu: 0 });
  expect(stall(worst), `${what}: /healthz took ${worst.wall.toFixed(0)} ms, ${worst.cpu.toFixed(0)} ms of it the server's event loop on the CPU`).toBeLessThan(HEALTH_MS);
  expect(a.status >= 500 ? a.code : 'ok', `${what}: ${a.status} ${a.error}`).toMatch(/^(ok|MTR_QUERY_TIMEOUT|MTR_QUERY_MEMORY_FULL)$/);
  if (a.status >= 400) expect(a.error, `${what}: ${a.status} without a message`).toBeTruthy();
}

beforeAll(async () => {
  dataDir = tempDir('metronome-budget-');
  srv = await startServerProcess({ DATA_DIR: dataDir, QUERY_TIMEOUT_MS: String(TIMEOUT_MS), MAX_RESULT_BYTES: String(8 * 1024 ** 2) });
  // 32 series with a 1 KB label (the longest a client may write), and 2,000 series of one hour
  // at 10 s whose values are all distinct.
  const lr = Array.from({ length: 32 }, (_, i) => heroic('lr', { i: String(i), x: 'v'.repeat(1000) + i }, [[T, i]]));
  expect((await postJson(`${srv.url}/write`, lr)).status).toBe(200);
  // 250 series of 361 samples a request: under MAX_SAMPLES_PER_REQUEST (100,000).
  for (let part = 0; part < 8; part++) {
    const body = [];
    for (let i = part * 250; i < (part + 1) * 250; i++) {
      const pts: [number, number][] = [];
      for (let t = T - HOUR, k = 0; t <= T; t += 10_000, k++) pts.push([t, i * 1000 + k]);
      body.push(heroic('big', { i: String(i), group: String(i % 10) }, pts));
    }
    const r = await postJson(`${srv.url}/write`, body);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  }
}, 180_000);

afterAll(async () => {
  if (srv) {
    // A query-heavy run must not keep the server from stopping (it used to ignore SIGTERM).
    const code = await stopServerProcess(srv, 'SIGTERM');
    expect(code).toBe(0);
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

const nested = (depth: number, inner: string, wrap: (e: string) => string) => Array.from({ length: depth }).reduce<string>((e) => wrap(e), inner);
const instant = (query: string) => ['/api/v1/query', { query, time: T / 1000 }] as const;
const range = (query: string, stepS: number, hours = 1) => ['/api/v1/query_range', { query, start: (T - hours * HOUR) / 1000, end: T / 1000, step: stepS }] as const;

describe('queries that used to exhaust the server', () => {
  it('warms up (the first regex and the first query load code)', async () => {
    const a = await run(...instant('label_replace(lr, "y", "$1", "i", "(.*)")'));
    expect(a.status).toBe(200);
  });

  it.each([
    { what: 'label_replace "$1$1" nested 17 deep over 32 series', q: instant(nested(17, 'lr', (e) => `label_replace(${e}, "x", "$1$1", "x", "(.*)")`)), status: 422, code: 'MTR_QUERY_LABEL_TOO_LONG' },
    { what: 'label_join growing a label 12 deep', q: instant(nested(12, 'lr', (e) => `label_join(${e}, "x", "", "x", "x")`)), status: 422, code: 'MTR_QUERY_LABEL_TOO_LONG' },
    { what: 'a triple-nested [1d:1s] subquery', q: instant('max_over_time(max_over_time(max_over_time(vector(1)[1d:1s])[1d:1s])[1d:1s])'), status: 503, code: 'MTR_QUERY_TIMEOUT' },
    // 7.2 M step values, one new series per value: refused at MAX_QUERY_SAMPLES, or at the deadline
    // when the machine is too busy to get that far in 2 s.
    { what: 'count_values over 2,000 series for 1 h at 1 s', q: range('count_values("v", big)', 1), status: 422, code: 'MTR_QUERY_TOO_MANY_SAMPLES|MTR_QUERY_TIMEOUT' },
    { what: 'quantile_over_time over 2,000 series for 1 h at 1 s', q: range('quantile_over_time(0.9, big[1h])', 1), status: 503, code: 'MTR_QUERY_TIMEOUT' },
    { what: 'an answer over MAX_RESULT_BYTES (8 MiB here)', q: range('big', 10), status: 422, code: 'MTR_QUERY_RESULT_TOO_LARGE' },
  ] as const)('$what: answers $status $code in time while /healthz stays fast', async ({ what, q: [path, params], status, code }) => {
    const a = await run(path, params);
    bounded(a, what);
    expect(a.code, a.error).toMatch(new RegExp(`^(${code})$`));
    expect(a.status).toBe(a.code === 'MTR_QUERY_TIMEOUT' ? 503 : status);
    if (a.status === 503) expect(a.ms).toBeGreaterThanOrEqual(TIMEOUT_MS);
  });

  it.each([
    { what: 'count_values over few distinct values', q: range('count_values("v", big % 7)', 60) },
    { what: 'quantile_over_time over an hour, one step', q: instant('quantile_over_time(0.9, big[1h])') },
    { what: 'topk over every series', q: range('topk(5, big)', 60) },
    { what: 'a subquery at a dashboard step', q: range('max_over_time(sum by (group) (rate(big[5m]))[30m:1m])', 60) },
    { what: 'a triple-nested [1d:1s] subquery over an hour of data', q: instant('max_over_time(max_over_time(max_over_time(big{i="7"}[5m])[1d:1s])[1d:1s])') },
  ] as const)('still answers: $what', async ({ what, q: [path, params] }) => {
    const a = await run(path, params);
    bounded(a, what);
    expect(a.status, a.error).toBe(200);
  });
});

// ---- generated nested queries ----
const selector = fc.constantFrom('big', 'big{group="3"}', 'big{i=~"1.."}', 'lr', 'vector(1)', 'big{i="7"}');
const dur = fc.constantFrom('1s', '10s', '1m', '5m', '1h', '1d');
const heavy: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'medium', withCrossShrink: true },
    selector,
    fc.tuple(fc.constantFrom('rate', 'max_over_time', 'quantile_over_time(0.5,', 'count_over_time', 'mad_over_time'), tie('e'), dur, dur).map(([f, e, r, s]) =>
      f.endsWith(',') ? `${f} (${e})[${r}:${s}])` : `${f}((${e})[${r}:${s}])`,
    ),
    fc.tuple(fc.constantFrom('quantile_over_time(0.9,', 'max_over_time(', 'stddev_over_time('), fc.constantFrom('big', 'big{group="1"}'), dur).map(([f, s, r]) => `${f} ${s}[${r}])`),
    fc.tuple(fc.constantFrom('$1$1', '$1', '$1-$1-$1'), tie('e')).map(([t, e]) => `label_replace(${e}, "x", "${t}", "x", "(.*)")`),
    fc.tuple(tie('e')).map(([e]) => `label_join(${e}, "x", "-", "x", "i", "x")`),
    fc.tuple(fc.constantFrom('sum', 'count', 'max', 'stddev'), fc.constantFrom('', ' by (group)', ' without (i)'), tie('e')).map(([a, g, e]) => `${a}${g}(${e})`),
    fc.tuple(fc.constantFrom('count_values("v",', 'topk(3,', 'quantile(0.5,', 'limitk(2,'), tie('e')).map(([a, e]) => `${a} ${e})`),
    fc.tuple(tie('e'), fc.constantFrom('+', '*', '>', ' and ', ' or ', ' unless '), fc.constantFrom('', ' on (group) ', ' ignoring (i) ', ' on (group) group_left '), tie('e')).map(([a, op, m, b]) => `(${a}) ${op}${m} (${b})`),
    fc.tuple(fc.constantFrom('sort_desc', 'sort_by_label', 'abs', 'absent', 'timestamp'), tie('e')).map(([f, e]) => (f === 'sort_by_label' ? `${f}(${e}, "i")` : `${f}(${e})`)),
  ),
})).e;

describe('generated nested queries', () => {
  it('answer 200, 4xx with a message or 503 timeout, in time, with /healthz fast', async () => {
    const kinds = fc.oneof(
      heavy.map((q) => ['/api/v1/query', { query: q, time: T / 1000 }] as const),
      fc.tuple(heavy, fc.constantFrom(1, 10, 60, 300)).map(([q, s]) => ['/api/v1/query_range', { query: q, start: (T - HOUR) / 1000, end: T / 1000, step: s }] as const),
    );
    try {
      await fc.assert(
        fc.asyncProperty(kinds, async ([path, params]) => {
          const a = await run(path, params);
          bounded(a, `${path} ${JSON.stringify(params)}`);
        }),
        { seed: SEED, numRuns: Number(process.env.QUERY_BUDGET_RUNS ?? 40), endOnFailure: true },
      );
    } catch (e) {
      throw new Error(`replay with QUERY_BUDGET_SEED=${SEED}: ${(e as Error).message}`, { cause: e });
    }
  }, 600_000);
});

describe('memory', () => {
  it('kept the server under 2.5 GiB of peak RSS through all of the above (one query at its ClickHouse memory limit included)', () => {
    console.log('PEAKRSS', peakRss(srv.pid) / 2 ** 20);
    expect(peakRss(srv.pid) / 2 ** 20, `peak RSS of the server, MiB (QUERY_BUDGET_SEED=${SEED})`).toBeLessThan(RSS_BOUND / 2 ** 20);
  });
});
