import { describe, expect, it } from 'vitest';
import { ManualClock } from '../alerting/clock.js';
import { RollupHours } from '../store/rollup-hours.js';
import { RollupLedger } from './job.js';
import { HOUR_MS } from './sql.js';

const at = (...ts: number[]) => Float64Array.from(ts);

describe('RollupLedger', () => {
  it('marks only hours that have closed (end plus the late allowance), and holds every hour a flush writes', () => {
    const clock = new ManualClock(10 * HOUR_MS + 5 * 60_000);
    const ledger = new RollupLedger(clock, 5 * 60_000);
    // Hour 9 = (8 h, 9 h] closed at 9 h 5 m; hour 10 closes at 10 h 5 m, exactly now; hour 11 is open.
    const f = ledger.begin(at(8.5 * HOUR_MS, 9.5 * HOUR_MS, 10.5 * HOUR_MS), 3);
    expect(f.dirty).toEqual([9, 10]);
    expect([9, 10, 11].map((w) => ledger.writing(w))).toEqual([true, true, true]);
    f.release();
    f.release();
    expect([9, 10, 11].map((w) => ledger.writing(w))).toEqual([false, false, false]);
  });

  it('marks an hour once until the job takes it again', () => {
    const clock = new ManualClock(100 * HOUR_MS);
    const ledger = new RollupLedger(clock, 0);
    const first = ledger.begin(at(50 * HOUR_MS), 1);
    expect(first.dirty).toEqual([50]);
    first.marked();
    first.release();
    expect(ledger.begin(at(50 * HOUR_MS - 1), 1).dirty).toEqual([]);
    ledger.take(50);
    expect(ledger.begin(at(50 * HOUR_MS - 2), 1).dirty).toEqual([50]);
  });

  it('does not let readers take an hour the job finished when a flush marked it after the job started', () => {
    const clock = new ManualClock(100 * HOUR_MS);
    const hours = new RollupHours();
    const ledger = new RollupLedger(clock, 0, hours);
    ledger.sync([{ w: 40, v: 1, m: 0, rec: true, g: 1 }]);
    const gen = ledger.take(41);
    // Late samples into 40 (done) and 41 (being computed) arrive while the job computes 41.
    const late = ledger.begin(at(39.5 * HOUR_MS, 41 * HOUR_MS), 2);
    expect(late.dirty).toEqual([40, 41]);
    expect(hours.between(40, 41)!.w).toEqual([]); // both read raw from now on
    ledger.recorded(41, gen, gen);
    expect(hours.between(40, 41)!.w).toEqual([]); // that computation may have missed them
    // The next computation, after the mark, is taken.
    const again = ledger.take(41);
    ledger.recorded(41, again, again);
    expect(hours.between(40, 41)!.w).toEqual([41]);
  });

  it('on a follower (the job runs elsewhere) marks every flush into a closed hour, not only the first', () => {
    const clock = new ManualClock(100 * HOUR_MS);
    const ledger = new RollupLedger(clock, 0);
    ledger.local = false;
    const first = ledger.begin(at(50 * HOUR_MS), 1);
    first.marked();
    first.release();
    // Another node's job may have taken hour 50 since: this process cannot know, so it marks again.
    const second = ledger.begin(at(50 * HOUR_MS - 1), 1);
    expect(second.dirty).toEqual([50]);
    expect(second.at).toBeGreaterThan(first.at);
  });

  it('takes what the tables say on every sync, keeping out hours it marked after the version read', () => {
    const clock = new ManualClock(100 * HOUR_MS);
    const hours = new RollupHours();
    const ledger = new RollupLedger(clock, 0, hours);
    ledger.local = false;
    ledger.sync([{ w: 40, v: 10, m: 0, rec: true, g: 10 }]);
    expect(hours.between(40, 42)!.w).toEqual([40]);
    // A flush here marks 40 (not stored yet): it reads raw even though the tables still say done.
    const f = ledger.begin(at(39.5 * HOUR_MS), 1);
    ledger.sync([{ w: 40, v: 10, m: 0, rec: true, g: 10 }, { w: 41, v: 20, m: 0, rec: true, g: 20 }]);
    expect(hours.between(40, 42)).toMatchObject({ w: [41], gen: [20] });
    // The leader recomputes 40 after the mark (a version above it, a new gen): taken again.
    f.marked();
    ledger.sync([{ w: 40, v: f.at + 1, m: f.at, rec: true, g: f.at + 1 }, { w: 41, v: 20, m: 0, rec: true, g: 20 }]);
    expect(hours.between(40, 42)).toMatchObject({ w: [40, 41], gen: [f.at + 1, 20] });
    // A mark from another node, newer than the version: read raw.
    ledger.sync([{ w: 40, v: f.at + 1, m: f.at + 5, rec: true, g: f.at + 1 }]);
    expect(hours.between(40, 42)!.w).toEqual([]);
    // And the counter never hands out a value at or below what the tables hold.
    expect(ledger.next()).toBeGreaterThan(f.at + 5);
  });

  it('hands out values above anything seeded from the tables, even when the clock is behind', () => {
    const ledger = new RollupLedger(new ManualClock(1000), 0);
    ledger.seed(5000);
    expect(ledger.next()).toBe(5001);
    expect(ledger.next()).toBe(5002);
  });
});
