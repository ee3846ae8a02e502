import { describe, expect, it } from 'vitest';
import type { MetricInfo } from '../services/families.js';
import { generateDashboard } from '../services/generator.js';
import { fromServiceDashboard } from './from-service.js';
import { dashboardDocSchema } from './model.js';

const m = (name: string, ...labels: string[]): MetricInfo => ({ name, labels: ['instance', 'service', ...labels] });
const METRICS: MetricInfo[] = [
  m('http_requests_total', 'code', 'method', 'route'),
  m('http_request_duration_seconds_bucket', 'le', 'method', 'route'),
  m('http_request_duration_seconds_sum', 'method', 'route'),
  m('http_request_duration_seconds_count', 'method', 'route'),
  m('process_cpu_seconds_total'),
];

describe('a service dashboard in the library model', () => {
  const d = fromServiceDashboard(generateDashboard({ service: 'shop', label: 'service', metrics: METRICS }));

  it('is a valid dashboard with rows on the 24-column grid', () => {
    const r = dashboardDocSchema.safeParse(d);
    expect(r.success ? [] : r.error.issues).toEqual([]);
    expect(d.panels[0]).toMatchObject({ kind: 'row', gridPos: { x: 0, y: 0, w: 24, h: 1 } });
  });

  it('gets instance and route filters, the route one only on traffic panels', () => {
    expect(d.variables.map((v) => [v.name, v.type === 'query' ? v.query : ''])).toEqual([
      ['instance', 'label_values({service="shop"}, instance)'],
      ['route', 'label_values({service="shop"}, route)'],
    ]);
    const rate = d.panels.find((p) => p.id === 'traffic-rate')!;
    expect(rate.queries[0].expr).toContain('service="shop",instance=~"$instance",route=~"$route"');
    const cpu = d.panels.find((p) => p.queries.some((q) => q.expr.includes('process_cpu_seconds_total')))!;
    expect(cpu.queries[0].expr).toContain('service="shop",instance=~"$instance"');
    expect(cpu.queries[0].expr).not.toContain('$route');
  });

  it('draws the latency histogram as a heatmap beside the quantile lines', () => {
    const i = d.panels.findIndex((p) => p.id === 'traffic-latency');
    const hm = d.panels[i + 1];
    expect(hm).toMatchObject({ id: 'traffic-latency-heatmap', kind: 'heatmap' });
    expect(hm.queries[0].expr).toMatch(/^sum by \(le\) \(rate\(http_request_duration_seconds_bucket\{service="shop",instance=~"\$instance",route=~"\$route"\}\[\$__rate_interval\]\)\)$/);
    expect(hm.gridPos.y).toBe(d.panels[i].gridPos.y);
  });
});
