import { describe, expect, it } from 'vitest';
import { parseAggregation, RequestProblem } from './aggregation.js';

const size = (v: unknown) => (parseAggregation({ type: 'average', size: v }, 'aggregation') as { size?: number }).size;
const problem = (a: unknown): [string, string] | null => {
  try {
    parseAggregation(a, 'aggregation');
    return null;
  } catch (e) {
    if (e instanceof RequestProblem) return [e.field, e.message];
    throw e;
  }
};

describe("Heroic's Duration in an aggregation", () => {
  it('reads one term with Heroic\'s units (H hours, M 30-day months) or a bare number of ms', () => {
    expect(size('30s')).toBe(30_000);
    expect(size('5m')).toBe(300_000);
    expect(size('250ms')).toBe(250);
    expect(size('1H')).toBe(3_600_000);
    expect(size('1h')).toBe(3_600_000);
    expect(size('1M')).toBe(2_592_000_000);
    expect(size('2w')).toBe(1_209_600_000);
    expect(size(' 1d ')).toBe(86_400_000);
    expect(size('1500')).toBe(1500);
    expect(size(1500)).toBe(1500);
  });

  it('reads {unit, value} objects and sampling in the unit given', () => {
    expect(size({ unit: 'MINUTES', value: 2 })).toBe(120_000);
    const s = parseAggregation({ type: 'sum', sampling: { unit: 'seconds', value: 60, extent: '5m' } }, 'aggregation');
    expect(s).toMatchObject({ size: 60_000, extent: 300_000 });
  });

  it('names the field and the value it cannot read', () => {
    expect(problem({ type: 'sum', size: '1h30m' })).toEqual(['aggregation.size', 'expected a duration like "30s", "5m", "1h" or a number of ms, got "1h30m"']);
    expect(problem({ type: 'sum', size: '5 minutes' })).toEqual(['aggregation.size', 'expected a duration like "30s", "5m", "1h" or a number of ms, got "5 minutes"']);
    expect(problem({ type: 'sum', size: '0s' })).toEqual(['aggregation.size', 'expected a positive whole number of ms, got 0']);
    expect(problem({ type: 'sum', sampling: { unit: 'seconds', value: '1x' } })).toEqual(['aggregation.sampling.value', 'expected a duration like "30s", "5m", "1h" or a number of ms, got "1x"']);
  });
});
