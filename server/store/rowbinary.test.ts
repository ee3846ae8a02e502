import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers.js';
import { EmbeddedStore } from './embedded.js';
import { decodeRowBinary, readerFor } from './rowbinary.js';
import { param, sql } from './sql.js';

describe('RowBinary results', () => {
  let dir: string;
  let store: EmbeddedStore;
  beforeAll(() => {
    dir = tempDir();
    store = new EmbeddedStore(dir);
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the rows JSONEachRow gives, for every type the engine reads', async () => {
    const q = sql`SELECT number AS n, toString(number) AS id, toUInt64(18446744073709551615 - number) AS big, toInt64(-number) AS neg,
        toUInt8(number % 2) AS flag, concat('é\n', ${param('String', "x'y")}) AS s,
        [1.5, NULL, number / 3]::Array(Nullable(Float64)) AS v, [(number, 2.5)]::Array(Tuple(UInt64, Float64)) AS pts,
        map('job', 'api', 'le', '+Inf') AS tags, [('a', 'b')]::Array(Tuple(String, String)) AS kv, ['x', '']::Array(String) AS k,
        toNullable(if(number = 1, NULL, 1.25)) AS maybe, toLowCardinality('lc') AS lc,
        CAST(map('a', 'b'), 'SimpleAggregateFunction(any, Map(String, String))') AS sa
      FROM numbers(3)`;
    const json = await store.query(q);
    const bin = await store.query(q, { binary: true });
    expect(bin).toEqual(json);
    expect(bin).toHaveLength(3);
  });

  it('keeps NaN and infinities as numbers', async () => {
    const [row] = await store.query<{ v: (number | null)[]; x: number }>(sql`SELECT [nan, inf, -inf, NULL]::Array(Nullable(Float64)) AS v, -inf AS x`, { binary: true });
    expect(row.v[0]).toBeNaN();
    expect(row.v.slice(1)).toEqual([Infinity, -Infinity, null]);
    expect(row.x).toBe(-Infinity);
  });

  it('applies per-query settings and reads an empty result', async () => {
    expect(await store.query(sql`SELECT 1 AS x WHERE 0`, { binary: true })).toEqual([]);
    const rows = await store.query<{ v: string }>(sql`SELECT getSetting('max_threads') AS v`, { binary: true, settings: { max_threads: 1 } });
    expect(String(rows[0].v)).toBe('1');
  });

  it('answers correctly after a query that failed halfway through its output', async () => {
    const failing = sql`SELECT number AS n, throwIf(number = 3000000, 'late') AS x FROM numbers(5000000)`;
    await expect(store.query(failing, { binary: true })).rejects.toThrow(/late/);
    await expect(store.query(sql`SELECT 1 WHERE throwIf((SELECT count() FROM numbers(3)) > 1, 'early') = 0`, { binary: true })).rejects.toThrow(/early/);
    expect(await store.query(sql`SELECT ${param('UInt8', 7)} AS x`, { binary: true })).toEqual([{ x: 7 }]);
  });

  it('refuses a truncated result instead of reading past its end', async () => {
    const [whole] = [await store.query(sql`SELECT 'abc' AS s, 1.5 AS f`, { binary: true })];
    expect(whole).toEqual([{ s: 'abc', f: 1.5 }]);
    // names, types, then a row cut short: 1 column "s" String, value of length 3 with 1 byte.
    expect(() => decodeRowBinary(new Uint8Array([1, 1, 115, 6, 83, 116, 114, 105, 110, 103, 3, 97]))).toThrow(/truncated/);
    expect(() => decodeRowBinary(new Uint8Array([1, 1, 102, 7, 70, 108, 111, 97, 116, 54, 52, 0, 0]))).toThrow();
  });

  it('refuses a type it has no reader for instead of misreading it', () => {
    expect(() => readerFor('Decimal(18, 3)')).toThrow(/no reader for ClickHouse type Decimal/);
    expect(decodeRowBinary(new Uint8Array())).toEqual([]);
  });
});
