/**
 * A decoder for ClickHouse's RowBinaryWithNamesAndTypes output: the engine's leaf results come
 * back in it instead of JSONEachRow (no text to scan, floats as 8 raw bytes; bench/query-profile.ts).
 *
 * Values take the shapes JSONEachRow gives with output_format_json_quote_64bit_integers, so a
 * caller sees the same rows either way: 64-bit integers as decimal strings, tuples as arrays,
 * maps as objects, NULL as null; NaN and ±Inf are numbers (JSON spells them as quoted strings,
 * which matrix.ts' chFloat reads too). Only the types Metronome's queries return are known; any
 * other type is refused with its name rather than misread.
 */

type Reader = (r: Cursor) => unknown;

class Cursor {
  pos = 0;
  readonly view: DataView;
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Unsigned LEB128, as RowBinary writes lengths. */
  varint(): number {
    let out = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.buf.length || shift > 49) throw new Error('RowBinary: truncated or malformed result');
      const b = this.buf[this.pos++];
      out += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return out;
      shift += 7;
    }
  }

  string(): string {
    const n = this.varint();
    const start = this.pos;
    this.pos += n;
    if (this.pos > this.buf.length) throw new Error('RowBinary: truncated or malformed result');
    // Short ASCII strings (label names and values) are the common case: skip the UTF-8 decoder.
    if (n < 64) {
      let s = '';
      for (let i = start; i < start + n; i++) {
        const c = this.buf[i];
        if (c > 0x7f) return UTF8.decode(this.buf.subarray(start, start + n));
        s += String.fromCharCode(c);
      }
      return s;
    }
    return UTF8.decode(this.buf.subarray(start, start + n));
  }
}

const UTF8 = new TextDecoder();

/** Split a type's argument list at top-level commas: 'String, Array(Tuple(A, B))' -> two. */
function splitArgs(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(s.slice(from, i).trim());
      from = i + 1;
    }
  }
  out.push(s.slice(from).trim());
  return out;
}

/** A reader for one ClickHouse type name. */
export function readerFor(type: string): Reader {
  const open = type.indexOf('(');
  const name = open < 0 ? type : type.slice(0, open);
  const inner = open < 0 ? '' : type.slice(open + 1, type.lastIndexOf(')'));
  switch (name) {
    case 'String':
      return (r) => r.string();
    case 'UInt8':
    case 'Bool':
      return (r) => r.buf[r.pos++];
    case 'Int8':
      return (r) => r.view.getInt8(r.pos++);
    case 'UInt16':
      return (r) => ((r.pos += 2), r.view.getUint16(r.pos - 2, true));
    case 'Int16':
      return (r) => ((r.pos += 2), r.view.getInt16(r.pos - 2, true));
    case 'UInt32':
      return (r) => ((r.pos += 4), r.view.getUint32(r.pos - 4, true));
    case 'Int32':
      return (r) => ((r.pos += 4), r.view.getInt32(r.pos - 4, true));
    case 'UInt64':
      return (r) => ((r.pos += 8), r.view.getBigUint64(r.pos - 8, true).toString());
    case 'Int64':
      return (r) => ((r.pos += 8), r.view.getBigInt64(r.pos - 8, true).toString());
    case 'Float32':
      return (r) => ((r.pos += 4), r.view.getFloat32(r.pos - 4, true));
    case 'Float64':
      return (r) => ((r.pos += 8), r.view.getFloat64(r.pos - 8, true));
    case 'LowCardinality':
      return readerFor(inner);
    case 'SimpleAggregateFunction':
      // Stored as its value type (the series table's columns).
      return readerFor(splitArgs(inner)[1]);
    case 'Nullable': {
      const read = readerFor(inner);
      return (r) => (r.buf[r.pos++] === 1 ? null : read(r));
    }
    case 'Array': {
      // The hot shape (a grid function's values) gets a loop without a closure call per value.
      if (inner === 'Nullable(Float64)') {
        return (r) => {
          const n = r.varint();
          const out = new Array<number | null>(n);
          for (let i = 0; i < n; i++) {
            if (r.buf[r.pos++] === 1) out[i] = null;
            else {
              out[i] = r.view.getFloat64(r.pos, true);
              r.pos += 8;
            }
          }
          return out;
        };
      }
      const read = readerFor(inner);
      return (r) => {
        const n = r.varint();
        const out = new Array<unknown>(n);
        for (let i = 0; i < n; i++) out[i] = read(r);
        return out;
      };
    }
    case 'Tuple': {
      // Named tuple elements ('a String') carry the type after the name.
      const reads = splitArgs(inner).map((t) => readerFor(/^[A-Za-z_][A-Za-z0-9_]* [A-Z]/.test(t) ? t.slice(t.indexOf(' ') + 1) : t));
      return (r) => reads.map((read) => read(r));
    }
    case 'Map': {
      const [k, v] = splitArgs(inner).map(readerFor);
      return (r) => {
        const n = r.varint();
        const out: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const key = k(r) as string;
          out[key] = v(r);
        }
        return out;
      };
    }
    default:
      throw new Error(`RowBinary: no reader for ClickHouse type ${type}`);
  }
}

/** Rows (objects by column name) of a RowBinaryWithNamesAndTypes result. */
export function decodeRowBinary<T = Record<string, unknown>>(buf: Uint8Array): T[] {
  const rows: T[] = [];
  const reader = new RowReader<T>(buf);
  for (let row = reader.next(); row !== undefined; row = reader.next()) rows.push(row);
  return rows;
}

/**
 * decodeRowBinary for large results: counts the bytes decoded with `pace.tick` after each row
 * and awaits `pace.pause()` when it asks, so a leaf of a million samples does not stop the event
 * loop while it is decoded (issue 10).
 */
export async function decodeRowBinaryPaced<T = Record<string, unknown>>(buf: Uint8Array, pace: { tick(units: number): boolean; pause(): Promise<void> }): Promise<T[]> {
  const rows: T[] = [];
  const reader = new RowReader<T>(buf);
  let at = reader.pos;
  for (let row = reader.next(); row !== undefined; row = reader.next()) {
    rows.push(row);
    if (pace.tick(1 + ((reader.pos - at) >> 2))) await pace.pause();
    at = reader.pos;
  }
  return rows;
}

/** Reads a result's header, then one row at a time. */
class RowReader<T> {
  readonly #r: Cursor;
  readonly #names: string[] = [];
  readonly #reads: Reader[] = [];

  constructor(readonly buf: Uint8Array) {
    this.#r = new Cursor(buf);
    if (buf.length === 0) return;
    const cols = this.#r.varint();
    for (let i = 0; i < cols; i++) this.#names.push(this.#r.string());
    for (let i = 0; i < cols; i++) this.#reads.push(readerFor(this.#r.string()));
  }

  get pos(): number {
    return this.#r.pos;
  }

  /** The next row, or undefined after the last. */
  next(): T | undefined {
    const r = this.#r;
    if (r.pos >= this.buf.length) {
      // Fixed-width reads past the end come back as undefined from a Uint8Array: check once per result.
      if (r.pos !== this.buf.length) throw new Error('RowBinary: truncated or malformed result');
      return undefined;
    }
    const row: Record<string, unknown> = {};
    for (let i = 0; i < this.#names.length; i++) row[this.#names[i]] = this.#reads[i](r);
    return row as T;
  }
}
