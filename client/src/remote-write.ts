import snappy from 'snappyjs';
import type { MetricMeta, Sample } from './metrics.js';

/**
 * Prometheus remote write 1.0: a protobuf `prometheus.WriteRequest` (prompb/remote.proto and
 * types.proto), snappy block-compressed. Only the fields a sender fills are encoded: time series
 * (labels sorted by name, one sample each) and metric metadata (type, family name, help, unit),
 * which tells Metronome a family's type without guessing from its name.
 */

// MetricMetadata.MetricType in prompb/types.proto.
const META_TYPE = { counter: 1, gauge: 2, histogram: 3 } as const;

/** A growable byte buffer with the protobuf primitives the WriteRequest needs. */
class ProtoWriter {
  buf = new Uint8Array(1024);
  len = 0;

  #room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** Unsigned varint; exact for integers up to 2^53 (timestamps in ms). */
  varint(v: number): void {
    this.#room(10);
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  double(field: number, v: number): void {
    this.tag(field, 1);
    this.#room(8);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 8).setFloat64(0, v, true);
    this.len += 8;
  }

  string(field: number, s: string): void {
    const bytes = utf8.encode(s);
    this.tag(field, 2);
    this.varint(bytes.length);
    this.bytes(bytes);
  }

  bytes(b: Uint8Array): void {
    this.#room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** A length-delimited submessage written by `fn` into a scratch writer. */
  message(field: number, scratch: ProtoWriter, fn: (w: ProtoWriter) => void): void {
    scratch.len = 0;
    fn(scratch);
    this.tag(field, 2);
    this.varint(scratch.len);
    this.bytes(scratch.buf.subarray(0, scratch.len));
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

const utf8 = new TextEncoder();

const byName = (a: [string, string], b: [string, string]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/** The uncompressed protobuf bytes of a WriteRequest with `samples` at `timestamps` and `metadata`. */
export function encodeWriteRequest(samples: readonly { sample: Sample; timestamp: number }[], metadata: readonly MetricMeta[] = []): Uint8Array {
  const w = new ProtoWriter();
  const series = new ProtoWriter();
  const inner = new ProtoWriter();
  for (const { sample, timestamp } of samples) {
    w.message(1, series, (ts) => {
      for (const [name, value] of Object.entries(sample.labels).sort(byName)) {
        ts.message(1, inner, (l) => {
          l.string(1, name);
          l.string(2, value);
        });
      }
      ts.message(2, inner, (s) => {
        s.double(1, sample.value);
        s.tag(2, 0);
        s.varint(timestamp);
      });
    });
  }
  for (const m of metadata) {
    w.message(3, series, (md) => {
      md.tag(1, 0);
      md.varint(META_TYPE[m.type]);
      md.string(2, m.name);
      if (m.help) md.string(4, m.help);
      if (m.unit) md.string(5, m.unit);
    });
  }
  return w.finish();
}

/** The request body: the WriteRequest, snappy block-compressed as the spec requires. */
export function compress(raw: Uint8Array): Uint8Array {
  return snappy.compress(raw);
}

/** Headers every remote-write 1.0 request carries. */
export const REMOTE_WRITE_HEADERS = {
  'content-type': 'application/x-protobuf',
  'content-encoding': 'snappy',
  'x-prometheus-remote-write-version': '0.1.0',
} as const;
