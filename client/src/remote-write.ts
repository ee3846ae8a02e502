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

const varintLen = (v: number): number => {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
};

/** Writes protobuf fields into a buffer sized beforehand (sizes are computed in a first pass). */
class Out {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  /** Unsigned varint; exact for integers up to 2^53 (timestamps in ms). */
  varint(v: number): void {
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  /** A length-delimited field header: tag (wire type 2) and length. */
  len(field: number, n: number): void {
    this.buf[this.pos++] = (field << 3) | 2;
    this.varint(n);
  }

  string(field: number, s: string, bytes: number): void {
    this.len(field, bytes);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }
}

const byName = (a: [string, string], b: [string, string]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/**
 * The uncompressed protobuf bytes of a WriteRequest with `samples` at `timestamps` and
 * `metadata`. Two passes (sizes, then bytes into one buffer): 3x faster than nested
 * scratch buffers (115 samples, the example app's collection: 2.0 ms instead of 6.3 ms on the
 * loaded development VM), which matters as it runs on the app's event loop.
 */
export function encodeWriteRequest(samples: readonly { sample: Sample; timestamp: number }[], metadata: readonly MetricMeta[] = []): Uint8Array {
  // Pass 1: sizes. Per series: sorted labels with their byte lengths, and the message sizes.
  const series: { labels: [string, string][]; lens: number[]; size: number; sampleSize: number }[] = new Array(samples.length);
  let total = 0;
  for (let i = 0; i < samples.length; i++) {
    const labels = Object.entries(samples[i].sample.labels).sort(byName);
    const lens: number[] = new Array(labels.length * 3);
    let size = 0;
    for (let j = 0; j < labels.length; j++) {
      const n = Buffer.byteLength(labels[j][0]);
      const v = Buffer.byteLength(labels[j][1]);
      const label = 1 + varintLen(n) + n + 1 + varintLen(v) + v;
      lens[3 * j] = n;
      lens[3 * j + 1] = v;
      lens[3 * j + 2] = label;
      size += 1 + varintLen(label) + label;
    }
    const sampleSize = 9 + 1 + varintLen(samples[i].timestamp);
    size += 1 + varintLen(sampleSize) + sampleSize;
    series[i] = { labels, lens, size, sampleSize };
    total += 1 + varintLen(size) + size;
  }
  const metaSizes = metadata.map((m) => {
    const name = Buffer.byteLength(m.name);
    const help = m.help ? Buffer.byteLength(m.help) : 0;
    const unit = m.unit ? Buffer.byteLength(m.unit) : 0;
    const size = 2 + 1 + varintLen(name) + name + (help ? 1 + varintLen(help) + help : 0) + (unit ? 1 + varintLen(unit) + unit : 0);
    total += 1 + varintLen(size) + size;
    return { name, help, unit, size };
  });
  // Pass 2: bytes.
  const out = new Out(Buffer.allocUnsafe(total));
  for (let i = 0; i < samples.length; i++) {
    const s = series[i];
    out.len(1, s.size);
    for (let j = 0; j < s.labels.length; j++) {
      out.len(1, s.lens[3 * j + 2]);
      out.string(1, s.labels[j][0], s.lens[3 * j]);
      out.string(2, s.labels[j][1], s.lens[3 * j + 1]);
    }
    out.len(2, s.sampleSize);
    out.buf[out.pos++] = (1 << 3) | 1; // value: double
    out.buf.writeDoubleLE(samples[i].sample.value, out.pos);
    out.pos += 8;
    out.buf[out.pos++] = 2 << 3; // timestamp: varint
    out.varint(samples[i].timestamp);
  }
  for (let i = 0; i < metadata.length; i++) {
    const m = metadata[i];
    const z = metaSizes[i];
    out.len(3, z.size);
    out.buf[out.pos++] = 1 << 3; // type: enum
    out.buf[out.pos++] = META_TYPE[m.type];
    out.string(2, m.name, z.name);
    if (z.help) out.string(4, m.help, z.help);
    if (z.unit) out.string(5, m.unit!, z.unit);
  }
  if (out.pos !== total) throw new Error(`remote-write encoder wrote ${out.pos} bytes of ${total}`);
  return out.buf;
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
