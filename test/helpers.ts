import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig, type Config } from '../server/config.js';
import { startMetronome, type Running, type StartOptions } from '../server/start.js';
import { compile, type Sql, type Store } from '../server/store/index.js';

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

/** The store's methods a test may take over. */
type StoreMethod = 'query' | 'command' | 'insertPoints' | 'insertSeries' | 'insertRows';

/** A stand-in for one store method: it is given the real method (bound to the store) and the call's arguments. */
type StoreHook<K extends StoreMethod> = (real: Store[K], ...args: Parameters<Store[K]>) => ReturnType<Store[K]>;

export type StoreHooks = { [K in StoreMethod]?: StoreHook<K> };

/**
 * The one way tests wrap the real store (StartOptions.wrapStore): each method in `hooks` runs in
 * place of the store's and decides whether and when to call the real one (to fail, delay, count
 * or record); every other member is the store's own, bound to it (private fields need the real
 * object as `this`). A fault is injected around the real store, never a fake (STYLE.md).
 */
export function wrapStore(hooks: StoreHooks): (store: Store) => Store {
  return (store) =>
    new Proxy(store, {
      get(target, prop) {
        const v = Reflect.get(target, prop);
        if (typeof v !== 'function') return v;
        const real = v.bind(target);
        const hook = (hooks as Record<PropertyKey, ((real: unknown, ...args: unknown[]) => unknown) | undefined>)[prop];
        return hook ? (...args: unknown[]) => hook(real, ...args) : real;
      },
    });
}

/** Whether a statement binds a string parameter containing `marker` (a metric name, a label value). */
export function mentions(q: Sql, marker: string): boolean {
  return Object.values(compile(q).params).some((v) => typeof v === 'string' && v.includes(marker));
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

  readonly wrap = wrapStore({
    query: async (real, q, opts = {}) => {
      if (mentions(q, this.marker)) {
        this.n++;
        try {
          await Promise.race([this.#released, new Promise((_, reject) => opts.signal?.addEventListener('abort', () => reject(opts.signal!.reason)))]);
        } finally {
          this.n--;
        }
      }
      return real(q, opts);
    },
  });
}
