import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeHeroic } from './decode-heroic.js';
import { HeroicJsonDecoder } from './decode-heroic-json.js';
import { NO_DECODE_LIMITS, type DecodeLimits } from './decode-limits.js';
import type { WriteBatch } from './types.js';
import { toColumns } from './columns.js';
import { seriesIdWords } from './series-id.js';
import { DEFAULT_LIMITS, IssueList, validateBatch } from './validate.js';

// fast-check prints the seed of a failure; FC_SEED replays it.
const seed = process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {};

const T = 1_800_000_000_000;

interface Item {
  key: string;
  tags: Record<string, string>;
  points: [number, number][];
}

function body(items: Item[]): Buffer {
  return Buffer.from(JSON.stringify(items.map((i) => ({ series: { key: i.key, tags: i.tags }, data: { type: 'points', data: i.points } }))));
}

/** What the general path gives: the batch, or the issue codes, or the error thrown. */
function general(bytes: Buffer, limits: DecodeLimits = NO_DECODE_LIMITS): { batch?: WriteBatch; issues?: string[]; error?: string } {
  let tree: unknown;
  try {
    tree = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    return { error: (e as Error).name };
  }
  const issues = new IssueList(1000);
  try {
    const batch = decodeHeroic(tree, issues, limits);
    return issues.ok ? { batch } : { issues: issues.items.map((i) => String(i.code)) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** A batch's content, with -0 and NaN spelled out so that toEqual tells them apart. */
function flat(batch: WriteBatch) {
  const num = (x: number) => (Object.is(x, -0) ? '-0' : x);
  return {
    points: batch.points,
    series: batch.series.map((s) => [s.key, s.tags, Array.from(s.timestamps, num), Array.from(s.values, num)]),
  };
}

describe('Heroic JSON fast path with a series cache', () => {
  it('reads a plain body as JSON.parse + decodeHeroic do', () => {
    const bytes = body([
      { key: 'cpu', tags: { host: 'a', dc: 'x' }, points: [[T, 1.5], [T + 1000, -0]] },
      { key: 'mem', tags: {}, points: [[T, 1e21]] },
    ]);
    const got = new HeroicJsonDecoder().decode(bytes);
    expect(got).not.toBeNull();
    expect(flat(got!)).toEqual(flat(general(bytes).batch!));
  });

  it('hands out the same cache entry for a series seen again, in a later request', () => {
    const d = new HeroicJsonDecoder();
    const items = [{ key: 'cpu', tags: { host: 'a' }, points: [[T, 1]] as [number, number][] }];
    const first = d.decode(body(items))!;
    const second = d.decode(body([{ ...items[0], points: [[T + 1000, 2]] }]))!;
    expect(second.series[0].memo).toBeDefined();
    expect(second.series[0].memo).toBe(first.series[0].memo);
    expect(second.series[0].tags).toBe(first.series[0].tags);
    expect(d.cachedSeries).toBe(1);
  });

  it('gives a cached series the id and validity computed afresh, and reports an invalid one every time', () => {
    const d = new HeroicJsonDecoder();
    const items: Item[] = [
      { key: 'cpu', tags: { host: 'a' }, points: [[T, 1]] },
      { key: 'cpu', tags: { 'bad-name': 'v' }, points: [[T, 1]] },
    ];
    for (let round = 0; round < 3; round++) {
      const batch = d.decode(body(items))!;
      const codes = validateBatch(batch, DEFAULT_LIMITS, T).items.map((i) => `${i.series}:${i.code}`);
      expect(codes).toEqual(['1:MTR_WRITE_TAG_NAME']);
      expect(Array.from(toColumns(batch).ids).slice(0, 2)).toEqual(seriesIdWords('cpu', { host: 'a' }));
      expect(batch.series[0].memo?.validFor).toBe(DEFAULT_LIMITS);
      expect(batch.series[1].memo?.validFor).toBeNull();
    }
  });

  it('takes a changed tag value, an added tag or another key as another series', () => {
    const d = new HeroicJsonDecoder();
    const one = (key: string, tags: Record<string, string>) => d.decode(body([{ key, tags, points: [[T, 1]] }]))!.series[0];
    const base = one('cpu', { host: 'a' });
    const others = [one('cpu', { host: 'b' }), one('cpu', { host: 'a', dc: 'x' }), one('mem', { host: 'a' })];
    for (const s of others) expect(s.memo).not.toBe(base.memo);
    expect(others.map((s) => [s.key, s.tags])).toEqual([
      ['cpu', { host: 'b' }],
      ['cpu', { host: 'a', dc: 'x' }],
      ['mem', { host: 'a' }],
    ]);
    expect(d.cachedSeries).toBe(4);
  });

  it('finds series sent in another order, or one object the prefix of the next body', () => {
    const d = new HeroicJsonDecoder({ maxCachedSeries: 4 });
    const a: Item = { key: 'a', tags: { x: '1' }, points: [[T, 1]] };
    const b: Item = { key: 'b', tags: {}, points: [[T, 2], [T + 1, 3]] };
    const c: Item = { key: 'a', tags: { x: '12' }, points: [] };
    const memos = new Map<string, unknown>();
    for (const order of [[a, b, c], [a, c, b], [c], [b, a, a], [c, b, a], [a, b, c]]) {
      const bytes = body(order);
      const got = d.decode(bytes)!;
      expect(flat(got)).toEqual(flat(general(bytes).batch!));
      for (const s of got.series) {
        const name = JSON.stringify([s.key, s.tags]);
        if (!memos.has(name)) memos.set(name, s.memo);
        expect(s.memo).toBe(memos.get(name));
      }
    }
    expect(d.cachedSeries).toBe(3);
  });

  it('keeps at most maxCachedSeries series objects', () => {
    const d = new HeroicJsonDecoder({ maxCachedSeries: 3 });
    for (let i = 0; i < 12; i++) {
      // Four series in turn, two per body: the cache is emptied along the way, mid-request too.
      const bytes = body([0, 1].map((k) => ({ key: `m${(i + k) % 4}`, tags: {}, points: [[T, i]] })));
      expect(flat(d.decode(bytes)!)).toEqual(flat(general(bytes).batch!));
      expect(d.cachedSeries).toBeLessThanOrEqual(3);
    }
    // Still correct after the cache was emptied.
    expect(d.decode(body([{ key: 'm0', tags: { a: 'b' }, points: [[T, 0]] }]))!.series[0].tags).toEqual({ a: 'b' });
  });

  it('leaves to the general path every body that is not plain or has an issue', () => {
    const d = new HeroicJsonDecoder();
    const item = '{"series":{"key":"k","tags":{"a":"b"}},"data":{"type":"points","data":[[1,2]]}}';
    const notPlain = [
      '[]',
      item, // one object, not an array
      `[${item}] x`,
      `[${item},]`,
      '[{"series":{"key":"k"},"data":{"type":"points","data":[[1,2]]},"extra":1}]',
      '[{"series":{"key":"k"},"series":{"key":"j"},"data":{"data":[]}}]',
      '[{"series":{"key":"k"}}]',
      '[{"ser\\u0069es":{"key":"k"},"data":{"data":[[1,2]]}}]',
      '[{"series":{"key":"k","tags":[]},"data":{"data":[[1,2]]}}]',
      '[{"series":{"key":"k"},"data":{"type":"gauge","data":[[1,2]]}}]',
      '[{"series":{"key":"k"},"data":{"data":[[1,2,3]]}}]',
      '[{"series":{"key":"k"},"data":{"data":[[1,"2"]]}}]',
      '[{"series":{"key":"k"},"data":{"data":[[1,null]]}}]',
      '[{"series":{"key":"k"},"data":{"data":[[01,2]]}}]',
      '[{"series":{"key":"k"},"data":{"data":[[1.,2]]}}]',
      '[{"series":{"key":"k"},"data":{"data":[[-,2]]}}]',
      '[{"series":{"key":"k"},"data":{"data":[[+1,2]]}}]',
      '[{"series":{"key":"k",},"data":{"data":[[1,2]]}}]',
      '[{"series":{"key":"k"]},"data":{"data":[[1,2]]}}]',
      '[{"series":{"key":"k\\"}}',
    ];
    for (const text of notPlain) expect([text, d.decode(Buffer.from(text))]).toEqual([text, null]);
  });

  it('leaves a body past a decode limit to the general path, which names the limit', () => {
    const d = new HeroicJsonDecoder();
    const bytes = body([
      { key: 'a', tags: { x: '1', y: '2' }, points: [[T, 1], [T, 2]] },
      { key: 'b', tags: {}, points: [[T, 1]] },
    ]);
    const limits: DecodeLimits[] = [
      { ...NO_DECODE_LIMITS, maxSeries: 1 },
      { ...NO_DECODE_LIMITS, maxSamples: 2 },
      { ...NO_DECODE_LIMITS, maxLabels: 2 },
    ];
    for (const l of limits) {
      expect(d.decode(bytes, l)).toBeNull();
      expect(general(bytes, l).error).toMatch(/more than/);
    }
    expect(d.decode(bytes, { ...NO_DECODE_LIMITS, maxSeries: 2, maxSamples: 3, maxLabels: 3 })).not.toBeNull();
  });

  const text = fc.string({ unit: fc.constantFrom('a', 'b', '.', '_', '"', '\\', '\n', 'é', '\u{1f600}', '\ud800', ' '), maxLength: 6 });
  const number = fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    // Short decimals (gauges such as 61.71), where the exact fast conversion applies.
    fc.tuple(fc.integer({ min: -1e12, max: 1e12 }), fc.integer({ min: 0, max: 15 })).map(([m, e]) => m / 10 ** e),
    fc.tuple(fc.integer({ min: -999, max: 999 }), fc.integer({ min: -25, max: 25 })).map(([m, e]) => Number(`${m}e${e}`)),
    fc.constantFrom(0, -0, 1e21, 1e-7, 5e-324, 1.7976931348623157e308, 2 ** 53 + 2, 0.1, 123456789012345.6, T),
    fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }).map((x) => Number(x)),
  );
  const items = fc.array(
    fc.record({
      key: text,
      tags: fc.dictionary(text, text, { maxKeys: 3 }),
      points: fc.array(fc.tuple(number, number), { maxLength: 3 }),
    }),
    { minLength: 1, maxLength: 4 },
  );
  // A number written as senders might: exponent forms, upper-case E, explicit +, trailing zeros.
  const respell = (json: string, style: number) =>
    style === 0 ? json : json.replace(/(-?\d+(?:\.\d+)?)(?:e([+-]?\d+))?(?=[,\]])/g, (m, base: string, exp?: string) => {
      if (style === 1) return `${base}E${exp ?? '+0'}`;
      if (style === 2) return base.includes('.') ? `${base}00` : `${base}.0`;
      return ` ${m}\n`;
    });

  it('accepts only what the general path accepts, with the same values (property)', () => {
    const d = new HeroicJsonDecoder({ maxCachedSeries: 50 });
    let changedTaken = 0;
    fc.assert(
      fc.property(items, fc.integer({ min: 0, max: 3 }), fc.nat(), fc.nat(255), (list, style, at, byte) => {
        const plain = Buffer.from(respell(body(list).toString(), style));
        // The same body, and the same body with one byte changed (bad JSON, a different series, a shape issue).
        const changed = Buffer.from(plain);
        changed[at % changed.length] = byte;
        for (const bytes of [plain, changed, plain]) {
          const fast = d.decode(bytes);
          if (fast === null) continue;
          if (bytes === changed) changedTaken++;
          const g = general(bytes);
          expect(g.batch).toBeDefined();
          expect(flat(fast)).toEqual(flat(g.batch!));
        }
        // A plain body is always taken by the fast path.
        if (style === 0) expect(d.decode(plain)).not.toBeNull();
      }),
      { numRuns: 400, ...seed },
    );
    // Guard against a property that compares nothing: some changed bodies are still plain.
    expect(changedTaken).toBeGreaterThan(20);
  });
});
