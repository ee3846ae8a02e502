import { useEffect, useRef, useState } from 'preact/hooks';
import type { Annotation, DashPanel as Panel } from '../api/dashboards.js';
import { isAbort } from '../api/client.js';
import { queryInstant, queryRange } from '../api/prom.js';
import type { PanelQueryResult } from '../chart/panelData.js';
import { expandVariables } from '../chart/range.js';
import { Link } from '../components/Link.js';
import type { Barrier, PanelMeasure } from './measure.js';
import { PANELS } from '../panels/registry.js';
import { interpolate } from './variables.js';

interface Props {
  panel: Panel;
  vars: Readonly<Record<string, string>>;
  grid: { start: number; end: number; step: number };
  annotations: Annotation[];
  syncKey: string;
  onZoom: (min: number, max: number) => void;
  height: number;
  /** Told when the panel has drawn the data of the current grid (render benchmarks). */
  onMeasure?: (m: PanelMeasure) => void;
  /** Holds the panel's data until every panel's has arrived (`?render=batch`). */
  barrier?: Barrier;
  /** from/to for the link to Explore. */
  rangeQuery?: string;
  /** Opens the panel editor; absent on read-only dashboards and in the editor's preview. */
  onEdit?: () => void;
}

/** One panel of a library dashboard: runs its queries (variables replaced) and draws its kind. */
export function DashPanelView({ panel, vars, grid, annotations, syncKey, onZoom, height, onMeasure, barrier, rangeQuery, onEdit }: Props) {
  const mod = panel.kind === 'row' ? undefined : PANELS[panel.kind];
  const [results, setResults] = useState<PanelQueryResult[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const dataAt = useRef(0);
  const exprs = panel.queries
    .map((q, i) => ({ ...q, refId: q.refId ?? String.fromCharCode(65 + (i % 26)) }))
    .filter((q) => !q.hide && q.expr.trim())
    .map((q) => ({ ...q, expr: expandVariables(interpolate(q.expr, vars), { step: grid.step, rangeSec: grid.end - grid.start }) }));
  const key = JSON.stringify(exprs);

  useEffect(() => {
    if (!mod || mod.data === 'none') return;
    const ac = new AbortController();
    Promise.all(
      exprs.map(async (q): Promise<PanelQueryResult> => {
        if (mod.data === 'instant') {
          const r = await queryInstant(q.expr, grid.end, ac.signal);
          const series = r.data.resultType === 'vector' ? r.data.result.map((s) => ({ metric: s.metric, values: [s.value] as [number, string][] })) : [];
          return { expr: q.expr, legend: q.legend, refId: q.refId, series };
        }
        const r = await queryRange(q.expr, grid.start, grid.end, grid.step, ac.signal);
        return { expr: q.expr, legend: q.legend, refId: q.refId, series: r.series };
      }),
    ).then(
      async (out) => {
        await barrier?.arrive();
        if (ac.signal.aborted) return;
        dataAt.current = performance.now();
        setResults(out);
        setError(null);
      },
      (e) => {
        if (isAbort(e) || ac.signal.aborted) return;
        void barrier?.arrive();
        setError(e instanceof Error ? e.message : String(e));
        // A failed panel is done too: the dashboard's "rendered" must not wait for it.
        const now = performance.now();
        onMeasure?.({ id: panel.id ?? panel.title, series: 0, dataAt: now, renderMs: 0, drawnAt: now });
      },
    );
    return () => ac.abort();
  }, [key, grid]);

  // Kinds other than timeseries are drawn in the commit that shows their results.
  useEffect(() => {
    if (results && panel.kind !== 'timeseries') {
      onMeasure?.({ id: panel.id ?? panel.title, series: results.reduce((a, r) => a + r.series.length, 0), dataAt: dataAt.current, renderMs: 0, drawnAt: performance.now() });
    }
  }, [results]);
  const onDrawn = (series: number, renderMs: number) =>
    onMeasure?.({ id: panel.id ?? panel.title, series, dataAt: dataAt.current, renderMs, drawnAt: performance.now() });

  if (!mod) return null;
  const Comp = mod.Component;
  const first = panel.queries.find((q) => q.expr.trim());
  const explore = first && mod.data !== 'none' ? `/explore?${new URLSearchParams({ expr: interpolate(first.expr, vars) })}${rangeQuery ? `&${rangeQuery}` : ''}` : null;
  return (
    <section
      class="panel dash-panel"
      data-kind={panel.kind}
      data-panel={panel.id}
      aria-label={panel.title || panel.kind}
      aria-busy={mod.data !== 'none' && !results && !error}
    >
      <div class="panel-head">
        <h3 title={panel.description ?? panel.title}>{panel.title}</h3>
        {explore ? (
          <Link href={explore} title="Open the query in Explore" aria-label={`Explore ${panel.title}`}>
            Explore
          </Link>
        ) : null}
        {onEdit ? (
          <button type="button" class="link" onClick={onEdit} aria-label={`Edit ${panel.title || 'panel'}`} title="Edit this panel">
            Edit
          </button>
        ) : null}
      </div>
      {error ? (
        <div class="error-box" role="alert">
          {error}
        </div>
      ) : null}
      {mod.data === 'none' || results ? (
        <Comp panel={panel} results={results ?? []} grid={grid} annotations={annotations} syncKey={syncKey} onZoom={onZoom} height={height} onDrawn={onDrawn} />
      ) : !error ? (
        <div class="subtle">Loading…</div>
      ) : null}
    </section>
  );
}
