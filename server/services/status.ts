import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppContext } from '../context.js';
import { ROOT } from '../paths.js';
import { sql } from '../store/index.js';

/**
 * The server's own status for the status page: ingest rate, series, storage, query latency and
 * build info. Rates come from sampling Metronome's own counters (metrics.ts) every few seconds.
 */

interface Sample {
  at: number;
  points: number;
  queries: number;
}

const SAMPLE_MS = 5_000;
const KEEP = 13; // one minute of samples, plus one

function counterTotal(v: { values: { value: number; labels: Record<string, string | number> }[] }, filter?: (l: Record<string, string | number>) => boolean): number {
  return v.values.reduce((a, x) => a + (!filter || filter(x.labels) ? x.value : 0), 0);
}

const QUERY_ROUTES = new Set(['/api/v1/query', '/api/v1/query_range']);

/** Samples the counters behind the rates; stop() when the server closes. */
export class StatusSampler {
  readonly #samples: Sample[] = [];
  readonly #timer: NodeJS.Timeout;

  constructor(private readonly ctx: AppContext) {
    void this.#sample();
    this.#timer = setInterval(() => void this.#sample(), SAMPLE_MS);
    this.#timer.unref();
  }

  async #sample(): Promise<void> {
    const [points, http] = await Promise.all([this.ctx.metrics.pointsAccepted.get(), this.ctx.metrics.httpRequests.get()]);
    this.#samples.push({ at: Date.now(), points: counterTotal(points), queries: counterTotal(http, (l) => QUERY_ROUTES.has(String(l.route))) });
    if (this.#samples.length > KEEP) this.#samples.shift();
  }

  /** Per-second rates over the sampled window (up to a minute). */
  rates(): { pointsPerSec: number | null; queriesPerSec: number | null; windowSec: number } {
    const a = this.#samples[0];
    const b = this.#samples[this.#samples.length - 1];
    if (!a || !b || b.at - a.at < 1000) return { pointsPerSec: null, queriesPerSec: null, windowSec: 0 };
    const s = (b.at - a.at) / 1000;
    return { pointsPerSec: (b.points - a.points) / s, queriesPerSec: (b.queries - a.queries) / s, windowSec: Math.round(s) };
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** A quantile from cumulative histogram buckets (linear within a bucket, as histogram_quantile). */
function bucketQuantile(q: number, buckets: { le: number; count: number }[]): number | null {
  const sorted = [...buckets].sort((x, y) => x.le - y.le);
  const total = sorted[sorted.length - 1]?.count ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of sorted) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return prevLe;
      const inBucket = b.count - prevCount;
      return inBucket === 0 ? b.le : prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket;
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

let version: string | undefined;
function packageVersion(): string {
  if (version === undefined) {
    try {
      version = String((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown');
    } catch {
      version = 'unknown';
    }
  }
  return version;
}

export async function serverStatus(ctx: AppContext, sampler: StatusSampler) {
  const [series, parts, http, rejected, alerts] = await Promise.all([
    ctx.store.query<{ series: string; services: string }>(sql`SELECT uniqExact(series_id) AS series, uniqExact(service) AS services FROM series`),
    ctx.store.query<{ table: string; bytes: string; uncompressed: string; rows: string; parts: string }>(
      sql`SELECT table, sum(bytes_on_disk) AS bytes, sum(data_uncompressed_bytes) AS uncompressed, sum(rows) AS rows, count() AS parts
          FROM system.parts WHERE active AND database = currentDatabase() GROUP BY table ORDER BY bytes DESC`,
    ),
    ctx.metrics.httpSeconds.get(),
    ctx.metrics.pointsRejected.get(),
    Promise.resolve(ctx.alerting?.activeAlerts() ?? null),
  ]);
  const buckets = new Map<number, number>();
  let count = 0;
  let sum = 0;
  for (const v of http.values) {
    if (!QUERY_ROUTES.has(String(v.labels.route))) continue;
    const name = (v as { metricName?: string }).metricName ?? '';
    if (name.endsWith('_bucket')) {
      const leText = String((v.labels as Record<string, string | number>).le);
      const le = leText === '+Inf' ? Infinity : Number(leText);
      buckets.set(le, (buckets.get(le) ?? 0) + v.value);
    } else if (name.endsWith('_count')) count += v.value;
    else if (name.endsWith('_sum')) sum += v.value;
  }
  const bl = [...buckets].map(([le, c]) => ({ le, count: c }));
  const rates = sampler.rates();
  const tables = parts.map((p) => ({
    table: p.table,
    bytes: Number(p.bytes),
    uncompressedBytes: Number(p.uncompressed),
    rows: Number(p.rows),
    parts: Number(p.parts),
  }));
  return {
    build: {
      version: packageVersion(),
      node: process.version,
      platform: `${process.platform}/${process.arch}`,
      store: ctx.store.kind,
      startedAt: ctx.state.startedAt,
      uptimeSec: Math.round((Date.now() - ctx.state.startedAt) / 1000),
    },
    ingest: {
      pointsPerSec: rates.pointsPerSec,
      windowSec: rates.windowSec,
      pointsAccepted: counterTotal(await ctx.metrics.pointsAccepted.get()),
      pointsRejected: counterTotal(rejected),
      buffered: ctx.writer.buffered,
    },
    series: { count: Number(series[0]?.series ?? 0), services: Number(series[0]?.services ?? 0) },
    storage: {
      bytes: tables.reduce((a, t) => a + t.bytes, 0),
      uncompressedBytes: tables.reduce((a, t) => a + t.uncompressedBytes, 0),
      tables,
    },
    queries: {
      count,
      perSec: rates.queriesPerSec,
      meanSec: count ? sum / count : null,
      p50Sec: bucketQuantile(0.5, bl),
      p99Sec: bucketQuantile(0.99, bl),
    },
    alerting: alerts ? { firing: alerts.filter((a) => a.state === 'firing').length, pending: alerts.filter((a) => a.state === 'pending').length } : null,
    config: { retentionDays: ctx.config.RETENTION_DAYS, demo: ctx.config.DEMO },
  };
}
