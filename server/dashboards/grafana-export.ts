import { grafanaTypeOf } from './panel-kinds.js';
import type { DashboardDoc, DashboardPanel, Variable } from './model.js';

/**
 * Our dashboard model -> Grafana dashboard JSON (schemaVersion 39), with a `datasource` variable
 * every panel and query variable uses, so the export imports into any Grafana with a Prometheus
 * data source. Writes only what importGrafana reads back: export then import gives the same
 * dashboard (test/dashboards-grafana.test.ts).
 */

const DS = { type: 'prometheus', uid: '${datasource}' };
const CALCS: Record<string, string> = { last: 'lastNotNull', mean: 'mean', max: 'max', min: 'min', sum: 'sum' };

export function exportGrafana(d: DashboardDoc & { id?: string }): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let openRow: Record<string, unknown> | null = null;
  d.panels.forEach((p, i) => {
    const g = panelToGrafana(p, i + 1);
    if (p.kind === 'row') {
      openRow = p.options.collapsed ? g : null;
      panels.push(g);
    } else if (openRow) {
      // A collapsed row holds its panels inside it, as Grafana saves them.
      (openRow.panels as unknown[]).push(g);
    } else {
      panels.push(g);
    }
  });
  return {
    ...(d.id ? { uid: d.id } : {}),
    title: d.title,
    tags: d.tags,
    ...(d.description ? { description: d.description } : {}),
    schemaVersion: 39,
    editable: true,
    time: d.time ?? { from: 'now-6h', to: 'now' },
    ...(d.refresh ? { refresh: d.refresh } : {}),
    annotations: { list: [{ builtIn: 1, datasource: { type: 'grafana', uid: '-- Grafana --' }, enable: true, hide: true, name: 'Annotations & Alerts', type: 'dashboard' }] },
    templating: {
      list: [{ name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Data source' }, ...d.variables.map(variableToGrafana)],
    },
    panels,
  };
}

function panelToGrafana(p: DashboardPanel, id: number): Record<string, unknown> {
  const o = p.options as Record<string, any>;
  const base = { id, type: grafanaTypeOf(p.kind), title: p.title, ...(p.description ? { description: p.description } : {}), gridPos: p.gridPos };
  if (p.kind === 'row') return { ...base, collapsed: !!o.collapsed, panels: [] };
  if (p.kind === 'text') return { ...base, options: { mode: o.mode ?? 'markdown', content: o.content ?? '' } };
  const defaults: Record<string, unknown> = {};
  if (o.unit) defaults.unit = o.unit;
  if (o.decimals !== undefined) defaults.decimals = o.decimals;
  if (o.min !== undefined) defaults.min = o.min;
  if (o.max !== undefined) defaults.max = o.max;
  if (o.thresholds) defaults.thresholds = { mode: 'absolute', steps: o.thresholds.map((t: { value: number | null; color: string }) => ({ color: t.color, value: t.value })) };
  const custom: Record<string, unknown> = {};
  const options: Record<string, unknown> = {};
  const overrides: unknown[] = [];
  if (p.kind === 'timeseries') {
    if (o.stacking && o.stacking !== 'none') custom.stacking = { mode: o.stacking, group: 'A' };
    if (o.fillOpacity !== undefined) custom.fillOpacity = o.fillOpacity;
    if (o.lineWidth !== undefined) custom.lineWidth = o.lineWidth;
    if (o.legend) options.legend = o.legend === 'hidden' ? { showLegend: false, displayMode: 'list' } : { showLegend: true, displayMode: o.legend };
    for (const [name, color] of Object.entries((o.seriesColors ?? {}) as Record<string, string>)) {
      overrides.push({ matcher: { id: 'byName', options: name }, properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: color } }] });
    }
  }
  if (o.reduce) options.reduceOptions = { calcs: [CALCS[o.reduce] ?? 'lastNotNull'] };
  if (o.sparkline) options.graphMode = 'area';
  if (o.orientation) options.orientation = o.orientation;
  if (p.kind === 'heatmap' && o.scheme) options.color = { scheme: o.scheme === 'oranges' ? 'Oranges' : o.scheme === 'spectral' ? 'Spectral' : 'Blues' };
  if (Object.keys(custom).length) defaults.custom = custom;
  return {
    ...base,
    datasource: DS,
    targets: p.queries.map((q, i) => ({ datasource: DS, expr: q.expr, refId: q.refId ?? String.fromCharCode(65 + (i % 26)), ...(q.legend ? { legendFormat: q.legend } : {}), ...(q.hide ? { hide: true } : {}) })),
    fieldConfig: { defaults, overrides },
    options,
  };
}

function variableToGrafana(v: Variable): Record<string, unknown> {
  const current = v.current?.length ? { current: { value: v.current.length === 1 && !('multi' in v && v.multi) ? v.current[0] : v.current, text: v.current.join(' + ') } } : {};
  const common = { name: v.name, ...(v.label ? { label: v.label } : {}), ...(v.hide ? { hide: 2 } : {}), ...current };
  const choice = (x: { multi?: boolean; includeAll?: boolean; allValue?: string }) => ({
    ...(x.multi ? { multi: true } : {}),
    ...(x.includeAll ? { includeAll: true } : {}),
    ...(x.allValue ? { allValue: x.allValue } : {}),
  });
  switch (v.type) {
    case 'query':
      return { ...common, type: 'query', datasource: DS, query: { query: v.query, refId: 'PrometheusVariableQueryEditor-VariableQuery' }, definition: v.query, refresh: 2, ...choice(v), ...(v.regex ? { regex: `/${v.regex}/` } : {}) };
    case 'custom':
      return { ...common, type: 'custom', query: v.options.map((x) => x.replace(/,/g, '\\,')).join(','), ...choice(v) };
    case 'interval':
      return { ...common, type: 'interval', query: v.options.join(',') };
    case 'text':
      return { ...common, type: 'textbox', query: v.current?.[0] ?? '' };
  }
}
