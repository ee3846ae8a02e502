import type { Logger } from 'pino';
import { BackpressureError, Batcher, ClosedError } from '../ingest/batcher.js';
import { concatColumns, toColumns } from '../ingest/columns.js';
import { idString } from '../ingest/series-id.js';
import type { NewSeries, PointColumns, WriteBatch } from '../ingest/types.js';
import { IssueList, validateBatch, type WriteLimits } from '../ingest/validate.js';
import type { Config } from './config.js';
import { MetronomeError } from './errors.js';
import type { Metrics } from './metrics.js';
import type { Store } from './store/index.js';

/** A series' last_seen is re-recorded at most this often. */
const LAST_SEEN_REFRESH_MS = 3_600_000;

interface SeriesRecord extends NewSeries {
  hi: number;
  lo: number;
}

interface Item {
  columns: PointColumns;
  newSeries: SeriesRecord[];
  protocol: string;
}

export interface WriteResult {
  series: number;
  points: number;
}

/**
 * The write path after decoding: validate -> series ids -> batcher -> store. Every protocol's
 * route ends here, so all share the same rules and the same all-or-nothing acknowledgement.
 */
export class Writer {
  readonly limits: WriteLimits;
  /**
   * Checked after validation, before anything is buffered (server/limits/admission.ts: token
   * service scope, point rate, new-series limits). `fresh` are the series new to this process.
   * Throws a MetronomeError to refuse the whole request.
   */
  admit?: (batch: WriteBatch, fresh: readonly NewSeries[]) => void | Promise<void>;
  readonly #batcher: Batcher<Item>;
  /** series id (hi word -> lo word) -> when its metadata row was last written (ms). */
  readonly #seen = new Map<number, Map<number, number>>();
  #seenCount = 0;

  constructor(
    private readonly store: Store,
    config: Config,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.limits = {
      maxKeyLength: config.MAX_KEY_LENGTH,
      maxTags: config.MAX_TAGS_PER_SERIES,
      maxTagNameLength: config.MAX_TAG_NAME_LENGTH,
      maxTagValueBytes: config.MAX_TAG_VALUE_BYTES,
      retentionMs: config.RETENTION_DAYS * 86_400_000,
      maxFutureMs: config.MAX_FUTURE_MS,
      maxIssues: 100,
    };
    this.#batcher = new Batcher<Item>((items, token) => this.#commit(items, token), {
      maxPoints: config.BATCH_POINTS,
      flushMs: config.FLUSH_MS,
      maxBuffered: config.MAX_BUFFERED_POINTS,
      retries: config.FLUSH_RETRIES,
    });
    this.#batcher.onFlush = (s) => {
      const ok = s.error === undefined;
      metrics.flushes.inc({ outcome: ok ? 'ok' : 'error' });
      metrics.flushSeconds.observe(s.ms / 1000);
      metrics.flushPoints.observe(s.points);
      metrics.bufferedPoints.set(this.#batcher.buffered);
      if (!ok) log.error({ err: s.error, points: s.points, attempts: s.attempts }, 'flush failed; writers get 503');
      else if (s.attempts > 1) log.warn({ points: s.points, attempts: s.attempts }, 'flush succeeded after retries');
    };
  }

  get buffered(): number {
    return this.#batcher.buffered;
  }

  /** Series this process has recorded (its seen-set size). */
  get seenSeries(): number {
    return this.#seenCount;
  }

  /**
   * Validate a decoded batch and store it. Resolves once every point is committed. Throws a
   * MetronomeError: MTR_WRITE_INVALID (with the issues) when anything is invalid, in which case
   * nothing is stored; 429 when the buffer is full; 503 when storage fails.
   */
  async write(batch: WriteBatch, protocol: string, issues?: IssueList, now = Date.now()): Promise<WriteResult> {
    const list = validateBatch(batch, this.limits, now, issues ?? new IssueList(this.limits.maxIssues));
    if (!list.ok) {
      for (const i of list.items) this.metrics.pointsRejected.inc({ reason: i.code });
      throw new MetronomeError('MTR_WRITE_INVALID', [list.count], {
        details: { issues: list.items, truncated: list.count > list.items.length },
      });
    }
    if (batch.points === 0) return { series: batch.series.length, points: 0 };
    const { columns, ids } = toColumns(batch);
    const newSeries: SeriesRecord[] = [];
    const fresh: SeriesRecord[] = [];
    for (let s = 0; s < batch.series.length; s++) {
      const hi = ids[2 * s];
      const lo = ids[2 * s + 1];
      const last = this.#seen.get(hi)?.get(lo);
      if (last !== undefined && now - last < LAST_SEEN_REFRESH_MS) continue;
      const { key, tags, timestamps } = batch.series[s];
      let first = Infinity;
      let lastTs = -Infinity;
      for (let p = 0; p < timestamps.length; p++) {
        const t = timestamps[p];
        if (t < first) first = t;
        if (t > lastTs) lastTs = t;
      }
      const rec: SeriesRecord = {
        hi,
        lo,
        seriesId: idString([hi, lo]),
        key,
        tags,
        service: tags.service ?? tags.job ?? '',
        firstSeen: last === undefined ? first : lastTs,
        lastSeen: lastTs,
      };
      newSeries.push(rec);
      if (last === undefined) fresh.push(rec);
    }
    if (this.admit) {
      const pending = this.admit(batch, fresh);
      if (pending) await pending;
    }
    let done: Promise<void>;
    try {
      done = this.#batcher.add({ columns, newSeries, protocol }, columns.length);
    } catch (e) {
      if (e instanceof BackpressureError) {
        this.metrics.pointsRejected.inc({ reason: 'MTR_WRITE_BACKPRESSURE' }, columns.length);
        throw new MetronomeError('MTR_WRITE_BACKPRESSURE', [e.buffered], { headers: { 'retry-after': '1' } });
      }
      if (e instanceof ClosedError) throw new MetronomeError('MTR_WRITE_SHUTTING_DOWN');
      throw e;
    }
    this.metrics.bufferedPoints.set(this.#batcher.buffered);
    try {
      await done;
    } catch (e) {
      this.metrics.pointsRejected.inc({ reason: 'MTR_WRITE_STORE_FAILED' }, columns.length);
      throw new MetronomeError('MTR_WRITE_STORE_FAILED', [], { cause: e, headers: { 'retry-after': '1' } });
    }
    return { series: batch.series.length, points: columns.length };
  }

  /** The sink: series metadata first (so no point is without its series), then the points. */
  async #commit(items: Item[], token: string): Promise<void> {
    const fresh: SeriesRecord[] = [];
    const byId = new Map<string, SeriesRecord>();
    for (const it of items) {
      for (const s of it.newSeries) {
        if (!byId.has(s.seriesId)) {
          byId.set(s.seriesId, s);
          fresh.push(s);
        }
      }
    }
    if (fresh.length > 0) await this.store.insertSeries(fresh);
    await this.store.insertPoints(concatColumns(items.map((i) => i.columns)), token);
    const now = Date.now();
    for (const s of fresh) {
      let inner = this.#seen.get(s.hi);
      if (!inner) this.#seen.set(s.hi, (inner = new Map()));
      if (!inner.has(s.lo)) {
        this.metrics.seriesCreated.inc();
        this.#seenCount++;
      }
      inner.set(s.lo, now);
    }
    for (const it of items) this.metrics.pointsAccepted.inc({ protocol: it.protocol }, it.columns.length);
  }

  /** Stop accepting and commit everything accepted. */
  async close(): Promise<void> {
    await this.#batcher.close();
  }
}
