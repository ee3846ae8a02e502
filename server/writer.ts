import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';
import { BackpressureError, Batcher, ClosedError } from '../ingest/batcher.js';
import { concatColumns, toColumns } from '../ingest/columns.js';
import { idString } from '../ingest/series-id.js';
import type { NewSeries, PointColumns, WriteBatch } from '../ingest/types.js';
import { IssueList, validateBatch, type WriteLimits } from '../ingest/validate.js';
import type { Config } from './config.js';
import { MetronomeError } from './errors.js';
import type { Metrics } from './metrics.js';
import type { MetricMetadata, StaleMark } from '../ingest/decode-remote-write.js';
import type { RollupLedger } from './rollups/job.js';
import { recordSeriesEnds } from './series/ends.js';
import { MetadataRecorder } from './series/metadata.js';
import { LAST_SEEN_MARGIN_MS } from './series/lookup.js';
import type { Store } from './store/index.js';

/** The announcement of the request being handled (see `Writer.expect`), released when it adds. */
const announced = new AsyncLocalStorage<() => void>();

/** Run `fn` (a request's handler) as the write announced by `release`: its write releases it on adding. */
export function asAnnouncedWrite<T>(release: () => void, fn: () => T): T {
  return announced.run(release, fn);
}

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
export interface WriterParts {
  /**
   * Checked after validation, before anything is buffered (server/limits/admission.ts: token
   * service scope, point rate, new-series limits). `fresh` are the series new to this process.
   * Throws a MetronomeError to refuse the whole request.
   */
  admit?: (batch: WriteBatch, fresh: readonly NewSeries[]) => void | Promise<void>;
  /**
   * Shared with the rollup job (server/rollups/job.ts): a flush marks the closed hours it writes
   * into as dirty before writing the points, and the job leaves hours alone while a flush writes.
   */
  rollups?: RollupLedger;
}

/** What a write request carries besides its points, stored once the points are committed. */
export interface WriteExtras {
  /** Where series ended (Prometheus staleness markers); those outside the accepted window are dropped. */
  staleMarks?: readonly StaleMark[];
  /** Metric metadata (type, help, unit), already filtered to what the writer's token may set. */
  metadata?: readonly MetricMetadata[];
}

export class Writer {
  readonly limits: WriteLimits;
  readonly #metadata: MetadataRecorder;
  readonly admit: WriterParts['admit'];
  readonly rollups: WriterParts['rollups'];
  readonly #batcher: Batcher<Item>;
  /**
   * Series this process has recorded: id (hi word -> lo word) -> slot in #first/#last, the
   * first_seen/last_seen (data time) of the newest row written for it.
   */
  readonly #seen = new Map<number, Map<number, number>>();
  #seenCount = 0;
  #first = new Float64Array(1024);
  #last = new Float64Array(1024);

