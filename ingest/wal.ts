import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writevSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The write-ahead log: what the writer acknowledged before ClickHouse committed it, kept in
 * files until it is committed, and replayed at start after a crash (Prometheus' WAL, for the
 * same reason: a request is answered once its points are on disk, not once the database has
 * merged them into a part).
 *
 * Two kinds of record, in the order the writer makes them:
 * - an item: one request's points, numbered by `seq` (1, 2, 3, ... within a log);
 * - done: the items up to `seq` are committed (the group commit takes items in order).
 * What the replay must do with the items after the last done record (some may have been
 * committed by an insert the crash cut off before its done record) is the writer's business.
 *
 * Records are written with one `writev` each and never fsynced, like ClickHouse's own parts
 * (fsync_after_insert is off by default): a process crash (SIGKILL, OOM) loses nothing
 * acknowledged; a machine crash may lose what the kernel had not yet written out. A record is
 * framed by a magic number and its length at both ends, so a write torn by the crash ends the
 * replay there (that request was never answered).
 *
 * Segments: `wal/<first seq>.log`. A new one starts past `segmentBytes`; a segment is deleted
 * once every item in it is done and a later segment exists.
 */

export const RecordType = { Item: 1, Done: 2 } as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

export interface WalRecord {
  type: RecordType;
  seq: number;
  body: Buffer;
}

const MAGIC = 0x4c41574d; // "MWAL"
const END = 0x444e454d; // "MEND"
const HEADER = 20; // magic u32, type u32, seq f64, body length u32
const TRAILER = 8; // body length u32, END u32

interface Segment {
  path: string;
  /** Highest item seq written to it (0: none). */
  lastItem: number;
}

export interface WalOptions {
  /** Start a new segment once the current one holds this many bytes. */
  segmentBytes?: number;
}

export class Wal {
  readonly #dir: string;
  readonly #segmentBytes: number;
  readonly #segments: Segment[] = [];
  #fd = -1;
  #size = 0;
  readonly #header = Buffer.allocUnsafe(HEADER);
  readonly #trailer = Buffer.allocUnsafe(TRAILER);

  private constructor(dir: string, opts: WalOptions) {
    this.#dir = dir;
    this.#segmentBytes = opts.segmentBytes ?? 64 * 1024 * 1024;
  }

  /**
   * Open the log in `dir` (created if missing). Returns the records left by the previous
   * process, in order, up to the first torn one; the caller commits what they say is not done,
   * then calls `reset` before appending.
   */
  static open(dir: string, opts: WalOptions = {}): { wal: Wal; records: WalRecord[] } {
    mkdirSync(dir, { recursive: true });
    const wal = new Wal(dir, opts);
    const records: WalRecord[] = [];
    for (const name of segmentNames(dir)) {
      // Nothing after a torn record was acknowledged either.
      if (readSegment(readFileSync(join(dir, name)), records)) break;
    }
    return { wal, records };
  }

  /** Delete every segment (what they held is committed) and start a new one at `nextSeq`. */
  reset(nextSeq: number): void {
    this.#closeFd();
    for (const name of segmentNames(this.#dir)) unlinkSync(join(this.#dir, name));
    this.#segments.length = 0;
    this.#startSegment(nextSeq);
  }

  /** Append an item record; `parts` are its body, written as they are (no copy). */
  appendItem(seq: number, parts: readonly Uint8Array[]): void {
    if (this.#size >= this.#segmentBytes) this.#startSegment(seq);
    this.#append(RecordType.Item, seq, parts);
    this.#segments[this.#segments.length - 1].lastItem = seq;
  }

  /** Items up to `lastSeq` are committed; segments holding only those are deleted. */
  appendDone(lastSeq: number): void {
    this.#append(RecordType.Done, lastSeq, []);
    while (this.#segments.length > 1 && this.#segments[0].lastItem <= lastSeq) {
      unlinkSync(this.#segments.shift()!.path);
    }
  }

  close(): void {
    this.#closeFd();
  }

  #append(type: RecordType, seq: number, parts: readonly Uint8Array[]): void {
    let len = 0;
    for (const p of parts) len += p.byteLength;
    const h = this.#header;
    h.writeUInt32LE(MAGIC, 0);
    h.writeUInt32LE(type, 4);
    h.writeDoubleLE(seq, 8);
    h.writeUInt32LE(len, 16);
    const t = this.#trailer;
    t.writeUInt32LE(len, 0);
    t.writeUInt32LE(END, 4);
    const total = HEADER + len + TRAILER;
    let written = writevSync(this.#fd, [h, ...parts, t]);
    // A regular file takes a writev whole unless the disk fills; finish a short one or fail.
    if (written < total) {
      const all = Buffer.concat([h, ...parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)), t]);
      while (written < total) {
        const n = writevSync(this.#fd, [all.subarray(written)]);
        if (n <= 0) throw new Error(`write-ahead log: short write to ${this.#segments.at(-1)?.path}`);
        written += n;
      }
    }
    this.#size += total;
  }

  #startSegment(firstSeq: number): void {
    this.#closeFd();
    const path = join(this.#dir, `${String(firstSeq).padStart(16, '0')}.log`);
    this.#fd = openSync(path, 'a');
    this.#size = 0;
    this.#segments.push({ path, lastItem: 0 });
  }

  #closeFd(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }
}

function segmentNames(dir: string): string[] {
  return readdirSync(dir).filter((n) => /^\d{16}\.log$/.test(n)).sort();
}

/** Parse a segment's records into `out`; true when it ends in a torn record. */
function readSegment(buf: Buffer, out: WalRecord[]): boolean {
  let o = 0;
  while (o < buf.length) {
    if (o + HEADER > buf.length || buf.readUInt32LE(o) !== MAGIC) return true;
    const type = buf.readUInt32LE(o + 4) as RecordType;
    const seq = buf.readDoubleLE(o + 8);
    const len = buf.readUInt32LE(o + 16);
    const end = o + HEADER + len;
    if (end + TRAILER > buf.length || buf.readUInt32LE(end) !== len || buf.readUInt32LE(end + 4) !== END) return true;
    if (type !== RecordType.Item && type !== RecordType.Done) return true;
    out.push({ type, seq, body: buf.subarray(o + HEADER, end) });
    o = end + TRAILER;
  }
  return false;
}

/** What a replay must commit: the items after the last done record, in order, and the seq to continue from. */
export function planReplay(records: readonly WalRecord[]): { items: WalRecord[]; nextSeq: number } {
  let done = 0;
  let maxSeq = 0;
  for (const r of records) {
    if (r.type === RecordType.Done && r.seq > done) done = r.seq;
    if (r.seq > maxSeq) maxSeq = r.seq;
  }
  const items = records.filter((r) => r.type === RecordType.Item && r.seq > done).sort((a, b) => a.seq - b.seq);
  return { items, nextSeq: maxSeq + 1 };
}
