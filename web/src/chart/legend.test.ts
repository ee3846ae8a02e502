import { describe, expect, it } from 'vitest';
import { exprMetricName, seriesLegends } from './legend.js';

describe('exprMetricName', () => {
  it.each([
    ['sum by (code) (rate(http_requests_total{service="checkout", route=~"$route"}[5m]))', 'http_requests_total'],
    ['histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="x"}[5m])))', 'http_request_duration_seconds_bucket'],
    ['100 * sum(rate(errors_total[5m])) / sum without (instance) (rate(requests_total[5m]))', 'errors_total'],
    ['{__name__="node_load1", instance="a"}', 'node_load1'],
    ['up', 'up'],
    ['rate(x[5m] offset 1h)', 'x'],
    ['vector(1)', null],
    ['count(a) by (job) > bool 3', 'a'],
  ])('%s reads %s', (expr, name) => {
    expect(exprMetricName(expr)).toBe(name);
  });
});

describe('seriesLegends', () => {
  const m = (metric: Record<string, string>) => ({ metric });

  it("fills Grafana's {{label}} legendFormat, and ignores __auto", () => {
    const q = { expr: 'sum by (route, code) (rate(x[5m]))', legend: '{{route}} {{ code }}', series: [m({ route: '/a', code: '200' }), m({ route: '/b', code: '500' })] };
    expect(seriesLegends([q])).toEqual([['/a 200', '/b 500']]);
    expect(seriesLegends([{ ...q, legend: '__auto' }])).toEqual([['{code="200", route="/a"}', '{code="500", route="/b"}']]);
  });

  it('names series by the labels that tell them apart, without the query text', () => {
    const q = { expr: 'sum by (instance, job) (rate(x{job="api"}[5m]))', series: [m({ instance: 'a', job: 'api' }), m({ instance: 'b', job: 'api' })] };
    const names = seriesLegends([q]).flat();
    expect(names).toEqual(['{instance="a"}', '{instance="b"}']);
    for (const n of names) expect(n).not.toContain('rate(');
  });

  it('names a lone labelled series by all its labels', () => {
    expect(seriesLegends([{ expr: 'sum by (code) (rate(x[5m]))', series: [m({ code: '200' })] }])).toEqual([['{code="200"}']]);
  });

  it('names unlabelled series of several queries by their metric, with the refId when two collide', () => {
    const out = seriesLegends(
      [
        { expr: 'sum(rate(errors_total[5m]))', refId: 'A', series: [m({})] },
        { expr: 'sum(rate(requests_total[5m]))', refId: 'B', series: [m({})] },
        { expr: 'sum(rate(requests_total[1h]))', refId: 'C', series: [m({})] },
      ],
      { title: 'Rates' },
    );
    expect(out).toEqual([['errors_total'], ['requests_total (B)'], ['requests_total (C)']]);
  });

  it('keeps the metric name when it is what differs', () => {
    expect(seriesLegends([{ expr: '{__name__=~"a|b"}', series: [m({ __name__: 'a', job: 'x' }), m({ __name__: 'b', job: 'x' })] }])).toEqual([['a', 'b']]);
  });
});
