import { describe, expect, it } from 'vitest';
import type { WriteBatch } from './types.js';
import { DEFAULT_LIMITS, IssueList, validateBatch } from './validate.js';

const NOW = 1_800_000_000_000;
const one = (over: Partial<WriteBatch['series'][number]> = {}): WriteBatch => {
  const s = { key: 'cpu', tags: { host: 'a' }, timestamps: [NOW - 1000], values: [1], ...over };
  return { series: [s], points: s.timestamps.length };
};
const codes = (b: WriteBatch) => validateBatch(b, DEFAULT_LIMITS, NOW).items.map((i) => i.code);

describe('validateBatch', () => {
  it('accepts a well-formed series', () => {
    expect(codes(one())).toEqual([]);
  });
  it('rejects an empty key', () => {
    expect(codes(one({ key: '' }))).toEqual(['MTR_WRITE_KEY_EMPTY']);
  });
  it('rejects a key longer than 256 characters but accepts exactly 256', () => {
    expect(codes(one({ key: 'k'.repeat(257) }))).toEqual(['MTR_WRITE_KEY_TOO_LONG']);
    expect(codes(one({ key: 'k'.repeat(256) }))).toEqual([]);
  });
  it('rejects more than 32 tags', () => {
    const tags = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`t${i}`, 'v']));
    expect(codes(one({ tags }))).toEqual(['MTR_WRITE_TOO_MANY_TAGS']);
    delete tags.t32;
    expect(codes(one({ tags }))).toEqual([]);
  });
  it('rejects tag names outside [a-zA-Z_][a-zA-Z0-9_.]*', () => {
    expect(codes(one({ tags: { '1host': 'a' } }))).toEqual(['MTR_WRITE_TAG_NAME']);
    expect(codes(one({ tags: { 'ho-st': 'a' } }))).toEqual(['MTR_WRITE_TAG_NAME']);
    expect(codes(one({ tags: { 'k8s.pod_name': 'a', _x: 'b' } }))).toEqual([]);
  });
  it('rejects tag values over 1024 UTF-8 bytes, counting multi-byte characters', () => {
    expect(codes(one({ tags: { host: 'a'.repeat(1025) } }))).toEqual(['MTR_WRITE_TAG_VALUE_TOO_LONG']);
    expect(codes(one({ tags: { host: 'a'.repeat(1024) } }))).toEqual([]);
    // 400 characters of 3 bytes each = 1200 bytes
    expect(codes(one({ tags: { host: '€'.repeat(400) } }))).toEqual(['MTR_WRITE_TAG_VALUE_TOO_LONG']);
  });
  it('rejects keys and tag values that are not valid Unicode (lone surrogates)', () => {
    expect(codes(one({ key: 'cpu\ud800' }))).toEqual(['MTR_WRITE_STRING_ENCODING']);
    expect(codes(one({ tags: { host: 'a\udc00b' } }))).toEqual(['MTR_WRITE_STRING_ENCODING']);
    expect(codes(one({ tags: { host: 'emoji \ud83d\ude00' } }))).toEqual([]);
  });
  it('rejects non-string tag values', () => {
    expect(codes(one({ tags: { host: 5 as unknown as string } }))).toEqual(['MTR_WRITE_TAG_VALUE_TYPE']);
  });
  it('rejects non-integer timestamps', () => {
    expect(codes(one({ timestamps: [NOW - 0.5] }))).toEqual(['MTR_WRITE_TIMESTAMP_TYPE']);
    expect(codes(one({ timestamps: ['1' as unknown as number] }))).toEqual(['MTR_WRITE_TIMESTAMP_TYPE']);
  });
  it('rejects timestamps older than retention or more than 10 minutes ahead', () => {
    expect(codes(one({ timestamps: [NOW - DEFAULT_LIMITS.retentionMs - 1] }))).toEqual(['MTR_WRITE_TIMESTAMP_RANGE']);
    expect(codes(one({ timestamps: [NOW + 10 * 60_000 + 1] }))).toEqual(['MTR_WRITE_TIMESTAMP_RANGE']);
    expect(codes(one({ timestamps: [NOW + 10 * 60_000] }))).toEqual([]);
  });
  it('rejects values that are not numbers', () => {
    for (const v of ['1', null, undefined, {}]) {
      expect(codes(one({ values: [v as number] }))).toEqual(['MTR_WRITE_VALUE_TYPE']);
    }
  });
  it('accepts NaN and infinities as values', () => {
    for (const v of [NaN, Infinity, -Infinity]) expect(codes(one({ values: [v] }))).toEqual([]);
  });
  it('reports the series index, point index and field of each issue', () => {
    const batch: WriteBatch = {
      series: [
        { key: 'ok', tags: {}, timestamps: [NOW], values: [1] },
        { key: 'bad', tags: {}, timestamps: [NOW, NOW], values: [1, 'x' as unknown as number] },
      ],
      points: 3,
    };
    expect(validateBatch(batch, DEFAULT_LIMITS, NOW).items).toEqual([
      expect.objectContaining({ code: 'MTR_WRITE_VALUE_TYPE', series: 1, point: 1, field: 'value' }),
    ]);
  });
  it('keeps the first 100 issues but counts them all', () => {
    const n = 250;
    const batch: WriteBatch = { series: [{ key: 'k', tags: {}, timestamps: Array(n).fill(NOW), values: Array(n).fill(null) }], points: n };
    const list = validateBatch(batch, DEFAULT_LIMITS, NOW, new IssueList(100));
    expect(list.items).toHaveLength(100);
    expect(list.count).toBe(n);
  });
});
