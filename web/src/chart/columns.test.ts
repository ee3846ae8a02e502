import { describe, expect, it } from 'vitest';
import { distinctLabelNames, lastValue, legendLabel, matrixToColumns, parseValue, valueExtent, type MatrixSeries } from './columns.js';

describe('matrixToColumns', () => {
  it('puts every series on the query grid with nulls where a sample is missing', () => {
    const series: MatrixSeries[] = [
      { metric: { a: '1' }, values: [[100, '1'], [110, '2'], [130, '4']] },
      { metric: { a: '2' }, values: [[120, '3']] },
    ];
    const cols = matrixToColumns(series, { start: 100, end: 130, step: 10 });
    expect(cols).toEqual([
      [100, 110, 120, 130],
      [1, 2, null, 4],
      [null, null, 3, null],
    ]);
  });

  it('turns NaN and infinities into gaps', () => {
    const cols = matrixToColumns([{ metric: {}, values: [[0, 'NaN'], [1, '+Inf'], [2, '-Inf'], [3, '0.5']] }], { start: 0, end: 3, step: 1 });
    expect(cols[1]).toEqual([null, null, null, 0.5]);
  });

  it('falls back to the union of timestamps when a series is off the grid', () => {
    const cols = matrixToColumns(
      [
        { metric: {}, values: [[100, '1'], [105, '2']] },
        { metric: {}, values: [[103, '7']] },
      ],
      { start: 100, end: 110, step: 10 },
    );
    expect(cols).toEqual([
      [100, 103, 105],
      [1, null, 2],
      [null, 7, null],
    ]);
  });

  it('gives an empty grid of nulls for no series and handles fractional steps', () => {
    expect(matrixToColumns([], { start: 0, end: 1, step: 0.5 })).toEqual([[0, 0.5, 1]]);
    expect(matrixToColumns([{ metric: {}, values: [[0.5, '2']] }], { start: 0, end: 1, step: 0.5 })).toEqual([[0, 0.5, 1], [null, 2, null]]);
  });
});

describe('values and labels', () => {
  it('parses Prometheus value strings', () => {
    expect(parseValue('1e3')).toBe(1000);
    expect(parseValue('NaN')).toBeNull();
    expect(parseValue('garbage')).toBeNull();
  });

  it('finds the last non-null value', () => {
    expect(lastValue([1, 2, null])).toBe(2);
    expect(lastValue([null, null])).toBeNull();
    expect(lastValue([0])).toBe(0);
  });

  it('names only the labels that differ between series', () => {
    const ms: Record<string, string>[] = [
      { __name__: 'x', job: 'a', route: '/1', code: '200' },
      { __name__: 'x', job: 'a', route: '/2', code: '200' },
      { __name__: 'x', job: 'a', route: '/2' },
    ];
    expect(distinctLabelNames(ms)).toEqual(['code', 'route']);
    expect(distinctLabelNames([ms[0]])).toEqual([]);
  });

  it('builds legend labels from templates or distinct labels', () => {
    const m = { __name__: 'http_requests_total', route: '/cart', code: '500' };
    expect(legendLabel(m, { template: '{{route}} {{ code }}' })).toBe('/cart 500');
    expect(legendLabel(m, { distinct: ['code'] })).toBe('{code="500"}');
    expect(legendLabel(m)).toBe('http_requests_total{code="500", route="/cart"}');
    expect(legendLabel({}, { distinct: [], fallback: 'sum(rate(x[5m]))' })).toBe('sum(rate(x[5m]))');
    expect(legendLabel(m, { template: '{{missing}}', distinct: ['route'] })).toBe('{route="/cart"}');
  });

  it('computes the extent of all values, ignoring gaps', () => {
    expect(valueExtent([[1, 2], [null, 3], [-1, null]])).toEqual([-1, 3]);
    expect(valueExtent([[1], [null]])).toBeNull();
  });
});
