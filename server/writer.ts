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
import { param, sql, type Store } from './store/index.js';
import { randomBytes } from 'node:crypto';
import { planReplay, type Wal, type WalRecord } from '../ingest/wal.js';

/** The announcement of the request being handled (see `Writer.expect`), released when it adds. */
const announced = new AsyncLocalStorage<() => void>();

/** FLUSH_MS's defaults: writers wait for the commit, or were answered from the log. */
const COMMIT_FLUSH_MS = 50;
const WAL_FLUSH_MS = 1000;

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
  /** Its record's number in the write-ahead log (0: no log). */
  seq: number;
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
  /**
   * The write-ahead log (WRITE_ACK=wal): a write is answered once its points are in the log,
   * and committed to ClickHouse by the group commit after; `replay` commits what a previous
   * process left in it. Without one, a write is answered once ClickHouse committed it.
   */
  wal?: Wal;
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
  readonly #wal: Wal | undefined;
  /** The log's last item number. */
  #seq = 0;
  /** Points answered from the log and not yet committed, at most (two BATCH_POINTS: one flushing, one gathering). */
  readonly #ackAhead: number;
  /** Settles when the newest item added so far is committed (or its flush given up). */
  #lastAdded: Promise<void> = Promise.resolve();
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
    this.#wal = parts.wal;
    this.#ackAhead = 2 * config.BATCH_POINTS;
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
      flushMs: config.FLUSH_MS ?? (parts.wal ? WAL_FLUSH_MS : COMMIT_FLUSH_MS),
      maxBuffered: config.MAX_BUFFERED_POINTS,
      // With the log, writers were answered already: retry until ClickHouse takes it (the
      // buffer limit answers new writes 429 meanwhile).
      retries: parts.wal ? Infinity : config.FLUSH_RETRIES,
      // Writers waiting for their commit: flush as soon as nobody else is coming. Answered from
      // the log: gather up to a full batch (or FLUSH_MS), since ClickHouse's cost per point
      // falls with the insert's size; a read hurries it (settled).
      eager: !parts.wal,
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
   * A write request has arrived and will be read and decoded. With writers waiting for their
   * commit (WRITE_ACK=commit), waiting items flush as soon as no announced request is still on
   * its way (at most FLUSH_MS), not after FLUSH_MS every time; answered from the log, the batch
   * gathers regardless and the count is only reported.
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
      const { key, tags, timestamps, memo } = batch.series[s];
      let first = Infinity;
      let last = -Infinity;
      for (let p = 0; p < timestamps.length; p++) {
        const t = timestamps[p];
        if (t < first) first = t;
        if (t > last) last = t;
      }
      if (first > last) continue; // a series with no points this time
      let slot: number | undefined;
      if (memo?.seenBy === this) slot = memo.seenSlot;
      else {
        slot = this.#seen.get(hi)?.get(lo);
        if (memo && slot !== undefined) {
          memo.seenBy = this;
          memo.seenSlot = slot;
        }
      }
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
      const item: Item = { columns, newSeries, protocol, seq: 0 };
      if (this.#wal) {
        this.#batcher.checkRoom(columns.length);
        item.seq = ++this.#seq;
        try {
          this.#wal.appendItem(item.seq, encodeItem(item));
        } catch (e) {
          this.#seq--;
          throw new MetronomeError('MTR_WRITE_STORE_FAILED', [], { cause: e, headers: { 'retry-after': '1' } });
        }
      }
      done = this.#batcher.add(item, columns.length);
      this.#lastAdded = done.catch(() => undefined);
      // In the log, its series rows will be stored (now or by the replay): later requests
      // need not record them again.
      if (this.#wal) for (const s of newSeries) this.#record(s);
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
    // In the log: answered now; a failure to commit is retried by the batcher, and the log
    // replays it after a crash. Unless more than two full batches are already waiting for
    // ClickHouse: then the request waits for its commit as without the log, so writers cannot
    // run ahead of ClickHouse and a read waits for at most about two batches.
    if (this.#wal && this.#batcher.buffered <= this.#ackAhead) return { series: batch.series.length, points: columns.length };
    try {
      await done;
    } catch (e) {
      this.metrics.pointsRejected.inc({ reason: 'MTR_WRITE_STORE_FAILED' }, columns.length);
      throw new MetronomeError('MTR_WRITE_STORE_FAILED', [], { cause: e, headers: { 'retry-after': '1' } });
    }
    return { series: batch.series.length, points: columns.length };
  }

  /**
   * Resolves once every write answered before the call is committed to ClickHouse: reads wait
   * for it, so a write acknowledged from the log is visible to every read that follows it
   * (commonly at once; under ingest, after the group commit running): what is waiting for a
   * full batch is flushed now. Waits at most `maxMs`.
   */
  async settled(maxMs = 10_000): Promise<void> {
    if (!this.#wal || this.#batcher.buffered === 0) return;
    this.#batcher.hurry();
    let timer: NodeJS.Timeout | undefined;
    this.metrics.readsWaitingForWrites.inc();
    try {
      await Promise.race([this.#lastAdded, new Promise<void>((r) => (timer = setTimeout(r, maxMs)))]);
    } finally {
      clearTimeout(timer);
      this.metrics.readsWaitingForWrites.dec();
    }
  }

  /**
   * Commit what the log holds from a previous process, before the server serves: the items
   * after its last done record. An insert the crash cut off may have committed some of them
   * already, so each chunk first asks ClickHouse which of its (series, timestamp) samples it
   * holds and inserts only the others: a replay stores each sample once however often it is
   * cut off itself. (ClickHouse's own deduplication by token is not enough here: its log may
   * record a block whose part a kill left uncommitted.) Throws when ClickHouse refuses,
   * leaving the log as it was for the next start.
   */
  async replay(records: readonly WalRecord[]): Promise<{ items: number; points: number }> {
    if (!this.#wal) throw new Error('replay needs the write-ahead log');
    const { items } = planReplay(records);
    let points = 0;
    for (let i = 0; i < items.length; ) {
      const chunk: Item[] = [];
      for (let n = 0; i < items.length && (chunk.length === 0 || n < this.#ackAhead); i++) {
        const it = decodeItem(items[i].body, items[i].seq);
        chunk.push(it);
        n += it.columns.length;
      }
      const missing = await this.#notStored(chunk);
      if (missing.length === 0) continue;
      await this.#commit(missing, `replay-${randomBytes(6).toString('hex')}`, false);
      for (const it of missing) points += it.columns.length;
    }
    this.#seq = 0;
    this.#wal.reset(1);
    this.metrics.walReplayedPoints.inc(points);
    return { items: items.length, points };
  }

  /** The items with only their samples ClickHouse does not hold (items left empty dropped). */
  async #notStored(items: Item[]): Promise<Item[]> {
    const ids = new Set<bigint>();
    let min = Infinity;
    let max = -Infinity;
    for (const { columns: c } of items) {
      for (let k = 0; k < c.length; k++) {
        ids.add(BigInt.asUintN(64, c.seriesId[k]));
        if (c.ts[k] < min) min = c.ts[k];
        if (c.ts[k] > max) max = c.ts[k];
      }
    }
    if (ids.size === 0) return [];
    const rows = await this.store.query<{ id: string; t: string }>(
      sql`SELECT toString(series_id) AS id, toString(toUnixTimestamp64Milli(ts)) AS t FROM points
          WHERE series_id IN ${param('Array(UInt64)', [...ids])}
            AND ts >= fromUnixTimestamp64Milli(${param('Int64', min)}, 'UTC') AND ts <= fromUnixTimestamp64Milli(${param('Int64', max)}, 'UTC')`,
    );
    const held = new Set(rows.map((r) => `${r.id}@${r.t}`));
    const out: Item[] = [];
    for (const it of items) {
      const c = it.columns;
      const keep: number[] = [];
      for (let k = 0; k < c.length; k++) if (!held.has(`${BigInt.asUintN(64, c.seriesId[k])}@${c.ts[k]}`)) keep.push(k);
      if (keep.length === 0) continue;
      const pick = <A extends BigInt64Array | Float64Array>(a: A, make: new (n: number) => A): A => {
        const b = new make(keep.length);
        keep.forEach((k, o) => (b[o] = a[k]));
        return b;
      };
      out.push({ ...it, columns: { length: keep.length, seriesId: pick(c.seriesId, BigInt64Array), ts: pick(c.ts, Float64Array), value: pick(c.value, Float64Array) } });
    }
    return out;
  }

  /** The sink: series metadata first (so no point is without its series), then the points. */
  async #commit(items: Item[], token: string, logged = this.#wal !== undefined): Promise<void> {
    const lastSeq = items[items.length - 1].seq;
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
    if (logged) this.#wal!.appendDone(lastSeq);
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

  /**
   * Stop accepting and commit everything accepted. With the log, a commit still failing after
   * `logGraceMs` (ClickHouse down) is left in the log for the next start instead of holding the
   * shutdown; a slow one is waited for.
   */
  async close(logGraceMs = 10_000): Promise<void> {
    if (!this.#wal) return this.#batcher.close();
    const closed = this.#batcher.close().then(() => true);
    const deadline = Date.now() + logGraceMs;
    let committed = false;
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      committed = await Promise.race([closed, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), Math.max(0, Math.min(1000, deadline - Date.now())))))]);
      clearTimeout(timer);
      if (committed || (Date.now() >= deadline && this.#batcher.retrying)) break;
    }
    if (!committed) {
      this.log.error({ buffered: this.#batcher.buffered }, 'shutting down with writes not yet in ClickHouse: the write-ahead log replays them at the next start');
      this.#batcher.abandon();
      await closed.catch(() => undefined);
    }
    this.#wal.close();
  }
}

/**
 * An item as a log record's body: a 16-byte header (points, series JSON bytes), the three
 * point columns as they are in memory, then the protocol and new series rows as JSON.
 */
function encodeItem(item: Item): Uint8Array[] {
  const c = item.columns;
  const meta = Buffer.from(JSON.stringify({ p: item.protocol, s: item.newSeries }));
  const head = Buffer.alloc(16);
  head.writeUInt32LE(c.length, 0);
  head.writeUInt32LE(meta.length, 4);
  const view = (a: BigInt64Array | Float64Array) => new Uint8Array(a.buffer, a.byteOffset, c.length * 8);
  return [head, view(c.seriesId), view(c.ts), view(c.value), meta];
}

function decodeItem(body: Buffer, seq: number): Item {
  const n = body.readUInt32LE(0);
  const metaLen = body.readUInt32LE(4);
  // Copied out: a record's body need not be 8-byte aligned in the segment's buffer.
  const column = (i: number) => body.buffer.slice(body.byteOffset + 16 + i * n * 8, body.byteOffset + 16 + (i + 1) * n * 8);
  const meta = JSON.parse(body.subarray(16 + 3 * n * 8, 16 + 3 * n * 8 + metaLen).toString()) as { p: string; s: SeriesRecord[] };
  return {
    columns: { length: n, seriesId: new BigInt64Array(column(0)), ts: new Float64Array(column(1)), value: new Float64Array(column(2)) },
    newSeries: meta.s,
    protocol: meta.p,
    seq,
  };
}
