/**
 * Where a dashboard query's time goes inside Metronome: the bench/dashboard.ts data set loaded
 * through the store (in process, no HTTP), then each panel query run through the engine with
 * the store wrapped to time every ClickHouse call. Per query: the engine's total, the wall time
 * spent waiting on the store (overlapping calls counted once), the number of store calls, and
 * the Prometheus JSON formatting; the rest is evaluation in TypeScript. The store time is split
 * as the store reports it (QueryOptions.onRead): waiting for the read session, ClickHouse's own
 * elapsed time, the rest of chdb's call (binding, result copy), and decoding. Each captured SQL
 * is run once more on a second chdb session for the result's size (and --sql prints it).
 *
 *   npx tsx bench/query-profile.ts                 # every query, 3 runs, median
 *   npx tsx bench/query-profile.ts --only "sum(up)" --sql   # print each SQL too
 *   npx tsx bench/query-profile.ts --head          # with the head of recent points, as the server runs
 *
 * Prints a table and one JSON line prefixed "RESULT ".
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { seriesId } from '../ingest/series-id.js';
import { Engine } from '../server/promql/engine.js';
import { formatResult } from '../server/promql/format.js';
import { QUERY_SETTINGS } from '../server/promql/sql.js';
import { rollUpClosedHours } from '../server/rollups/job.js';
import { EmbeddedStore } from '../server/store/embedded.js';
import { migrate } from '../server/store/migrate.js';
import { compile, type Sql } from '../server/store/sql.js';
import type { QueryOptions, ReadTiming, Store } from '../server/store/store.js';
import { generate, QUERIES } from './dashboard.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    only: { type: 'string' },
    sql: { type: 'boolean', default: false },
    /** Load into (or reuse) this directory instead of a temporary one. */
    dir: { type: 'string' },
    /** Keep the head of recent points, as the server does (server/store/head.ts): leaves skip ClickHouse. */
    head: { type: 'boolean', default: false },
  },
});

const HOUR = 3_600_000;
const chdb = createRequire(import.meta.url)('chdb') as typeof import('chdb');

interface Call {
  sql: Sql;
  opts?: QueryOptions;
  t0: number;
  t1: number;
  read?: ReadTiming;
}

/** The real store with every query timed (a wrapper, never a fake). */
function timed(store: Store, calls: Call[]): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop !== 'query') {
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      }
      return async (q: Sql, opts?: QueryOptions) => {
        const call: Call = { sql: q, opts, t0: performance.now(), t1: 0 };
        try {
          return await target.query(q, { ...opts, onRead: (r) => (call.read = r) });
        } finally {
          call.t1 = performance.now();
          calls.push(call);
        }
      };
    },
  });
}