  constructor(
    private readonly store: Store,
    config: Config,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    parts: WriterParts = {},
  ) {
    this.admit = parts.admit;
    this.rollups = parts.rollups;
    this.#metadata = new MetadataRecorder(store);
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
      eager: true,
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

  /**
   * A write request has arrived and will be read and decoded: waiting items flush as soon as no
   * announced request is still on its way (at most FLUSH_MS), not after FLUSH_MS every time.
   * The routes announce at onRequest and release when the request answers; `write` releases on
   * adding (run it under `asAnnouncedWrite`).
   */
  expect(): () => void {
    const release = this.#batcher.expect();
    this.metrics.writesArriving.inc();
    let settled = false;
    return () => {
      if (settled) return;
      settled = true;
      this.metrics.writesArriving.dec();
      release();
    };
  }

  /** Series this process has recorded (its seen-set size). */
  get seenSeries(): number {
    return this.#seenCount;
  }

  /**
   * The one door for what clients and Metronome itself write: validate a decoded batch and store
   * it, then its staleness markers and metadata. Resolves once all is committed. Throws a
   * MetronomeError: MTR_WRITE_INVALID (with the issues) when anything is invalid, in which case
   * nothing is stored; 429 when the buffer is full; 503 when storage fails.
   */
  async write(batch: WriteBatch, protocol: string, issues?: IssueList, extras: WriteExtras = {}, now = Date.now()): Promise<WriteResult> {
    const result = await this.#writePoints(batch, protocol, issues, now);
    // After the points: a client that sees an error re-sends, and re-sent points deduplicate.
    try {
      if (extras.staleMarks?.length) await this.endSeries(extras.staleMarks, now);
      if (extras.metadata?.length) await this.#metadata.record(extras.metadata, now);
    } catch (e) {
      throw new MetronomeError('MTR_WRITE_STORE_FAILED', [], { cause: e, headers: { 'retry-after': '1' } });
    }
    return result;
  }

  /**
   * Record where series ended (staleness markers, alerting's resolved series) in series_ends,
   * for marks inside the window points must be in. Rare, so written at once, not batched.
   */
  async endSeries(marks: readonly StaleMark[], now = Date.now()): Promise<number> {
    const min = now - this.limits.retentionMs;
    const max = now + this.limits.maxFutureMs;
    return recordSeriesEnds(this.store, marks.filter((m) => Number.isInteger(m.ts) && m.ts >= min && m.ts <= max));
  }

  async #writePoints(batch: WriteBatch, protocol: string, issues: IssueList | undefined, now: number): Promise<WriteResult> {
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
      const { key, tags, timestamps } = batch.series[s];
      let first = Infinity;
      let last = -Infinity;
      for (let p = 0; p < timestamps.length; p++) {
        const t = timestamps[p];
        if (t < first) first = t;
        if (t > last) last = t;
      }
      if (first > last) continue; // a series with no points this time
      const slot = this.#seen.get(hi)?.get(lo);
      if (slot !== undefined) {
        // The series row must cover the data: re-record when these points reach before the
        // recorded first_seen, or more than the margin past the recorded last_seen.
        const f = this.#first[slot];
        const l = this.#last[slot];
        if (first >= f && last <= l + LAST_SEEN_MARGIN_MS) continue;
        if (f < first) first = f;
        if (l > last) last = l;
      }
      const rec: SeriesRecord = {
        hi,
        lo,
        seriesId: idString([hi, lo]),
        key,
        tags,
        service: tags.service ?? tags.job ?? '',
        firstSeen: first,
        lastSeen: last,
      };
      newSeries.push(rec);
      if (slot === undefined) fresh.push(rec);
    }
    if (this.admit) {
      const pending = this.admit(batch, fresh);
      if (pending) await pending;
    }
    let done: Promise<void>;
    try {
      done = this.#batcher.add({ columns, newSeries, protocol }, columns.length);
      announced.getStore()?.();
    } catch (e) {
      announced.getStore()?.();
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
    const byId = new Map<string, SeriesRecord>();
    for (const it of items) {
      for (const s of it.newSeries) {
        const had = byId.get(s.seriesId);
        if (!had) byId.set(s.seriesId, { ...s });
        else {
          // Two requests in one flush: one row with the hull of both.
          if (s.firstSeen < had.firstSeen) had.firstSeen = s.firstSeen;
          if (s.lastSeen > had.lastSeen) had.lastSeen = s.lastSeen;
        }
      }
    }
    const rows = [...byId.values()];
    const points = concatColumns(items.map((i) => i.columns));
    const flight = this.rollups?.begin(points.ts, points.length);
    try {
      if (rows.length > 0) await this.store.insertSeries(rows);
      if (flight && flight.dirty.length > 0) {
        // Before the points: a crash between the two leaves the hour recomputed for nothing,
        // never a late point missing from a rollup read as done.
        await this.store.insertRows('rollup_dirty', flight.dirty.map((w) => ({ w, at: flight.at })));
        flight.marked();
      }
      await this.store.insertPoints(points, token);
    } finally {
      flight?.release();
    }
    for (const s of rows) this.#record(s);
    for (const it of items) this.metrics.pointsAccepted.inc({ protocol: it.protocol }, it.columns.length);
  }

  /** Remember the span a committed series row covers (merged with what was recorded before). */
  #record(s: SeriesRecord): void {
    let inner = this.#seen.get(s.hi);
    if (!inner) this.#seen.set(s.hi, (inner = new Map()));
    const slot = inner.get(s.lo);
    if (slot === undefined) {
      const at = this.#seenCount++;
      if (at === this.#first.length) {
        const first = new Float64Array(at * 2);
        const last = new Float64Array(at * 2);
        first.set(this.#first);
        last.set(this.#last);
        this.#first = first;
        this.#last = last;
      }
      inner.set(s.lo, at);
      this.#first[at] = s.firstSeen;
      this.#last[at] = s.lastSeen;
      this.metrics.seriesCreated.inc();
      return;
    }
    if (s.firstSeen < this.#first[slot]) this.#first[slot] = s.firstSeen;
    if (s.lastSeen > this.#last[slot]) this.#last[slot] = s.lastSeen;
  }

  /** Stop accepting and commit everything accepted. */
  async close(): Promise<void> {
    await this.#batcher.close();
  }
}
