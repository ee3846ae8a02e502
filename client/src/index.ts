import { hostname } from 'node:os';
import { fastifyPlugin, httpMetrics, middleware, type MiddlewareOptions } from './http.js';
import { Registry } from './metrics.js';
import { Pusher, systemClock, type Clock, type PusherStats, type Transport } from './pusher.js';
import { findPackageJson, mergeRegistration, serviceInfoFrom, type ServiceInfo } from './register.js';
import { runtimeMetrics } from './runtime.js';

/**
 * @metronome/client: `init({ service, url, token })` gives a Node service the metrics Metronome
 * builds its dashboard and alerts from (HTTP requests by route, method and status with a latency
 * histogram; CPU, memory, GC, event-loop lag), pushes them by Prometheus remote write, and
 * registers the service with the owner, description and repository of its package.json.
 */

export { Registry, Counter, Gauge, Histogram, DEFAULT_BUCKETS, type Sample, type MetricMeta, type MetricType } from './metrics.js';
export { Pusher, systemClock, type Clock, type Transport, type TransportResponse, type PusherStats } from './pusher.js';
export { encodeWriteRequest } from './remote-write.js';
export { serviceInfoFrom, repositoryUrl, mergeRegistration, type ServiceInfo } from './register.js';
export type { MiddlewareOptions } from './http.js';

export interface InitOptions {
  /** The service's name in Metronome (the `service` label): letters, digits, `_ . -`. */
  service: string;
  /** Metronome's base URL, e.g. http://metronome:8080. */
  url: string;
  /** An API token: `write` scope to push (limited to this service is enough); `admin` also registers the service. */
  token?: string;
  /** The `instance` label; default `<hostname>:<pid>` (each process its own counters). */
  instance?: string;
  /** How often metrics are collected and pushed; default 10 s (Metronome's dashboards assume ~15 s or less). */
  intervalMs?: number;
  /** Register the service (default true). Fields given here win over package.json's. */
  register?: boolean;
  owner?: { team: string; contact?: string };
  description?: string;
  links?: Record<string, string>;
  /** The service's health URL: registered as `links.health`, which Metronome probes by default. */
  healthUrl?: string;
  /** Where to look for package.json (it and its parents); default process.cwd(). */
  packageDir?: string;
  /** Runtime and process metrics (default true). */
  runtime?: boolean;
  /** Latency histogram buckets in seconds (default Prometheus' 5 ms to 10 s). */
  buckets?: readonly number[];
  maxBufferedSamples?: number;
  maxSamplesPerSend?: number;
  /** Extra labels on every series (keep them few and fixed, e.g. region). */
  labels?: Record<string, string>;
  /** Problems (push refused, registration failed), once each; default a console.warn line. */
  onError?: (message: string) => void;
  // For tests:
  clock?: Clock;
  transport?: Transport;
  random?: () => number;
  fetch?: typeof fetch;
}

export interface MetronomeClient {
  readonly service: string;
  /** Metrics of your own: `client.registry.counter({name, help}, ['label'])`. */
  readonly registry: Registry;
  /** fastify plugin: `app.register(client.fastify)`. */
  readonly fastify: ReturnType<typeof fastifyPlugin>;
  /** Middleware for express/connect or a node:http handler. */
  middleware(opts?: MiddlewareOptions): ReturnType<typeof middleware>;
  /** Record a request by hand (another framework). */
  recordRequest(route: string, method: string, status: number, seconds: number): void;
  /** Collect now and queue for pushing. */
  collect(): void;
  /** Collect and push what is queued, waiting at most `deadlineMs`. */
  flush(deadlineMs?: number): Promise<void>;
  /** Settles when the registration finished (true), was refused or gave up (false). */
  readonly registered: Promise<boolean>;
  readonly stats: PusherStats;
  /** Stop collecting, push what is left (up to `deadlineMs`), stop the runtime observers. */
  close(deadlineMs?: number): Promise<void>;
}

const SERVICE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

