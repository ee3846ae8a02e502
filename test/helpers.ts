import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig, type Config } from '../server/config.js';
import { startMetronome, type Running, type StartOptions } from '../server/start.js';
import { compile, type Store } from '../server/store/index.js';

export interface TestServer extends Running {
  config: Config;
  dataDir: string;
  /** Close the server and delete its data directory. */
  destroy(): Promise<void>;
}

/** A fresh temporary data directory. */
export function tempDir(prefix = 'metronome-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Start a real Metronome (embedded chdb store) on a random port and a temporary data
 * directory. chdb binds one data directory per process: run one server per test file
 * (vitest's forks pool gives each file its own process), or close before opening another.
 */
export async function startTestServer(env: Record<string, string> = {}, opts: StartOptions = {}): Promise<TestServer> {
  const dataDir = env.DATA_DIR ?? tempDir();
  // No rollup job on a timer unless asked (ROLLUP_INTERVAL, or `rollups.runOnce()`): its
  // background queries would land among what a test observes.
  const config = loadConfig({ PORT: '0', LOG_LEVEL: 'silent', DEMO: '0', ROLLUP_INTERVAL: '0', ...env, DATA_DIR: dataDir });
  const running = await startMetronome(config, pino({ level: config.LOG_LEVEL }), opts);
  return {
    ...running,
    config,
    dataDir,
    async destroy() {
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A Heroic write body for one series. */
export function heroic(key: string, tags: Record<string, string>, points: [number, number][]) {
  return { series: { key, tags }, data: { type: 'points', data: points } };
}

/** Status, headers and the body parsed as JSON when it is JSON (else the text). */
async function send(url: string, init?: RequestInit) {
  const res = await fetch(url, init);
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, body: json, headers: res.headers };
}

/** POST JSON (an object, or a string sent as is). */
export function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  return send(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** GET and parse JSON. */
export function getJson(url: string) {
  return send(url);
}

/** Export lines for a selector as parsed objects. */
export async function exportSeries(base: string, selector: string, range: { start?: number; end?: number } = {}) {
  const qs = new URLSearchParams({ 'match[]': selector });
  if (range.start !== undefined) qs.set('start', String(range.start / 1000));
  if (range.end !== undefined) qs.set('end', String(range.end / 1000));
  const res = await fetch(`${base}/api/v1/export?${qs}`);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`export failed ${res.status}: ${text}`);
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { metric: Record<string, string>; values: number[]; timestamps: number[] });
}

/**
 * Holds queries in flight without replacing the store: `wrap` (a StartOptions.wrapStore) makes
 * every query with a parameter naming `marker` wait until release() (or until its own signal
 * aborts). `n` counts the queries held now; rearm() holds the next ones again.
 */
export class QueryHold {
  n = 0;
  #released!: Promise<void>;
  #release!: () => void;

  constructor(readonly marker: string) {
    this.rearm();
  }

  release(): void {
    this.#release();
  }

  rearm(): void {
    this.#released = new Promise<void>((resolve) => (this.#release = resolve));
  }

  readonly wrap = (store: Store): Store =>
    new Proxy(store, {
      get: (target, prop) => {
        if (prop === 'query') {
          return async (q: Parameters<Store['query']>[0], opts: Parameters<Store['query']>[1] = {}) => {
            if (Object.values(compile(q).params).some((v) => typeof v === 'string' && v.includes(this.marker))) {
              this.n++;
              try {
                await Promise.race([this.#released, new Promise((_, reject) => opts.signal?.addEventListener('abort', () => reject(opts.signal!.reason)))]);
              } finally {
                this.n--;
              }
            }
            return target.query(q, opts);
          };
        }
        const v = Reflect.get(target, prop);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
}
