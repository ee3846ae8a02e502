import { describe, expect, it } from 'vitest';
import { seriesId } from './series-id.js';

describe('seriesId', () => {
  it('does not depend on tag order', () => {
    expect(seriesId('cpu', { a: '1', b: '2', c: '3' })).toBe(seriesId('cpu', { c: '3', a: '1', b: '2' }));
  });
  it('separates key, names and values so concatenations do not collide', () => {
    const ids = new Set([
      seriesId('cpu', { ab: 'c' }),
      seriesId('cpu', { a: 'bc' }),
      seriesId('cpua', { b: 'c' }),
      seriesId('cpu', {}),
      seriesId('cpu', { a: '' }),
    ]);
    expect(ids.size).toBe(5);
  });
  it('spreads 100,000 similar series over distinct ids', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 100_000; i++) ids.add(seriesId('http_requests_total', { host: `host_${i}`, code: '200' }));
    expect(ids.size).toBe(100_000);
  });
  it('is stable across releases (stored ids depend on it)', () => {
    // Changing the hash would split every stored series in two; this value must never change.
    expect(seriesId('cpu.usage', { host: 'a' })).toMatchInlineSnapshot(`"9022737285752948421"`);
  });
});