/** Wall time covered by a set of intervals (overlaps counted once). */
function covered(calls: Call[]): number {
  const s = [...calls].sort((a, b) => a.t0 - b.t0);
  let total = 0;
  let end = -Infinity;
  for (const c of s) {
    if (c.t1 <= end) continue;
    total += c.t1 - Math.max(c.t0, end);
    end = c.t1;
  }
  return total;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The data set through the store, as the writer would store it (series rows, then points). */
async function load(store: EmbeddedStore, end: number): Promise<void> {
  const series = generate(Number(args.seed), end - 6 * HOUR, end);
  const rows = series.map((s) => ({ seriesId: seriesId(s.key, s.tags), key: s.key, tags: s.tags, service: s.tags.job ?? '', firstSeen: s.timestamps[0], lastSeen: s.timestamps.at(-1)! }));
  await store.insertSeries(rows);
  for (let i = 0; i < series.length; i += 50) {
    const chunk = series.slice(i, i + 50);
    const n = chunk.reduce((a, s) => a + s.timestamps.length, 0);
    const cols = { length: n, seriesId: new BigInt64Array(n), ts: new Float64Array(n), value: new Float64Array(n) };
    let k = 0;
    chunk.forEach((s, j) => {
      const id = BigInt.asIntN(64, BigInt(rows[i + j].seriesId));
      for (let x = 0; x < s.timestamps.length; x++, k++) {
        cols.seriesId[k] = id;
        cols.ts[k] = s.timestamps[x];
        cols.value[k] = s.values[x];
      }
    });
    await store.insertPoints(cols, `profile-${i}`);
  }
}

async function main(): Promise<void> {
  const runs = Number(args.runs);
  let end = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
  const dir = args.dir ?? mkdtempSync(join(tmpdir(), 'metronome-query-profile-'));
  const reuse = args.dir !== undefined && existsSync(join(dir, 'profile.json'));
  const store = new EmbeddedStore(dir, args.head ? { maxBytes: 256 * 1024 ** 2, windowMs: 24 * HOUR } : undefined);
  try {
    await migrate(store);
    await store.openHead();
    await store.headLoaded;
    if (reuse) end = JSON.parse(readFileSync(join(dir, 'profile.json'), 'utf8')).end;
    else await load(store, end);
    await rollUpClosedHours(store); // rollups are made by the job since migration 007 (a reused data set may predate it)
    if (args.dir) writeFileSync(join(dir, 'profile.json'), JSON.stringify({ end }));
    const start = end - 5.5 * HOUR;
    const calls: Call[] = [];
    const engine = new Engine(timed(store, calls));
    const side = new chdb.Session(dir);
    // Settings stick to a chdb session (ChdbConnection sends them as SET statements too).
    for (const [k, v] of Object.entries({ ...QUERY_SETTINGS, output_format_json_quote_64bit_integers: 1 })) await side.queryAsync(`SET ${k} = ${v}`);
    const out: { query: string; totalMs: number; storeWallMs: number; evalMs: number; formatMs: number; calls: number; clickhouseMs: number; queuedMs: number; chdbMs: number; decodeMs: number; sideClickhouseMs: number; resultKiB: number }[] = [];
    for (const q of QUERIES.filter((x) => !args.only || x.includes(args.only))) {
      const totals: number[] = [];
      const storeWall: number[] = [];
      /** Per run, summed over its reads: queued, chdb's call less ClickHouse's elapsed, ClickHouse's elapsed, decoding. */
      const split: { queued: number[]; native: number[]; ch: number[]; decode: number[] } = { queued: [], native: [], ch: [], decode: [] };
      const formats: number[] = [];
      let last: Call[] = [];
      for (let r = 0; r <= runs; r++) {
        calls.length = 0;
        const t0 = performance.now();
        const v = await engine.range(q, start, end, 60_000);
        const t1 = performance.now();
        JSON.stringify({ status: 'success', data: formatResult(v) });
        const t2 = performance.now();
        if (r === 0) continue; // warm-up
        totals.push(t2 - t0);
        formats.push(t2 - t1);
        storeWall.push(covered(calls));
        const sum = (f: (r: ReadTiming) => number) => calls.reduce((a, c) => a + (c.read ? f(c.read) : 0), 0);
        split.queued.push(sum((r) => r.queuedMs));
        split.native.push(sum((r) => r.nativeMs - r.clickhouseMs));
        split.ch.push(sum((r) => r.clickhouseMs));
        split.decode.push(sum((r) => r.decodeMs));
        last = [...calls];
      }
      // ClickHouse's own time and the result size of each call, on a second session.
      let chMs = 0;
      let bytes = 0;
      for (const c of last) {
        const { sql, params } = compile(c.sql);
        const res = await side.queryBindAsync(sql, params, { format: 'JSONEachRow' });
        chMs += res.elapsed * 1000;
        bytes += res.bytes().length;
        if (args.sql) console.log(`  ${(res.elapsed * 1000).toFixed(1)} ms ${res.bytes().length} B  ${sql.replace(/\s+/g, ' ')}`);
      }
      const row = {
        query: q,
        totalMs: +median(totals).toFixed(1),
        storeWallMs: +median(storeWall).toFixed(1),
        evalMs: +(median(totals) - median(storeWall) - median(formats)).toFixed(1),
        formatMs: +median(formats).toFixed(1),
        calls: last.length,
        clickhouseMs: +median(split.ch).toFixed(1),
        queuedMs: +median(split.queued).toFixed(1),
        chdbMs: +median(split.native).toFixed(1),
        decodeMs: +median(split.decode).toFixed(1),
        sideClickhouseMs: +chMs.toFixed(1),
        resultKiB: +(bytes / 1024).toFixed(1),
      };
      out.push(row);
      const f = (x: number, w = 7) => x.toFixed(1).padStart(w);
      console.log(
        `${f(row.totalMs)} ${f(row.storeWallMs)} ${f(row.clickhouseMs)} ${f(row.chdbMs, 6)} ${f(row.queuedMs, 6)} ${f(row.decodeMs, 6)} ${f(row.evalMs, 6)} ${f(row.formatMs, 6)} ${String(row.calls).padStart(5)} ${row.resultKiB.toFixed(0).padStart(6)}  ${q}`,
      );
    }
    side.close();
    const sum = (k: keyof (typeof out)[number]) => +out.reduce((a, r) => a + (r[k] as number), 0).toFixed(1);
    const totals = {
      totalMs: sum('totalMs'),
      storeWallMs: sum('storeWallMs'),
      clickhouseMs: sum('clickhouseMs'),
      chdbMs: sum('chdbMs'),
      queuedMs: sum('queuedMs'),
      decodeMs: sum('decodeMs'),
      evalMs: sum('evalMs'),
      formatMs: sum('formatMs'),
      calls: sum('calls'),
    };
    console.log(
      `(columns, ms: total, store wall, ClickHouse's elapsed, chdb's call beyond it, queued for the read session, decoding, evaluation, JSON; store calls; result KiB. Medians over runs, summed over a run's calls)`,
    );
    console.log(`sums: ${JSON.stringify(totals)}; load average ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
    console.log(`RESULT ${JSON.stringify({ bench: 'query-profile', runs, totals, rows: out })}`);
  } finally {
    await store.close();
    if (!args.dir) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
