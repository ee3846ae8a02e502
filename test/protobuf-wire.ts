/**
 * Protobuf written by hand, for tests that need bodies no real encoder would build cheaply
 * (an OTLP histogram with 4 M bounds, a remote-write series with a million labels).
 */

export function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Buffer.from(out);
}

/** A length-delimited field. */
export const len = (field: number, payload: Buffer) => Buffer.concat([varint((field << 3) | 2), varint(payload.length), payload]);
export const str = (field: number, s: string) => len(field, Buffer.from(s));
const fixed64 = (field: number, n: number) => {
  const b = Buffer.alloc(9);
  b[0] = (field << 3) | 1;
  b.writeBigUInt64LE(BigInt(n), 1);
  return b;
};

/** An ExportMetricsServiceRequest with one cumulative histogram point (at `timeMs`) of `bounds` explicit bounds, packed. */
export function otlpHistogram(bounds: number, timeMs: number, name = 'h'): Buffer {
  const doubles = Buffer.alloc(bounds * 8);
  for (let i = 0; i < bounds; i++) doubles.writeDoubleLE(i, i * 8);
  const point = Buffer.concat([fixed64(3, timeMs * 1e6), fixed64(4, 1), len(7, doubles)]);
  const metric = Buffer.concat([str(1, name), len(9, Buffer.concat([len(1, point), Buffer.from([0x10, 0x02])]))]);
  return len(1, len(2, len(2, metric)));
}
