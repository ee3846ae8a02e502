/**
 * Sends Metronome's own alerts to Alertmanagers a team already runs (ALERTMANAGER_URLS), as
 * Prometheus' notifier does: every push of the evaluator (on change and at least every minute)
 * is POSTed to each Alertmanager's /api/v2/alerts in batches of 256, one request in flight per
 * Alertmanager, through a queue of at most 10,000 alerts that drops the oldest when full
 * (Prometheus' --alertmanager.notification-queue-capacity). Failures are logged and counted; the
 * next push carries the alerts again.
 */
import type { Logger } from 'pino';
import { post, redactURL } from './receivers/http.js';
import type { NotifierAlert } from './receivers.js';

const BATCH = 256;
const CAPACITY = 10_000;
const iso = (ms: number) => new Date(ms).toISOString();

export interface ForwarderOptions {
  urls: string[];
  log: Logger;
  timeoutMs?: number;
  /** Counts per Alertmanager: sent alerts, failed requests, dropped alerts. */
  onResult?: (e: { alertmanager: string; sent: number; failed: number; dropped: number }) => void;
}

interface Target {
  url: string;
  headers: Record<string, string>;
  queue: object[];
  busy: boolean;
}

/** A base URL's /api/v2/alerts, with `user:password@` moved into a Basic authorization header (fetch refuses credentials in URLs). */
export function targetOf(base: string): { url: string; headers: Record<string, string> } {
  const u = new URL(base);
  const headers: Record<string, string> = {};
  if (u.username || u.password) headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
  u.username = '';
  u.password = '';
  return { url: `${u.toString().replace(/\/+$/, '')}/api/v2/alerts`, headers };
}

/** The Alertmanager API v2 body of one alert. */
export function postableAlert(a: NotifierAlert) {
  return { labels: a.labels, annotations: a.annotations, startsAt: iso(a.startsAt), ...(a.endsAt ? { endsAt: iso(a.endsAt) } : {}), generatorURL: a.generatorURL };
}

export class AlertForwarder {
  readonly #targets: Target[];
  readonly #abort = new AbortController();
  #inflight = new Set<Promise<void>>();

  constructor(readonly opts: ForwarderOptions) {
    this.#targets = opts.urls.map((u) => ({ ...targetOf(u), queue: [], busy: false }));
  }

  /** Queue alerts for every Alertmanager and send what is queued. */
  send(alerts: readonly NotifierAlert[]): void {
    if (this.#abort.signal.aborted || alerts.length === 0) return;
    const bodies = alerts.map(postableAlert);
    for (const t of this.#targets) {
      t.queue.push(...bodies);
      const over = t.queue.length - CAPACITY;
      if (over > 0) {
        t.queue.splice(0, over);
        this.opts.onResult?.({ alertmanager: redactURL(t.url), sent: 0, failed: 0, dropped: over });
      }
      this.#drain(t);
    }
  }

  #drain(t: Target): void {
    if (t.busy || t.queue.length === 0) return;
    t.busy = true;
    const run = (async () => {
      while (t.queue.length && !this.#abort.signal.aborted) {
        const batch = t.queue.splice(0, BATCH);
        const r = await post({ url: t.url, body: batch, headers: t.headers, timeoutMs: this.opts.timeoutMs ?? 10_000, signal: this.#abort.signal, what: 'alertmanager' });
        if (r.ok) this.opts.onResult?.({ alertmanager: redactURL(t.url), sent: batch.length, failed: 0, dropped: 0 });
        else {
          this.opts.log.warn({ alertmanager: redactURL(t.url), alerts: batch.length, error: r.error }, 'could not send alerts to an Alertmanager; the next evaluation sends them again');
          this.opts.onResult?.({ alertmanager: redactURL(t.url), sent: 0, failed: 1, dropped: batch.length });
        }
      }
    })().finally(() => {
      t.busy = false;
      this.#inflight.delete(run);
    });
    this.#inflight.add(run);
  }

  /** Resolves when nothing is being sent (tests). */
  async idle(): Promise<void> {
    while (this.#inflight.size) await Promise.allSettled([...this.#inflight]);
  }

  async stop(graceMs = 5000): Promise<void> {
    const t = setTimeout(() => this.#abort.abort(), graceMs);
    await this.idle();
    clearTimeout(t);
    this.#abort.abort();
  }
}
