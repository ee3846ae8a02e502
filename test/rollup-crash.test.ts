import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { HOUR_MS } from '../server/rollups/sql.js';
import { heroic, startTestServer, tempDir, type TestServer } from './helpers.js';
import { promGet } from './promql-helpers.js';
import { startServerProcess, stopServerProcess, walReplayedPoints, type ServerProcess } from './server-process.js';

/**
 * Rollups through SIGKILLs: clients write into hours that have closed (so every flush marks
 * hours dirty and the job, running every second, keeps recomputing them) while the server is
 * killed at random moments, and re-send whatever got no answer. Afterwards the rollup answers,
 * the raw answers and the samples the clients sent must agree, before and after the job's next
 * run. ROLLUP_CRASH_SEED=<n> replays a run's timing choices (the seed is in every failure).
 */
const KILLS = 6;
const CLIENTS = 4;
const SERIES = 5;
const POINTS = 5;
const SPACING = 12_000;
const MAX_SEQ = 150; // 150 x 5 x 12 s = 2.5 h of data per series, all in closed hours
const KEY = 'crash_rollup';

const dataDir = tempDir('metronome-rollup-crash-');
let srv: TestServer | undefined;
afterAll(async () => {
  await srv?.destroy();
  rmSync(dataDir, { recursive: true, force: true });
});

const seed = Number(process.env.ROLLUP_CRASH_SEED ?? Date.now() % 100_000);
let state = seed;
const rand = (lo: number, hi: number) => {
  state = (state * 1103515245 + 12345) % 2147483648;
  return lo + (state % (hi - lo));
};

const BASE = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 4 * HOUR_MS;
const END = BASE + 3 * HOUR_MS;
const time = (seq: number, j: number) => BASE + 1000 + (seq * POINTS + j) * SPACING;
const value = (client: number, s: number, seq: number, j: number) => (client * 7 + s * 3 + seq + j) % 11;

type Matrix = { values: [number, string][] }[];

async function series(query: string, step: number, raw: boolean): Promise<number[]> {
  const r = await promGet(srv!.url, '/api/v1/query_range', { query, start: (BASE + HOUR_MS) / 1000, end: END / 1000, step: step / 1000, raw: String(raw) });
  if (r.status !== 200) throw new Error(`seed ${seed}: ${query}: ${JSON.stringify(r.body)}`);
  const m = r.body.data.result as Matrix;
  return m.length ? m[0].values.map(([, v]) => Number(v)) : [];
}

describe('rollups through kill -9 under load', () => {
  it(`agree with raw points and with what clients sent after ${KILLS} SIGKILLs (ROLLUP_CRASH_SEED replays)`, async () => {
    let server: ServerProcess | null = null;
    let ready!: Promise<string>;
    let setReady!: (url: string) => void;
    const newEpoch = () => (ready = new Promise<string>((r) => (setReady = r)));
    newEpoch();
    let generating = true;
    const sent: { client: number; seq: number }[] = [];
    let lostAnswers = 0;
    let replayed = 0;

    const body = (client: number, seq: number) =>
      JSON.stringify(
        Array.from({ length: SERIES }, (_, s) =>
          heroic(KEY, { client: String(client), s: String(s) }, Array.from({ length: POINTS }, (_, j) => [time(seq, j), value(client, s, seq, j)] as [number, number])),
        ),
      );

    const clients = Array.from({ length: CLIENTS }, async (_, client) => {
      for (let seq = 0; generating && seq < MAX_SEQ; seq++) {
        const b = body(client, seq);
        for (;;) {
          const url = await ready;
          try {
            const res = await fetch(`${url}/write`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: b });
            await res.text();
            if (res.status === 200) break;
            if (res.status !== 503 && res.status !== 429) throw new Error(`client ${client} seq ${seq}: unexpected ${res.status}`);
          } catch (e) {
            if ((e as Error).message.startsWith('client ')) throw e;
            lostAnswers++;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
        sent.push({ client, seq });
        await new Promise((r) => setTimeout(r, rand(5, 30)));
      }
    });
    const failed = Promise.all(clients).then(
      () => null,
      (e: Error) => e,
    );

    try {
      for (let round = 0; round <= KILLS; round++) {
        server = await startServerProcess({ DATA_DIR: dataDir, FLUSH_MS: String(rand(5, 60)), ROLLUP_INTERVAL: '1s', ROLLUP_LATE_ALLOWANCE: '0' });
        replayed += walReplayedPoints(server);
        setReady(server.url);
        if (round === KILLS) break;
        await new Promise((r) => setTimeout(r, rand(400, 1800)));
        newEpoch();
        server.kill('SIGKILL');
        await server.exited;
      }
      generating = false;
      const err = await failed;
      if (err) throw err;
      expect(await stopServerProcess(server!)).toBe(0);
    } catch (e) {
      if (server && server.child.exitCode === null) server.kill('SIGKILL');
      throw new Error(`seed ${seed}: ${(e as Error).message}`, { cause: e });
    }
    // The kills hit work in flight: requests without an answer, or answered writes ClickHouse
    // had not committed, which the next start replayed from the write-ahead log.
    expect(lostAnswers + replayed, `seed ${seed}`).toBeGreaterThan(0);

    // What the clients sent, each sample once: per hour, count; per 5 minutes, sum.
    const perHour = new Map<number, number>();
    const per5m = new Map<number, number>();
    for (const { client, seq } of sent) {
      for (let s = 0; s < SERIES; s++) {
        for (let j = 0; j < POINTS; j++) {
          const t = time(seq, j);
          const h = Math.ceil(t / HOUR_MS) * HOUR_MS;
          const f = Math.ceil(t / 300_000) * 300_000;
          perHour.set(h, (perHour.get(h) ?? 0) + 1);
          per5m.set(f, (per5m.get(f) ?? 0) + value(client, s, seq, j));
        }
      }
    }
    const want = (m: Map<number, number>, step: number) => {
      const out: number[] = [];
      for (let t = BASE + HOUR_MS; t <= END; t += step) if (m.has(t)) out.push(m.get(t)!);
      return out;
    };

    // The state the kills left (hours half recomputed, marks not yet taken), then after a run.
    srv = await startTestServer({ DATA_DIR: dataDir, ROLLUP_INTERVAL: '0', QUERY_CACHE_BYTES: '0', HEAD_BYTES: '0' });
    for (const phase of ['as the kills left it', 'after the job ran']) {
      if (phase === 'after the job ran') await srv.rollups.runOnce();
      const what = `seed ${seed}, ${phase}`;
      const counts = await series(`sum(count_over_time(${KEY}[1h]))`, HOUR_MS, false);
      expect(counts, `${what}: hourly counts from rollups`).toEqual(want(perHour, HOUR_MS));
      expect(await series(`sum(count_over_time(${KEY}[1h]))`, HOUR_MS, true), `${what}: hourly counts from raw`).toEqual(counts);
      const sums = await series(`sum(sum_over_time(${KEY}[5m]))`, 300_000, false);
      expect(sums, `${what}: 5 m sums from rollups`).toEqual(want(per5m, 300_000));
      expect(await series(`sum(sum_over_time(${KEY}[5m]))`, 300_000, true), `${what}: 5 m sums from raw`).toEqual(sums);
    }
  }, 300_000);
});
