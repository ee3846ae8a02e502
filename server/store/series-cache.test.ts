import { describe, expect, it } from 'vitest';
import { SeriesCache } from './series-cache.js';

describe('SeriesCache', () => {
  it('forgets every selection when a series row is written', () => {
    const c = new SeriesCache();
    c.set('up', ['a'], 1, c.generation);
    expect(c.get('up')).toEqual(['a']);
    c.seriesWritten();
    expect(c.get('up')).toBeUndefined();
  });

  it('does not keep a lookup that started before a series row was written', () => {
    const c = new SeriesCache();
    const started = c.generation;
    c.seriesWritten();
    c.set('up', ['stale'], 1, started);
    expect(c.get('up')).toBeUndefined();
  });

  it('evicts the least recently used selection past its row limit', () => {
    const c = new SeriesCache({ maxEntries: 10, maxRows: 3 });
    c.set('a', 'A', 2, c.generation);
    c.set('b', 'B', 1, c.generation);
    c.get('a');
    c.set('c', 'C', 1, c.generation);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBe('A');
    expect(c.get('c')).toBe('C');
  });

  it('knows no series_ends span until one is read, then widens it with each write', () => {
    const c = new SeriesCache();
    expect(c.endsMayOverlap(0, 100)).toBeUndefined();
    c.setEnds({ min: Infinity, max: -Infinity, count: 0 }, c.endsGeneration);
    expect(c.endsMayOverlap(0, 100)).toBe(false);
    c.endsWritten([150]);
    expect(c.endsMayOverlap(0, 100)).toBe(false);
    expect(c.endsMayOverlap(100, 200)).toBe(true);
    // Windows are left-open: a mark at `from` is outside.
    expect(c.endsMayOverlap(150, 200)).toBe(false);
  });

  it('drops a span read while series_ends was written, and one it cannot parse', () => {
    const c = new SeriesCache();
    const started = c.endsGeneration;
    c.endsWritten([50]);
    c.setEnds({ min: Infinity, max: -Infinity, count: 0 }, started);
    expect(c.endsMayOverlap(0, 100)).toBeUndefined();
    c.setEnds({ min: 50, max: 50, count: 1 }, c.endsGeneration);
    c.endsWritten([NaN]);
    expect(c.endsMayOverlap(0, 100)).toBeUndefined();
  });
});
