import { describe, expect, it } from 'vitest';
import { compile, raw } from '../store/sql.js';
import { RollupHours } from '../store/rollup-hours.js';
import { HOUR_MS, hourOfMs, rollupSource } from './sql.js';

const ms = (h: number) => String(h * HOUR_MS);

describe('rollupSource with the done hours known', () => {
  it('reads rollup rows of done hours by gen and raw points only in the time ranges of the others', () => {
    const hours = new RollupHours();
    hours.load([
      [10, 7],
      [11, 8],
      [13, 9],
      [20, 1],
    ]);
    const done = hours.between(10, 15)!;
    expect(done).toEqual({ lo: 10, hi: 15, w: [10, 11, 13], gen: [7, 8, 9] });
    const { sql, params } = compile(rollupSource('1m', raw('1'), 9 * HOUR_MS, 15 * HOUR_MS, done));
    expect(sql).toContain('FROM rollup_1m');
    expect(sql).toContain('UNION ALL');
    expect(Object.values(params)).toEqual(expect.arrayContaining([[10, 11, 13], [7, 8, 9]]));
    // Open: hour 12 = (11 h, 12 h], hours 14-15 = (13 h, 15 h].
    const bounds = Object.values(params).filter((v) => typeof v === 'number');
    expect(bounds).toEqual([Number(ms(11)), Number(ms(12)), Number(ms(13)), Number(ms(15))]);
  });

  it('reads no raw points when every hour is done, and no rollup rows when none is', () => {
    const hours = new RollupHours();
    hours.load([
      [3, 1],
      [4, 2],
    ]);
    const all = compile(rollupSource('1h', raw('1'), 2 * HOUR_MS, 4 * HOUR_MS, hours.between(3, 4)));
    expect(all.sql).not.toContain('points FINAL');
    const none = compile(rollupSource('1h', raw('1'), 2 * HOUR_MS, 4 * HOUR_MS, hours.between(5, 6)));
    expect(none.sql).not.toContain('rollup_1h');
    expect(none.sql).toContain('points FINAL');
  });

  it('asks the tables in the statement when the hours are not known in process', () => {
    expect(new RollupHours().between(1, 2)).toBeNull();
    const { sql } = compile(rollupSource('1m', raw('1'), 0, HOUR_MS, null));
    expect(sql).toContain('FROM rollup_windows');
    expect(sql).toContain('FROM rollup_dirty');
  });

  it('names an hour by its end, as buckets are named', () => {
    expect(hourOfMs(HOUR_MS)).toBe(1);
    expect(hourOfMs(HOUR_MS + 1)).toBe(2);
    const hours = new RollupHours();
    hours.load([[5, 1]]);
    hours.dirty(5);
    expect(hours.between(5, 5)!.w).toEqual([]);
  });
});
