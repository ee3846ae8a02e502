import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { seriesId } from '../ingest/series-id.js';
import { EmbeddedStore } from '../server/store/embedded.js';
import { param, sql } from '../server/store/index.js';
import { heroic, tempDir } from './helpers.js';
import { startServerProcess, stopServerProcess, walReplayedPoints, type ServerProcess } from './server-process.js';

/**
 * Crash safety: clients ingest concurrently while the server (a real child process) is killed
 * with SIGKILL at random moments and restarted on the same DATA_DIR. Clients behave like
 * Prometheus: a request that fails (connection reset, 5xx, 429) is re-sent until acknowledged.
 * Afterwards every acknowledged point must be stored exactly once. A point may be stored twice
 * in the raw table only when the server was killed after committing it but before answering
 * (the client re-sent it); points is a ReplacingMergeTree, so those converge to one row (FINAL).
 * CRASH_SEED=<n> replays a run's timing choices (FLUSH_MS and the moments of the kills); every
 * failure names it.
 */

const KILLS = 10;
const CLIENTS = 4;
const SERIES_PER_REQUEST = 10;
const POINTS_PER_SERIES = 5;
const KEY = 'crash.metric';

const dataDir = tempDir('metronome-crash-');
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** A random integer in [lo, hi). A fixed seed for every run would hide timing classes: a new one each run unless CRASH_SEED is set. */
const seed = Number(process.env.CRASH_SEED ?? Date.now() % 100_000);
const replay = `replay with CRASH_SEED=${seed}`;
let state = seed;
const rand = (lo: number, hi: number) => {
  state = (state * 1103515245 + 12345) % 2147483648;
  return lo + (state % (hi - lo));
};

interface Req {
  client: number;
  seq: number;
  body: string;
  /** Some attempt failed without an answer: the server may have committed it anyway. */
  uncertain: boolean;
}

