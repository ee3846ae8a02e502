import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { exportGrafana } from './grafana-export.js';
import { importGrafana } from './grafana-import.js';
import { dashboardDocSchema } from './model.js';

// Real public dashboards (test/data/grafana/README.md says where from).
const load = (f: string) => JSON.parse(readFileSync(new URL(`../../test/data/grafana/${f}`, import.meta.url), 'utf8'));
const FILES = ['node-exporter-full.json', 'kubernetes-mixin-k8s-resources-namespace.json', 'kubernetes-mixin-apiserver.json'];

/** Every panel of a Grafana dashboard, children of collapsed rows included. */
const grafanaPanels = (g: any): any[] => (g.panels ?? []).flatMap((p: any) => [p, ...(p.panels ?? [])]);

describe.each(FILES)('Grafana %s', (file) => {
  const g = load(file);
  const { dashboard, report } = importGrafana(g);

  it('imports to a valid dashboard', () => {
    const r = dashboardDocSchema.safeParse(dashboard);
    expect(r.success ? [] : r.error.issues).toEqual([]);
    expect(dashboard.id).toBe(g.uid);
  });

  it('converts every panel or reports it, never dropping one silently', () => {
    const src = grafanaPanels(g);
    const reportedPanels = report.filter((n) => /not converted$/.test(n.message) && /^panels\[\d+\](\.panels\[\d+\])?$/.test(n.path));
    expect(dashboard.panels.length + reportedPanels.length).toBe(src.length);
    // Every PromQL expression of a converted panel arrives, in order.
    const srcExprs = src.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr).filter(Boolean));
    const ours = dashboard.panels.flatMap((p) => p.queries.map((q) => q.expr));
    expect(ours).toEqual(srcExprs);
    // A setting the converter skipped is named in the report with the panel it came from.
    for (const n of report) expect(n.path).toMatch(/^(panels|rows|templating|annotations|\(dashboard\))/);
  });

  it('round-trips through Grafana export unchanged and with nothing left to report', () => {
    const back = importGrafana(exportGrafana(dashboard));
    expect(back.report).toEqual([]);
    expect(back.dashboard).toEqual(dashboard);
  });
});

describe('Grafana conversion details', () => {
  it('converts variables of every kind it knows and reports the rest', () => {
    const { dashboard, report } = importGrafana({
      title: 'vars',
      templating: {
        list: [
          { type: 'query', name: 'instance', query: { query: 'label_values(up{job="api"}, instance)' }, multi: true, includeAll: true, allValue: '.*', regex: '/^web-.*/', current: { value: ['$__all'] } },
          { type: 'custom', name: 'code', query: '2xx : 2.., 5xx : 5..' },
          { type: 'interval', name: 'step', query: '1m,5m,1h', auto: true },
          { type: 'textbox', name: 'filter', query: 'abc' },
          { type: 'constant', name: 'env', query: 'prod' },
          { type: 'query', name: 'metric', query: 'metrics(node_.*)' },
          { type: 'adhoc', name: 'filters' },
          { type: 'datasource', name: 'ds', query: 'loki' },
        ],
      },
      panels: [],
    });
    expect(dashboard.variables).toEqual([
      { type: 'query', name: 'instance', query: 'label_values(up{job="api"}, instance)', multi: true, includeAll: true, allValue: '.*', regex: '^web-.*', current: ['$__all'] },
      { type: 'custom', name: 'code', options: ['2..', '5..'] },
      { type: 'interval', name: 'step', options: ['1m', '5m', '1h'] },
      { type: 'text', name: 'filter', current: ['abc'] },
      { type: 'text', name: 'env', current: ['prod'], hide: true },
      { type: 'text', name: 'metric' },
    ]);
    const msgs = report.map((n) => `${n.title}: ${n.message}`);
    expect(msgs).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^step: the "auto" interval/),
        expect.stringMatching(/^metric: variable query "metrics\(node_\.\*\)" is not label_values/),
        expect.stringMatching(/^filters: variable type adhoc not converted/),
        expect.stringMatching(/^ds: data source variable of loki dropped/),
      ]),
    );
  });

  it('lays out the old rows[] format on the 24-column grid and reports unknown panel types', () => {
    const { dashboard, report } = importGrafana({
      title: 'old',
      rows: [
        { title: 'Traffic', showTitle: true, height: '300px', panels: [{ type: 'graph', title: 'a', span: 6, targets: [{ expr: 'up' }] }, { type: 'singlestat', title: 'b', span: 6, targets: [{ expr: 'up' }] }, { type: 'graph', title: 'c', span: 4, targets: [{ expr: 'up' }] }] },
        { title: 'x', panels: [{ type: 'piechart', title: 'pie', span: 12, targets: [{ expr: 'up' }] }] },
      ],
    });
    expect(dashboard.panels.map((p) => [p.kind, p.title, p.gridPos])).toEqual([
      ['row', 'Traffic', { x: 0, y: 0, w: 24, h: 1 }],
      ['timeseries', 'a', { x: 0, y: 1, w: 12, h: 10 }],
      ['stat', 'b', { x: 12, y: 1, w: 12, h: 10 }],
      ['timeseries', 'c', { x: 0, y: 11, w: 8, h: 10 }],
      ['row', 'x', { x: 0, y: 21, w: 24, h: 1 }],
    ]);
    expect(report).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'rows[1].panels[0]', title: 'pie', message: expect.stringMatching(/piechart has no Metronome panel kind/) })]));
  });

  it('keeps byName colour overrides and reports other overrides', () => {
    const { dashboard, report } = importGrafana({
      title: 'colours',
      panels: [
        {
          type: 'timeseries', title: 'codes', gridPos: { x: 0, y: 0, w: 12, h: 8 }, targets: [{ expr: 'sum by (code) (rate(x[5m]))', legendFormat: '{{code}}' }],
          fieldConfig: { defaults: {}, overrides: [
            { matcher: { id: 'byName', options: '500' }, properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'red' } }] },
            { matcher: { id: 'byRegexp', options: '/2../' }, properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'green' } }] },
          ] },
        },
      ],
    });
    expect(dashboard.panels[0].options.seriesColors).toEqual({ '500': 'red' });
    expect(report.map((n) => n.path)).toEqual(['panels[0].fieldConfig.overrides[1]']);
  });
});
