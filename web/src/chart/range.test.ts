import { describe, expect, it } from 'vitest';
import { chooseStep, describeRange, expandVariables, parseTimeSpec, queryGrid, rateInterval, resolveRange } from './range.js';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

describe('time ranges', () => {
  it('parses relative, absolute and ISO times', () => {
    expect(parseTimeSpec('now', NOW)).toBe(NOW);
    expect(parseTimeSpec('now-15m', NOW)).toBe(NOW - 900_000);
    expect(parseTimeSpec('now-30d', NOW)).toBe(NOW - 30 * 86_400_000);
    expect(parseTimeSpec(String(NOW - 5), NOW)).toBe(NOW - 5);
    expect(parseTimeSpec('2025-01-15T11:00:00Z', NOW)).toBe(NOW - 3_600_000);
    expect(parseTimeSpec('yesterday', NOW)).toBeNull();
  });

  it('falls back to the last hour for an unreadable or inverted range', () => {
    expect(resolveRange({ from: 'now-6h', to: 'now' }, NOW)).toEqual({ start: NOW - 6 * 3_600_000, end: NOW });
    expect(resolveRange({ from: 'now', to: 'now-1h' }, NOW)).toEqual({ start: NOW - 3_600_000, end: NOW });
    expect(resolveRange({ from: 'x', to: 'now' }, NOW)).toEqual({ start: NOW - 3_600_000, end: NOW });
  });

  it('chooses nice steps that keep a few hundred points per series', () => {
    expect(chooseStep(NOW - 900_000, NOW)).toBe(10);
    expect(chooseStep(NOW - 86_400_000, NOW)).toBe(300);
    expect(chooseStep(NOW - 30 * 86_400_000, NOW)).toBe(7200);
    expect(chooseStep(NOW - 3_600_000, NOW, 400, 30)).toBe(30);
  });

  it('aligns the grid start to the step', () => {
    const g = queryGrid({ start: 1_000_123_456, end: 1_000_723_456 }, 60);
    expect(g.start % 60).toBe(0);
    expect(g.start).toBeLessThanOrEqual(1_000_123.456);
    expect(g.end).toBe(1_000_723);
  });

  it('expands dashboard variables from the step', () => {
    expect(rateInterval(10)).toBe(60);
    expect(rateInterval(300)).toBe(315);
    expect(expandVariables('rate(x[$__rate_interval]) / $__interval', { step: 300, rangeSec: 3600 })).toBe('rate(x[315s]) / 300s');
    expect(expandVariables('increase(x[$__range])', { step: 10, rangeSec: 3600 })).toBe('increase(x[3600s])');
  });

  it('describes preset and absolute ranges', () => {
    expect(describeRange({ from: 'now-15m', to: 'now' })).toBe('Last 15 minutes');
    expect(describeRange({ from: String(NOW - 3_600_000), to: String(NOW) }, NOW)).toContain('→');
  });
});
