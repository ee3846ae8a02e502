import { useMemo, useRef } from 'preact/hooks';
import { panelChartData } from '../chart/panelData.js';
import { TimeSeriesChart } from '../chart/TimeSeriesChart.js';
import { formatPanelValue, uiUnit } from './format.js';
import { annotationsPlugin, tooltipPlugin } from './plugins.js';
import type { PanelModule, PanelProps } from './types.js';

function TimeseriesPanel({ panel, results, grid, annotations, syncKey, onZoom, height, onDrawn }: PanelProps) {
  const o = panel.options;
  const convMs = useRef(0);
  const chart = useMemo(() => {
    const t0 = performance.now();
    const c = panelChartData(results, grid, { title: panel.title });
    convMs.current = performance.now() - t0;
    const fixed = (o.seriesColors ?? {}) as Record<string, string>;
    return { ...c, series: c.series.map((s) => (fixed[s.label] ? { ...s, color: fixed[s.label] } : s)) };
  }, [results, grid, o.seriesColors, panel.title]);
  const plugins = useMemo(() => [annotationsPlugin(annotations), tooltipPlugin((v) => formatPanelValue(v, o))], [annotations, o]);
  // Threshold steps of an imported panel draw as lines only when their colour says warning or worse.
  const thresholds = useMemo(
    () =>
      ((o.thresholds ?? []) as { value: number | null; color: string }[])
        .filter((t) => t.value !== null && /red|orange|yellow|#e|#f/i.test(t.color))
        .map((t) => ({ value: t.value as number, severity: /red/i.test(t.color) ? ('critical' as const) : ('warning' as const) })),
    [o.thresholds],
  );
  const xRange = useMemo((): [number, number] => [grid.start, grid.end], [grid]);
  return (
    <>
      <TimeSeriesChart
        title={panel.title}
        data={chart.data}
        series={chart.series}
        unit={uiUnit(o.unit)}
        thresholds={thresholds.length ? thresholds : undefined}
        stacked={o.stacking === 'normal' || o.stacking === 'percent'}
        min={o.min}
        max={o.max}
        height={Math.max(80, height - (o.legend === 'hidden' ? 0 : 40))}
        syncKey={syncKey}
        xRange={xRange}
        onZoom={onZoom}
        plugins={plugins}
        onRender={(ms) => onDrawn?.(chart.series.length, convMs.current + ms)}
      />
      {chart.series.length === 0 ? <div class="subtle">No data in this range.</div> : null}
      {chart.dropped ? <div class="subtle">{chart.dropped} more series not drawn (narrow the query).</div> : null}
    </>
  );
}

export const timeseries: PanelModule = { data: 'range', Component: TimeseriesPanel };
