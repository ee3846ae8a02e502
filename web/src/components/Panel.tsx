import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { isAbort } from '../api/client.js';
import { queryInstant, queryRange } from '../api/prom.js';
import type { Panel } from '../api/services.js';
import { parseValue } from '../chart/columns.js';
import { panelChartData, thresholdState, type PanelQueryResult } from '../chart/panelData.js';
import { expandVariables } from '../chart/range.js';
import { TimeSeriesChart } from '../chart/TimeSeriesChart.js';
import { formatValue } from '../chart/units.js';
import { Link } from './Link.js';

export interface PanelMeasure {
  id: string;
  series: number;
  /** performance.now() when the panel's data arrived. */
  dataAt: number;
  /** Main-thread milliseconds to turn the data into columns and build and draw the chart. */
  renderMs: number;
  /** performance.now() when the chart was drawn. */
  drawnAt: number;
}

/** Lets a page hold every panel's data until all of it has arrived (render benchmarks). */
export interface Barrier {
  arrive(): Promise<unknown>;
}

interface Props {
  panel: Panel;
  grid: { start: number; end: number; step: number };
  syncKey: string;
  onZoom: (min: number, max: number) => void;
  onMeasure?: (m: PanelMeasure) => void;
  /** Query string (from/to) for links to the explore page. */
  rangeQuery: string;
  barrier?: Barrier;
}

/** One dashboard panel: runs its queries (in parallel) for the grid and draws them. */
export function PanelView({ panel, grid, syncKey, onZoom, onMeasure, rangeQuery, barrier }: Props) {
  // Results with the grid they were fetched for: until new data arrives the chart keeps drawing
  // the old data on its own grid, and only data of the current grid counts as rendered.
  const [fetched, setFetched] = useState<{ grid: Props['grid']; results: PanelQueryResult[] } | null>(null);
  const [stat, setStat] = useState<number | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  /** Bumped on every successful load: a stat whose value did not change still reports its draw. */
  const [loads, setLoads] = useState(0);
  const dataAt = useRef(0);
  const vars = { step: grid.step, rangeSec: grid.end - grid.start };

  useEffect(() => {
    const ac = new AbortController();
    setLoading(true);
    const run = async () => {
      if (panel.kind === 'stat') {
        const q = panel.queries[0];
        const r = await queryInstant(expandVariables(q.expr, vars), grid.end, ac.signal);
        let v: number | null = null;
        if (r.data.resultType === 'vector') v = r.data.result[0] ? parseValue(r.data.result[0].value[1]) : null;
        else if (r.data.resultType === 'scalar') v = parseValue(r.data.result[1]);
        await barrier?.arrive();
        dataAt.current = performance.now();
        setStat(v);
      } else {
        const out = await Promise.all(
          panel.queries.map(async (q) => {
            const r = await queryRange(expandVariables(q.expr, vars), grid.start, grid.end, grid.step, ac.signal);
            return { expr: q.expr, legend: q.legend, series: r.series };
          }),
        );
        await barrier?.arrive();
        dataAt.current = performance.now();
        setFetched({ grid, results: out });
      }
      setError(null);
      setLoading(false);
      setLoads((n) => n + 1);
    };
    run().catch((e) => {
      if (isAbort(e) || ac.signal.aborted) return;
      void barrier?.arrive();
      setError(e instanceof Error ? e.message : String(e));
      setLoading(false);
      // A failed panel is done too: the dashboard's "rendered" must not wait for it.
      const now = performance.now();
      onMeasure?.({ id: panel.id, series: 0, dataAt: now, renderMs: 0, drawnAt: now });
    });
    return () => ac.abort();
  }, [grid, panel]);

  const convMs = useRef(0);
  const chart = useMemo(() => {
    if (!fetched) return null;
    const t0 = performance.now();
    const c = panelChartData(fetched.results, fetched.grid);
    convMs.current = performance.now() - t0;
    return c;
  }, [fetched]);
  const xRange = useMemo((): [number, number] | undefined => (fetched ? [fetched.grid.start, fetched.grid.end] : undefined), [fetched]);

  useEffect(() => {
    if (panel.kind === 'stat' && stat !== undefined && dataAt.current) {
      onMeasure?.({ id: panel.id, series: stat === null ? 0 : 1, dataAt: dataAt.current, renderMs: 0, drawnAt: performance.now() });
    }
  }, [loads]);

  const explore = `/explore?${new URLSearchParams({ expr: panel.queries[0]?.expr ?? '' })}${rangeQuery ? `&${rangeQuery}` : ''}`;
  const state = panel.kind === 'stat' ? thresholdState(stat ?? null, panel.thresholds) : null;

  return (
    <section class="panel" style={{ gridColumn: `span ${panel.width}` }} aria-labelledby={`p-${panel.id}`} data-panel={panel.id} aria-busy={loading}>
      <div class="panel-head">
        <h3 id={`p-${panel.id}`} title={panel.title}>
          {panel.title}
        </h3>
        {panel.description ? (
          <span class="info" title={panel.description} aria-label={panel.description} role="img">
            <svg width="14" height="14" viewBox="0 0 16 16" aria-hidden="true">
              <circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" stroke-width="1.3" />
              <path d="M8 7v4.5M8 4.6v.1" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" />
            </svg>
          </span>
        ) : null}
        <Link href={explore} title="Open the query in Explore" aria-label={`Explore ${panel.title}`}>
          Explore
        </Link>
      </div>
      {error ? (
        <div class="error-box" role="alert">
          {error}
        </div>
      ) : null}
      {panel.kind === 'stat' ? (
        <div class={`stat ${state ?? ''}`} data-stat-value>
          {stat === undefined ? '…' : formatValue(stat, panel.unit)}
        </div>
      ) : chart ? (
        <>
          <TimeSeriesChart
            title={panel.title}
            data={chart.data}
            series={chart.series}
            unit={panel.unit}
            thresholds={panel.thresholds}
            stacked={panel.stacked}
            min={panel.min}
            max={panel.max}
            syncKey={syncKey}
            xRange={xRange}
            onZoom={onZoom}
            onRender={(ms) => {
              if (fetched?.grid === grid) onMeasure?.({ id: panel.id, series: chart.series.length, dataAt: dataAt.current, renderMs: convMs.current + ms, drawnAt: performance.now() });
            }}
          />
          {chart.series.length === 0 && !loading ? <div class="subtle">No data in this range.</div> : null}
          {chart.dropped ? <div class="subtle">{chart.dropped} more series not drawn (narrow the query).</div> : null}
        </>
      ) : (
        <div class="chart-box">
          <div class="state">{loading ? 'Loading…' : 'No data'}</div>
        </div>
      )}
    </section>
  );
}
