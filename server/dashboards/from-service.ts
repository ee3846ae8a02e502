import type { Dashboard as ServiceDashboard, Unit } from '../services/model.js';
import type { DashboardDoc, DashboardPanel, Variable } from './model.js';

/**
 * A service's dashboard (generated or its saved copy, server/services) in the library model, so
 * it opens like any other dashboard and can be saved as an edited library copy. Rows become row
 * panels; widths of 12 columns double onto the 24-column grid.
 *
 * On the way it adds what the service page's model cannot hold: `instance` and route filters as
 * variables (matchers added next to the service's own, `.*` for All so series without the label
 * still match), and a heatmap of the buckets beside every p50/p90/p99 panel of a histogram.
 */

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The bucket rate inside the generator's `histogram_quantile(0.5, sum by (le) (rate(x_bucket{...}[...])))`. */
function bucketsOfQuantile(expr: string): string | null {
  const m = /^histogram_quantile\(0\.5, (sum by \(le\) \(rate\(.+\)\))\)$/.exec(expr);
  return m ? m[1] : null;
}

const UNIT: Record<Unit, string> = {
  short: 'short', reqps: 'reqps', ops: 'ops', percentunit: 'percentunit', percent: 'percent', seconds: 's', milliseconds: 'ms', bytes: 'bytes', bytesps: 'Bps', cores: 'short',
};
const SEVERITY_COLOR = { warning: 'orange', critical: 'red' } as const;

export function serviceDashboardId(service: string): string {
  return `service:${service}`;
}

export function fromServiceDashboard(d: ServiceDashboard): DashboardDoc {
  const panels: DashboardPanel[] = [];
  let y = 0;
  for (const row of d.rows) {
    panels.push({ kind: 'row', title: row.title, queries: [], options: row.collapsed ? { collapsed: true } : {}, gridPos: { x: 0, y, w: 24, h: 1 } });
    y += 1;
    let x = 0;
    let rowH = 0;
    for (const p of row.panels) {
      const buckets = p.queries.length === 3 ? bucketsOfQuantile(p.queries[0].expr) : null;
      // A quantile panel with its heatmap share the panel's width, side by side.
      const w = buckets && p.width >= 6 ? p.width : p.width * 2;
      const h = p.kind === 'stat' ? 4 : 8;
      if (x + w > 24) {
        x = 0;
        y += rowH;
        rowH = 0;
      }
      const options: Record<string, unknown> = { unit: UNIT[p.unit] };
      if (p.min !== undefined) options.min = p.min;
      if (p.max !== undefined) options.max = p.max;
      if (p.stacked) options.stacking = 'normal';
      if (p.thresholds?.length) {
        const above = p.thresholds.filter((t) => t.direction !== 'below').sort((a, b) => a.value - b.value);
        options.thresholds = [{ value: null, color: 'green' }, ...above.map((t) => ({ value: t.value, color: SEVERITY_COLOR[t.severity] }))];
      }
      panels.push({ id: p.id, kind: p.kind, title: p.title, ...(p.description ? { description: p.description } : {}), queries: p.queries.map((q, i) => ({ ...q, refId: String.fromCharCode(65 + (i % 26)) })), options, gridPos: { x, y, w, h } });
      x += w;
      rowH = Math.max(rowH, h);
      if (buckets) {
        if (x + w > 24) {
          x = 0;
          y += rowH;
        }
        panels.push({ id: `${p.id}-heatmap`, kind: 'heatmap', title: `${p.title.replace(/ p50 \/ p90 \/ p99$/, '')} heatmap`, queries: [{ expr: buckets, refId: 'A' }], options: { unit: UNIT[p.unit] }, gridPos: { x, y, w, h } });
        x += w;
      }
    }
    y += rowH;
  }
  // The service's own matcher, as the generator writes it: service="x" or job="x".
  const own = new RegExp(`\\b(service|job)="${escapeRe(d.service)}"`);
  const label = panels.map((p) => own.exec(p.queries[0]?.expr ?? '')?.[1]).find(Boolean);
  const routeLabel = /^\{\{(\w+)\}\}$/.exec(panels.find((p) => p.id === 'traffic-rate')?.queries[0]?.legend ?? '')?.[1];
  const variables: Variable[] = [];
  if (label) {
    const sel = `{${label}="${d.service}"}`;
    variables.push({ type: 'query', name: 'instance', label: 'Instance', query: `label_values(${sel}, instance)`, multi: true, includeAll: true, allValue: '.*' });
    if (routeLabel) variables.push({ type: 'query', name: 'route', label: routeLabel, query: `label_values(${sel}, ${routeLabel})`, multi: true, includeAll: true, allValue: '.*' });
    const ownMatcher = `${label}="${d.service}"`;
    for (const p of panels) {
      const extra = `,instance=~"$instance"${routeLabel && p.id?.startsWith('traffic-') ? `,${routeLabel}=~"$route"` : ''}`;
      p.queries = p.queries.map((q) => ({ ...q, expr: q.expr.split(ownMatcher).join(ownMatcher + extra) }));
    }
  }
  return {
    id: serviceDashboardId(d.service),
    title: d.title,
    folder: 'Services',
    tags: ['service', d.service],
    variables,
    panels,
    annotations: { alerts: true, deploys: true, manual: true, service: d.service },
  };
}
