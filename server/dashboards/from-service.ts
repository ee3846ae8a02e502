import type { Dashboard as ServiceDashboard, Unit } from '../services/model.js';
import type { DashboardDoc, DashboardPanel } from './model.js';

/**
 * A service's dashboard (generated or its saved copy, server/services) in the library model, so
 * it opens like any other dashboard and can be saved as an edited library copy. Rows become row
 * panels; widths of 12 columns double onto the 24-column grid.
 */

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
      const w = p.width * 2;
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
    }
    y += rowH;
  }
  return {
    id: serviceDashboardId(d.service),
    title: d.title,
    folder: 'Services',
    tags: ['service', d.service],
    variables: [],
    panels,
    annotations: { alerts: true, deploys: true, manual: true, service: d.service },
  };
}
