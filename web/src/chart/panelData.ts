import { matrixToColumns, type Columns, type Labels, type MatrixSeries } from './columns.js';
import { seriesLegends } from './legend.js';
import { semanticColor, seriesColor } from './palette.js';

/**
 * The results of a panel's queries (one matrix per query) as one chart: columns on the query
 * grid and a legend label and colour per series. Pure; the panel component only fetches.
 */

export interface PanelQueryResult {
  expr: string;
  legend?: string;
  refId?: string;
  series: MatrixSeries[];
}

export interface PanelChartData {
  data: Columns;
  series: { label: string; color: string; metric: Labels }[];
}

/** Series beyond this are dropped (the panel says so): a chart of thousands of lines tells nothing. */
const MAX_SERIES_PER_PANEL = 200;

/** `title` (the panel's) names a lone unlabelled series: legends never show the query text (legend.ts). */
export function panelChartData(
  results: readonly PanelQueryResult[],
  grid: { start: number; end: number; step: number },
  opts: { title?: string } = {},
): PanelChartData & { dropped: number } {
  const all: { metric: Labels; values: [number, string][]; label: string }[] = [];
  const names = seriesLegends(results, opts);
  results.forEach((r, qi) => r.series.forEach((s, si) => all.push({ metric: s.metric, values: s.values, label: names[qi][si] })));
  const kept = all.slice(0, MAX_SERIES_PER_PANEL);
  const data = matrixToColumns(
    kept.map((s) => ({ metric: s.metric, values: s.values })),
    grid,
  );
  // Series with a status colour do not use up palette places: the others start at its first colour.
  let next = 0;
  return {
    data,
    series: kept.map((s) => ({ label: s.label, color: semanticColor(s.metric) ?? seriesColor(next++), metric: s.metric })),
    dropped: all.length - kept.length,
  };
}

/** The severity a value falls into for a panel's thresholds (the worst one crossed). */
export function thresholdState(
  v: number | null,
  thresholds: readonly { value: number; severity: 'warning' | 'critical'; direction?: 'above' | 'below' }[] | undefined,
): 'ok' | 'warning' | 'critical' | null {
  if (v === null || !thresholds?.length) return null;
  let state: 'ok' | 'warning' | 'critical' = 'ok';
  for (const t of thresholds) {
    const crossed = (t.direction ?? 'above') === 'above' ? v > t.value : v < t.value;
    if (crossed && (t.severity === 'critical' || state === 'ok')) state = t.severity;
  }
  return state;
}
