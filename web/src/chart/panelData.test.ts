import { describe, expect, it } from 'vitest';
import { panelChartData, thresholdState } from './panelData.js';

describe('panelChartData', () => {
  it('labels series by template, else by the labels that differ, across queries', () => {
    const out = panelChartData(
      [
        { expr: 'a', legend: 'p50', series: [{ metric: {}, values: [[10, '1'], [20, '2']] }] },
        {
          expr: 'b',
          series: [
            { metric: { route: '/x', job: 'j' }, values: [[20, '5']] },
            { metric: { route: '/y', job: 'j' }, values: [[10, '6']] },
          ],
        },
      ],
      { start: 10, end: 20, step: 10 },
    );
    expect(out.series.map((s) => s.label)).toEqual(['p50', '{route="/x"}', '{route="/y"}']);
    expect(out.data).toEqual([
      [10, 20],
      [1, 2],
      [null, 5],
      [6, null],
    ]);
    expect(new Set(out.series.map((s) => s.color)).size).toBe(3);
    expect(out.dropped).toBe(0);
  });

  it('names a lone unlabelled series after the panel, or the metric it reads, never the query text', () => {
    const one = [{ expr: 'sum(rate(x[1m]))', series: [{ metric: {}, values: [[0, '1']] as [number, string][] }] }];
    expect(panelChartData(one, { start: 0, end: 0, step: 10 }, { title: 'Request rate' }).series[0].label).toBe('Request rate');
    expect(panelChartData(one, { start: 0, end: 0, step: 10 }).series[0].label).toBe('x');
  });

  it('caps the number of series drawn', () => {
    const series = Array.from({ length: 250 }, (_, i) => ({ metric: { i: String(i) }, values: [[0, '1']] as [number, string][] }));
    const out = panelChartData([{ expr: 'x', series }], { start: 0, end: 0, step: 1 });
    expect(out.series).toHaveLength(200);
    expect(out.dropped).toBe(50);
  });
});

describe('thresholdState', () => {
  const t = [
    { value: 0.01, severity: 'warning' as const },
    { value: 0.05, severity: 'critical' as const },
  ];
  it('picks the worst threshold crossed', () => {
    expect(thresholdState(0.001, t)).toBe('ok');
    expect(thresholdState(0.02, t)).toBe('warning');
    expect(thresholdState(0.2, t)).toBe('critical');
    expect(thresholdState(null, t)).toBeNull();
    expect(thresholdState(1, undefined)).toBeNull();
  });
  it('handles thresholds where low values are bad', () => {
    const budget = [
      { value: 0.25, severity: 'warning' as const, direction: 'below' as const },
      { value: 0, severity: 'critical' as const, direction: 'below' as const },
    ];
    expect(thresholdState(0.8, budget)).toBe('ok');
    expect(thresholdState(0.1, budget)).toBe('warning');
    expect(thresholdState(-0.5, budget)).toBe('critical');
  });
});
