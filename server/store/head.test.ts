import { describe, expect, it } from 'vitest';
import type { PointColumns } from '../../ingest/types.js';
import { Head } from './head.js';

const HOUR = 3_600_000;

function cols(points: [bigint, number, number][]): PointColumns {
  return {
    length: points.length,
    seriesId: BigInt64Array.from(points.map((p) => p[0])),
    ts: Float64Array.from(points.map((p) => p[1])),
    value: Float64Array.from(points.map((p) => p[2])),
  };
}

function read(head: Head, id: bigint, from = -Infinity, to = Infinity): [number, number][] {
  const s = head.span(id, from, to);
  return s ? Array.from(s.t, (t, i) => [t, s.v[i]]) : [];
}

describe('Head', () => {
  const T0 = 1_800_000_000_000;

  it('keeps nothing and covers nothing until opened', () => {
    const head = new Head({ maxBytes: 1 << 20, windowMs: HOUR, now: () => T0 });
    head.append(cols([[1n, T0, 1]]));
    expect(read(head, 1n)).toEqual([]);
    expect(head.covers(T0 - 1000)).toBe(false);
  });

  it('covers the span after the newest stored point and inside its window', () => {
    const head = new Head({ maxBytes: 1 << 20, windowMs: HOUR, now: () => T0 });
    head.open(T0 - 10_000);
    expect(head.covers(T0 - 10_000)).toBe(true);
    expect(head.covers(T0 - 10_001)).toBe(false);
    const empty = new Head({ maxBytes: 1 << 20, windowMs: HOUR, now: () => T0 });
    empty.open(null);
    expect(empty.covers(T0 - HOUR)).toBe(true);
    expect(empty.covers(T0 - HOUR - 1)).toBe(false);
  });

  it('holds runs of several series in time order, whatever order they arrive in', () => {
    const head = new Head({ maxBytes: 1 << 20, windowMs: HOUR, now: () => T0 });
    head.open(null);
    // Negative ids: unsigned ids above 2^63 as the writer's signed columns hold them.
    head.append(cols([[1n, T0 - 30, 3], [1n, T0 - 20, 4], [-5n, T0 - 20, 40], [1n, T0 - 10, 5]]));
    head.append(cols([[1n, T0 - 50, 1], [1n, T0 - 40, 2], [-5n, T0 - 30, 30]]));
    expect(read(head, 1n)).toEqual([[T0 - 50, 1], [T0 - 40, 2], [T0 - 30, 3], [T0 - 20, 4], [T0 - 10, 5]]);
    expect(read(head, -5n)).toEqual([[T0 - 30, 30], [T0 - 20, 40]]);
    expect(read(head, 1n, T0 - 40, T0 - 20)).toEqual([[T0 - 30, 3], [T0 - 20, 4]]);
    expect(read(head, 2n)).toEqual([]);
  });

  it('tells apart series whose ids share a low word, and drops each of them alone', () => {
    let now = T0;
    const head = new Head({ maxBytes: 1 << 20, windowMs: HOUR, now: () => now });
    head.open(null);
    // Same low 32 bits, different high words (and one negative: above 2^63 unsigned).
    const [a, b, c] = [(1n << 32n) | 9n, (2n << 32n) | 9n, -(1n << 40n) + 9n];
    expect(BigInt.asUintN(32, c)).toBe(9n);
    head.append(cols([[a, T0 - 3000, 1], [b, T0 - 3000, 2], [c, T0 - 10, 3]]));
    head.append(cols([[b, T0 - 2000, 20]]));
    expect(read(head, a)).toEqual([[T0 - 3000, 1]]);
    expect(read(head, b)).toEqual([[T0 - 3000, 2], [T0 - 2000, 20]]);
    expect(read(head, c)).toEqual([[T0 - 10, 3]]);
    expect(read(head, 9n)).toEqual([]);
    expect(head.size.series).toBe(3);
    // A minute on, the window drops a's and b's samples: both leave the chain, c stays.
    now = T0 + HOUR - 2500;
    head.append(cols([[c, T0 - 5, 4]]));
    expect(read(head, a)).toEqual([]);
    expect(read(head, b)).toEqual([[T0 - 2000, 20]]);
    expect(read(head, c)).toEqual([[T0 - 10, 3], [T0 - 5, 4]]);
    expect(head.size.series).toBe(2);
  });

  it('reclaims the space of grown arrays when it compacts, keeping every sample', () => {
    let now = T0;
    // 8 MiB: slabs of 16,384 samples (256 KiB a pair).
    const slab = 16_384 * 16;
    const head = new Head({ maxBytes: 8 << 20, windowMs: HOUR, now: () => now });
    head.open(null);
    // 200 series grown one sample at a time to 300 samples: each growth leaves dead space.
    for (let k = 0; k < 300; k++) {
      const pts: [bigint, number, number][] = [];
      for (let id = 1n; id <= 200n; id++) pts.push([id, T0 - HOUR + 120_000 + k * 1000, k]);
      head.append(cols(pts));
    }
    const grown = head.bytes;
    expect(head.size.samples).toBe(200 * 300);
    expect(grown).toBeGreaterThan(2 * 200 * 300 * 16);
    // The minute's trim compacts, dropping nothing here (every sample is inside the window).
    now = T0 + 60_000;
    head.append(cols([[1n, T0, 300]]));
    expect(head.size.samples).toBe(200 * 300 + 1);
    expect(head.bytes).toBeLessThan(grown / 2);
    expect(head.bytes).toBeLessThanOrEqual(Math.ceil((200 * 300 * 1.25 * 16) / slab) * slab + slab);
    expect(read(head, 77n).map(([, v]) => v)).toEqual(Array.from({ length: 300 }, (_, k) => k));
    expect(read(head, 1n).at(-1)).toEqual([T0, 300]);
  });

  it('answers as if a re-sent sample was written once, the last value written winning', () => {
    const head = new Head({ maxBytes: 1 << 20, windowMs: HOUR, now: () => T0 });
    head.open(null);
    const body = cols([[7n, T0 - 20, 1], [7n, T0 - 10, 2]]);
    head.append(body);
    head.append(body);
    head.append(body);
    head.append(cols([[7n, T0 - 10, 9], [7n, T0 - 10, 8]]));
    expect(read(head, 7n)).toEqual([[T0 - 20, 1], [T0 - 10, 8]]);
  });

  it('drops samples older than its window as time passes, and covers less', () => {
    let now = T0;
    const head = new Head({ maxBytes: 1 << 20, windowMs: HOUR, now: () => now });
    head.open(null);
    head.append(cols([[1n, T0 - 30 * 60_000, 1], [1n, T0, 2]]));
    now = T0 + 40 * 60_000;
    head.append(cols([[1n, now, 3], [1n, now - 2 * HOUR, 0]]));
    expect(read(head, 1n)).toEqual([[T0, 2], [now, 3]]);
    expect(head.covers(now - HOUR)).toBe(true);
    expect(head.covers(now - HOUR - 1)).toBe(false);
  });

  it('stays within its bytes by dropping the oldest samples of every series', () => {
    const maxBytes = 64 * 1024;
    const head = new Head({ maxBytes, windowMs: 24 * HOUR, now: () => T0 });
    head.open(null);
    for (let k = 0; k < 100; k++) {
      const pts: [bigint, number, number][] = [];
      for (let id = 1n; id <= 10n; id++) for (let j = 0; j < 10; j++) pts.push([id, T0 - 20 * HOUR + (k * 10 + j) * 1000, k]);
      head.append(cols(pts));
    }
    expect(head.bytes).toBeLessThanOrEqual(maxBytes);
    const kept = read(head, 3n);
    // The newest samples survive, and the head no longer claims the span it dropped.
    expect(kept.at(-1)).toEqual([T0 - 20 * HOUR + 999 * 1000, 99]);
    expect(kept.length).toBeLessThan(1000);
    expect(head.covers(kept[0][0] - 1)).toBe(true);
    expect(head.covers(kept[0][0] - 1001)).toBe(false);
  });

  it('reads stored points back before its span, keeping what was written since it opened', () => {
    const head = new Head({ maxBytes: 1 << 20, windowMs: 2 * HOUR, now: () => T0 });
    head.open(T0 - 60_000);
    head.append(cols([[1n, T0 - 60_000, 99], [1n, T0 - 30_000, 3]]));
    expect(head.covers(T0 - 90_000)).toBe(false);
    // Rows as ClickHouse holds them: one re-sent (twice), one overwritten since open.
    head.load(T0 - 120_000, [{ id: 1n, t: [T0 - 90_000, T0 - 90_000, T0 - 60_000], v: [1, 1, 2] }]);
    expect(read(head, 1n)).toEqual([[T0 - 90_000, 1], [T0 - 60_000, 99], [T0 - 30_000, 3]]);
    expect(head.covers(T0 - 120_000)).toBe(true);
    expect(head.covers(T0 - 120_001)).toBe(false);
    // Never before what the window keeps.
    head.load(T0 - 5 * HOUR, [{ id: 2n, t: [T0 - 3 * HOUR, T0 - HOUR], v: [1, 2] }]);
    expect(read(head, 2n)).toEqual([[T0 - HOUR, 2]]);
    expect(head.covers(T0 - 2 * HOUR)).toBe(true);
    expect(head.covers(T0 - 2 * HOUR - 1)).toBe(false);
  });

  it('keeps no head at 0 bytes', () => {
    const head = new Head({ maxBytes: 0, windowMs: HOUR, now: () => T0 });
    head.open(null);
    head.append(cols([[1n, T0, 1]]));
    expect(head.enabled).toBe(false);
    expect(head.covers(T0)).toBe(false);
    expect(read(head, 1n)).toEqual([]);
  });
});
