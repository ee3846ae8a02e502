import type { NewSeries } from '../../ingest/types.js';
import { MetronomeError } from '../errors.js';
import { param, sql, type Store } from '../store/index.js';

const DAY_MS = 86_400_000;

export interface CardinalityLimits {
  /** New series per service per UTC day; 0 = unlimited. */
  perService: number;
  /** New series per metric name per UTC day; 0 = unlimited. */
  perKey: number;
}

export interface CardinalityOptions {
  /**
   * Cluster mode: read the counts again from the shared series table when this long has passed
   * since the last read (on the next admission or report), so series created through other
   * nodes count here too. 0 = never (one node: its own counts are exact).
   */
  resyncMs?: number;
  /** Unix milliseconds; tests inject a clock. */
  now?: () => number;
}

export interface CardinalityRow {
  name: string;
  /** Series active (written) in the last 24 hours. */
  series: number;
  /** Series created today (UTC). */
  newToday: number;
  limit: number;
}

/**
 * Counts new series per service and per metric name for the current UTC day and refuses a
 * write that would push one past its limit. Only series that do not exist yet count: the
 * writer passes the series new to this process, and those are looked up in the series table
 * (by key and id, the table's sort order), so a restart does not make old series count again.
 * Today's counts are rebuilt at start (and at each new day) from the series table's first_seen.
 *
 * Series without a service tag are limited only per metric name.
 *
 * Several nodes on one store (cluster mode): each node counts its own admissions at once and
 * re-reads everyone's from the series table every `resyncMs`. Series this node admitted that
 * the table does not hold yet (still on their way to the store) are kept on top of what the
 * table says, so a resync never forgets them. Between two resyncs a node does not see what the
 * others admit: together, N nodes can exceed a limit by at most what the other N - 1 admit on a
 * view at most `resyncMs` old, i.e. at most (N - 1) x (limit - count at the last resync); once
 * every node has resynced past the limit, nothing more is admitted (docs/ARCHITECTURE.md).
 */
export class CardinalityTracker {
  #day = -1;
  #loading: Promise<void> | null = null;
  readonly #perService = new Map<string, number>();
  readonly #perKey = new Map<string, number>();
  /** Series counted today (new, admitted), so a retry or a concurrent request does not count twice. */
  readonly #counted = new Set<string>();
  /** Admitted here and not yet seen in the series table at the last resync. */
  readonly #unsynced = new Map<string, NewSeries>();
  /** When today's counts were last read from the series table (this tracker's clock). */
  #syncedAt = 0;
  readonly #now: () => number;
  readonly #resyncMs: number;

  constructor(
    private readonly store: Store,
    readonly limits: CardinalityLimits,
    opts: CardinalityOptions = {},
  ) {
    this.#now = opts.now ?? Date.now;
    this.#resyncMs = opts.resyncMs ?? 0;
  }

  get enabled(): boolean {
    return this.limits.perService > 0 || this.limits.perKey > 0;
  }