describe('kill -9 during ingest', () => {
  it(`keeps every acknowledged point exactly once across ${KILLS} SIGKILLs at random moments (CRASH_SEED replays)`, async () => {
    const base = Date.now() - 3_600_000;
    let server: ServerProcess | null = null;
    let ready: Promise<string>;
    let setReady!: (url: string) => void;
    const newEpoch = () => (ready = new Promise<string>((r) => (setReady = r)));
    newEpoch();
    let generating = true;
    const acked: Req[] = [];
    let attempts = 0;
    let lostAnswers = 0;
    let replayed = 0;

    const body = (client: number, seq: number) =>
      JSON.stringify(
        Array.from({ length: SERIES_PER_REQUEST }, (_, s) =>
          heroic(
            KEY,
            { client: String(client), s: String(s) },
            Array.from({ length: POINTS_PER_SERIES }, (_, j) => [base + seq * POINTS_PER_SERIES + j, seq * 100 + j] as [number, number]),
          ),
        ),
      );

    async function send(r: Req): Promise<void> {
      for (;;) {
        const url = await ready;
        attempts++;
        try {
          const res = await fetch(`${url}/write`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: r.body });
          await res.text();
          if (res.status === 200) return;
          if (res.status !== 503 && res.status !== 429) throw new Error(`client ${r.client} seq ${r.seq}: unexpected ${res.status}`);
        } catch (e) {
          if ((e as Error).message.startsWith('client ')) throw e;
          // No answer: the connection died with the server.
          r.uncertain = true;
          lostAnswers++;
          await new Promise((res) => setTimeout(res, 50));
        }
      }
    }

    const clients = Array.from({ length: CLIENTS }, async (_, client) => {
      for (let seq = 0; generating; seq++) {
        const r: Req = { client, seq, body: body(client, seq), uncertain: false };
        await send(r);
        acked.push(r);
      }
    });
    const failed = Promise.all(clients).then(
      () => null,
      (e: Error) => e,
    );

    try {
      for (let round = 0; round <= KILLS; round++) {
        server = await startServerProcess({ DATA_DIR: dataDir, FLUSH_MS: String(rand(5, 60)) });
        replayed += walReplayedPoints(server);
        setReady(server.url);
        if (round === KILLS) break;
        await new Promise((r) => setTimeout(r, rand(300, 1500)));
        newEpoch(); // clients whose requests fail now wait for the next server
        server.kill('SIGKILL');
        await server.exited;
      }
      // Last server: stop generating, let every client's pending request be acknowledged.
      generating = false;
      const err = await failed;
      if (err) throw err;
      expect(await stopServerProcess(server!)).toBe(0);
    } catch (e) {
      if (server && server.child.exitCode === null) server.kill('SIGKILL');
      throw new Error(`${replay}: ${(e as Error).message}`, { cause: e });
    }

    // The kills hit work in flight: requests without an answer, or answered writes ClickHouse
    // had not committed, which the next start replayed from the write-ahead log.
    expect(lostAnswers + replayed, replay).toBeGreaterThan(0);
    expect(acked.length, replay).toBeGreaterThan(KILLS * CLIENTS);

    // Read what is stored straight from the data directory (the server is stopped).
    const store = new EmbeddedStore(dataDir);
    try {
      const ids = new Map<string, string>();
      for (let c = 0; c < CLIENTS; c++) for (let s = 0; s < SERIES_PER_REQUEST; s++) ids.set(seriesId(KEY, { client: String(c), s: String(s) }), `${c}/${s}`);
      const idParam = param('Array(UInt64)', [...ids.keys()].map((x) => BigInt(x)));
      const count = async (final: boolean) => {
        const rows = await store.query<{ id: string; t: string; v: number; n: string }>(
          sql`SELECT toString(series_id) AS id, toUnixTimestamp64Milli(ts) AS t, any(value) AS v, count() AS n
              FROM points ${final ? sql`FINAL` : sql``} WHERE series_id IN ${idParam} GROUP BY series_id, ts`,
        );
        return new Map(rows.map((r) => [`${ids.get(r.id)}@${r.t}`, { v: r.v, n: Number(r.n) }]));
      };
      const raw = await count(false);
      const final = await count(true);

      const expected = new Map<string, { v: number; uncertain: boolean }>();
      for (const r of acked) {
        for (let s = 0; s < SERIES_PER_REQUEST; s++) {
          for (let j = 0; j < POINTS_PER_SERIES; j++) expected.set(`${r.client}/${s}@${base + r.seq * POINTS_PER_SERIES + j}`, { v: r.seq * 100 + j, uncertain: r.uncertain });
        }
      }
      const lost = [...expected.keys()].filter((k) => !final.has(k));
      expect(lost, `${replay}: acknowledged points missing`).toEqual([]);
      const wrong = [...expected].filter(([k, e]) => final.get(k)!.v !== e.v).map(([k]) => k);
      expect(wrong, `${replay}: acknowledged points with another value`).toEqual([]);
      const twiceFinal = [...final].filter(([, x]) => x.n !== 1).map(([k]) => k);
      expect(twiceFinal, `${replay}: duplicates after FINAL`).toEqual([]);
      // Raw duplicates only where the client re-sent a request whose answer it never got.
      const serverDup = [...raw].filter(([k, x]) => x.n > 1 && !expected.get(k)?.uncertain).map(([k]) => k);
      expect(serverDup, `${replay}: duplicates the server made by itself`).toEqual([]);
      // Nothing stored that no client sent (points of requests in flight at the last stop are acknowledged by then).
      const unexpected = [...final.keys()].filter((k) => !expected.has(k));
      expect(unexpected, `${replay}: points no acknowledged request carried`).toEqual([]);
      // Every point's series is in the series table (or no query could find it).
      const listed = await store.query<{ id: string }>(sql`SELECT DISTINCT toString(series_id) AS id FROM series WHERE key = ${param('String', KEY)}`);
      expect(listed.map((r) => r.id).sort(), replay).toEqual([...ids.keys()].sort());
    } finally {
      await store.close();
    }
  }, 240_000);
});