export function init(opts: InitOptions): MetronomeClient {
  if (!SERVICE_NAME.test(opts.service)) throw new Error(`@metronome/client: service "${opts.service}" must start with a letter or digit and hold only letters, digits, _ . - (at most 128)`);
  let base: URL;
  try {
    base = new URL(opts.url);
  } catch {
    throw new Error(`@metronome/client: url "${opts.url}" is not a URL (e.g. http://metronome:8080)`);
  }
  const root = base.href.replace(/\/$/, '');
  const clock = opts.clock ?? systemClock;
  const doFetch = opts.fetch ?? fetch;
  const onError = opts.onError ?? ((m: string) => console.warn(`@metronome/client (${opts.service}): ${m}`));
  const auth: Record<string, string> = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
  const intervalMs = Math.max(100, opts.intervalMs ?? 10_000);

  const registry = new Registry();
  const http = httpMetrics(registry, opts.buckets);
  const stopRuntime = opts.runtime === false ? () => {} : runtimeMetrics(registry);
  const common = { ...(opts.labels ?? {}), service: opts.service, instance: opts.instance ?? `${hostname()}:${process.pid}` };

  const transport: Transport =
    opts.transport ??
    (async (body, headers) => {
      const res = await doFetch(`${root}/api/v1/write`, { method: 'POST', headers: { ...headers, ...auth }, body: body as Uint8Array<ArrayBuffer>, signal: AbortSignal.timeout(10_000) });
      const text = res.status >= 300 ? await res.text().catch(() => '') : (await res.arrayBuffer().catch(() => null), '');
      const ra = Number(res.headers.get('retry-after'));
      return { status: res.status, body: text, ...(res.headers.has('retry-after') && Number.isFinite(ra) ? { retryAfter: ra } : {}) };
    });
  const pusher = new Pusher({
    transport,
    clock,
    onError,
    ...(opts.random ? { random: opts.random } : {}),
    ...(opts.maxBufferedSamples ? { maxBufferedSamples: opts.maxBufferedSamples } : {}),
    ...(opts.maxSamplesPerSend ? { maxSamplesPerSend: opts.maxSamplesPerSend } : {}),
  });
  pusher.setMetadata(registry.metrics.map((m) => m.meta));

  let closed = false;
  const collect = () => {
    try {
      pusher.enqueue(registry.collect(common), clock.now());
    } catch (e) {
      onError(`collecting failed: ${(e as Error).message}`);
    }
  };
  let timer: object | null = null;
  const tick = () => {
    if (closed) return;
    collect();
    timer = clock.setTimeout(tick, intervalMs);
  };
  timer = clock.setTimeout(tick, intervalMs);

  const registered = opts.register === false ? Promise.resolve(false) : register();

  async function register(): Promise<boolean> {
    const fromPkg = serviceInfoFrom(findPackageJson(opts.packageDir ?? process.cwd()));
    const info: ServiceInfo = {
      ...fromPkg,
      ...(opts.owner ? { owner: opts.owner } : {}),
      ...(opts.description ? { description: opts.description } : {}),
      links: { ...(fromPkg.links ?? {}), ...(opts.links ?? {}), ...(opts.healthUrl ? { health: opts.healthUrl } : {}) },
    };
    const url = `${root}/api/v1/services/${encodeURIComponent(opts.service)}`;
    // Metronome may start after the service: a few attempts with backoff, then give up (metrics still flow).
    for (let attempt = 0; attempt < 6 && !closed; attempt++) {
      try {
        const cur = await doFetch(url, { headers: auth, signal: AbortSignal.timeout(10_000) });
        if (cur.status === 401 || cur.status === 403) return refused(cur.status);
        const current = cur.status === 200 ? ((await cur.json()) as { data?: Record<string, unknown> }).data ?? null : (await cur.body?.cancel(), null);
        const def = mergeRegistration(opts.service, current, info);
        if (!def) return true;
        const res = await doFetch(`${root}/api/v1/services`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify(def),
          signal: AbortSignal.timeout(10_000),
        });
        if (res.ok) return true;
        if (res.status === 401 || res.status === 403) return refused(res.status);
        const text = await res.text().catch(() => '');
        if (res.status < 500) {
          onError(`registering the service answered ${res.status}: ${text.slice(0, 300)}`);
          return false;
        }
      } catch (e) {
        if (attempt === 0) onError(`registering the service failed (will retry): ${(e as Error).message}`);
      }
      await new Promise<void>((resolve) => clock.setTimeout(resolve, 1000 * 2 ** attempt));
    }
    return false;
  }

  function refused(status: number): false {
    onError(`registering the service answered ${status}: registration needs a token with the admin scope (metrics are still pushed)`);
    return false;
  }

  return {
    service: opts.service,
    registry,
    fastify: fastifyPlugin(http),
    middleware: (o) => middleware(http, o),
    recordRequest: (route, method, status, seconds) => http.record(route, method, status, seconds),
    collect,
    async flush(deadlineMs = 5_000) {
      collect();
      await pusher.flush(deadlineMs);
    },
    registered,
    stats: pusher.stats,
    async close(deadlineMs = 5_000) {
      if (closed) return;
      collect();
      closed = true;
      if (timer) clock.clearTimeout(timer);
      stopRuntime();
      await pusher.flush(deadlineMs);
      pusher.close();
    },
  };
}