  /** Throws MTR_LIMIT_SERIES_PER_SERVICE or MTR_LIMIT_SERIES_PER_KEY when the new series among `fresh` would pass a limit; else counts them. */
  async admit(fresh: readonly NewSeries[], now = this.#now()): Promise<void> {
    if (!this.enabled || fresh.length === 0) return;
    await this.#today(now);
    let candidates = fresh.filter((s) => !this.#counted.has(s.seriesId));
    if (candidates.length === 0) return;
    const existing = await this.#existing(candidates);
    await this.#today(now); // the day may have turned during the lookup
    // Synchronous from here: concurrent requests see each other's reservations.
    candidates = candidates.filter((s) => !existing.has(s.seriesId) && !this.#counted.has(s.seriesId));
    const byService = new Map<string, number>();
    const byKey = new Map<string, number>();
    const seen = new Set<string>();
    for (const s of candidates) {
      if (seen.has(s.seriesId)) continue;
      seen.add(s.seriesId);
      if (s.service) byService.set(s.service, (byService.get(s.service) ?? 0) + 1);
      byKey.set(s.key, (byKey.get(s.key) ?? 0) + 1);
    }
    const { perService, perKey } = this.limits;
    if (perService > 0) {
      for (const [svc, n] of byService) {
        const have = this.#perService.get(svc) ?? 0;
        if (have + n > perService) {
          throw new MetronomeError('MTR_LIMIT_SERIES_PER_SERVICE', [JSON.stringify(svc), perService, have, n], {
            details: { limit: 'MAX_SERIES_PER_SERVICE', service: svc, max: perService, today: have, requested: n },
          });
        }
      }
    }
    if (perKey > 0) {
      for (const [key, n] of byKey) {
        const have = this.#perKey.get(key) ?? 0;
        if (have + n > perKey) {
          throw new MetronomeError('MTR_LIMIT_SERIES_PER_KEY', [JSON.stringify(key), perKey, have, n], {
            details: { limit: 'MAX_SERIES_PER_KEY', key, max: perKey, today: have, requested: n },
          });
        }
      }
    }
    for (const s of candidates) {
      this.#counted.add(s.seriesId);
      if (this.#resyncMs > 0) this.#unsynced.set(s.seriesId, s);
    }
    for (const [svc, n] of byService) this.#perService.set(svc, (this.#perService.get(svc) ?? 0) + n);
    for (const [key, n] of byKey) this.#perKey.set(key, (this.#perKey.get(key) ?? 0) + n);
  }

  /** Top services and metric names by series created today, then by active series. */
  async report(top: number, now = this.#now()): Promise<{ day: string; services: CardinalityRow[]; keys: CardinalityRow[] }> {
    await this.#today(now);
    const since = param("DateTime64(3, 'UTC')", new Date(now - DAY_MS).toISOString().slice(0, 23).replace('T', ' '));
    const [svcRows, keyRows] = await Promise.all([
      this.store.query<{ name: string; series: string }>(
        sql`SELECT service AS name, uniqExact(series_id) AS series FROM series WHERE last_seen >= ${since} GROUP BY service`,
      ),
      this.store.query<{ name: string; series: string }>(
        sql`SELECT key AS name, uniqExact(series_id) AS series FROM series WHERE last_seen >= ${since} GROUP BY key`,
      ),
    ]);
    const rows = (active: { name: string; series: string }[], today: Map<string, number>, limit: number, skipEmpty: boolean) => {
      const all = new Map<string, CardinalityRow>();
      for (const r of active) if (!(skipEmpty && r.name === '')) all.set(r.name, { name: r.name, series: Number(r.series), newToday: 0, limit });
      for (const [name, n] of today) {
        const row = all.get(name) ?? { name, series: 0, newToday: 0, limit };
        row.newToday = n;
        all.set(name, row);
      }
      return [...all.values()].sort((a, b) => b.newToday - a.newToday || b.series - a.series || (a.name < b.name ? -1 : 1)).slice(0, top);
    };
    return {
      day: new Date(this.#day * DAY_MS).toISOString().slice(0, 10),
      services: rows(svcRows, this.#perService, this.limits.perService, true),
      keys: rows(keyRows, this.#perKey, this.limits.perKey, false),
    };
  }

  /** Roll over to `now`'s day, loading the day's counts from the series table once; resync when due. */
  async #today(now: number): Promise<void> {
    const day = Math.floor(now / DAY_MS);
    let fresh = false;
    if (day !== this.#day) {
      this.#day = day;
      this.#perService.clear();
      this.#perKey.clear();
      this.#counted.clear();
      this.#unsynced.clear();
      this.#syncedAt = now;
      this.#loading = this.#sync(day);
      fresh = true;
    } else if (this.#resyncMs > 0 && !this.#loading && now - this.#syncedAt >= this.#resyncMs) {
      this.#syncedAt = now;
      this.#loading = this.#sync(day);
    }
    const loading = this.#loading;
    if (!loading) return;
    try {
      await loading;
    } catch (e) {
      // Retry on the next write rather than running without counts (a failed resync keeps the
      // counts it would have replaced, and is tried again on the next write).
      if (this.#day === day && this.#loading === loading) {
        if (fresh) this.#day = -1;
        else this.#syncedAt = 0;
      }
      throw e;
    } finally {
      if (this.#loading === loading) this.#loading = null;
    }
  }

  /**
   * Today's counts from the series table, plus what this node admitted that the table does not
   * hold yet. The lookup of those comes first: one that lands between it and the count is counted
   * twice until the next resync (too strict for a moment, never too lenient).
   */
  async #sync(day: number): Promise<void> {
    const pending = [...this.#unsynced.values()];
    const stored = pending.length ? await this.#existing(pending) : new Set<string>();
    const start = param("DateTime64(3, 'UTC')", new Date(day * DAY_MS).toISOString().slice(0, 23).replace('T', ' '));
    const rows = await this.store.query<{ service: string; key: string; n: string }>(
      sql`SELECT service, key, count() AS n FROM (
            SELECT series_id, any(key) AS key, any(service) AS service, min(first_seen) AS first
            FROM series GROUP BY series_id HAVING first >= ${start})
          GROUP BY service, key`,
    );
    if (this.#day !== day) return; // the day turned meanwhile; its own load replaces these
    // Synchronous from here: admissions made during the queries are kept (still in #unsynced).
    this.#perService.clear();
    this.#perKey.clear();
    const add = (service: string, key: string, n: number) => {
      if (service) this.#perService.set(service, (this.#perService.get(service) ?? 0) + n);
      this.#perKey.set(key, (this.#perKey.get(key) ?? 0) + n);
    };
    for (const r of rows) add(r.service, r.key, Number(r.n));
    for (const id of stored) this.#unsynced.delete(id);
    for (const s of this.#unsynced.values()) add(s.service, s.key, 1);
  }

  /** Which of these series the series table already holds. */
  async #existing(list: readonly NewSeries[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < list.length; i += 10_000) {
      const chunk = list.slice(i, i + 10_000);
      const keys = [...new Set(chunk.map((s) => s.key))];
      const rows = await this.store.query<{ id: string }>(
        sql`SELECT DISTINCT toString(series_id) AS id FROM series
            WHERE key IN ${param('Array(String)', keys)} AND series_id IN ${param('Array(UInt64)', chunk.map((s) => BigInt(s.seriesId)))}`,
      );
      for (const r of rows) out.add(r.id);
    }
    return out;
  }
}
