import { useEffect, useState } from 'preact/hooks';
import type { Annotation, DashPanel as Panel } from '../api/dashboards.js';
import { isAbort } from '../api/client.js';
import { queryInstant, queryRange } from '../api/prom.js';
import type { PanelQueryResult } from '../chart/panelData.js';
import { expandVariables } from '../chart/range.js';
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
}

/** One panel of a library dashboard: runs its queries (variables replaced) and draws its kind. */
export function DashPanelView({ panel, vars, grid, annotations, syncKey, onZoom, height }: Props) {
  const mod = panel.kind === 'row' ? undefined : PANELS[panel.kind];
  const [results, setResults] = useState<PanelQueryResult[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const exprs = panel.queries.filter((q) => !q.hide).map((q) => ({ ...q, expr: expandVariables(interpolate(q.expr, vars), { step: grid.step, rangeSec: grid.end - grid.start }) }));
  const key = JSON.stringify(exprs);

  useEffect(() => {
    if (!mod || mod.data === 'none') return;
    const ac = new AbortController();
    Promise.all(
      exprs.map(async (q): Promise<PanelQueryResult> => {
        if (mod.data === 'instant') {
          const r = await queryInstant(q.expr, grid.end, ac.signal);
          const series = r.data.resultType === 'vector' ? r.data.result.map((s) => ({ metric: s.metric, values: [s.value] as [number, string][] })) : [];
          return { expr: q.expr, legend: q.legend, series };
        }
        const r = await queryRange(q.expr, grid.start, grid.end, grid.step, ac.signal);
        return { expr: q.expr, legend: q.legend, series: r.series };
      }),
    ).then(
      (out) => {
        setResults(out);
        setError(null);
      },
      (e) => {
        if (isAbort(e) || ac.signal.aborted) return;
        setError(e instanceof Error ? e.message : String(e));
      },
    );
    return () => ac.abort();
  }, [key, grid]);

  if (!mod) return null;
  const Comp = mod.Component;
  return (
    <section class="panel dash-panel" data-kind={panel.kind} aria-label={panel.title || panel.kind} aria-busy={mod.data !== 'none' && !results && !error}>
      {panel.title ? (
        <div class="panel-head">
          <h3 title={panel.description ?? panel.title}>{panel.title}</h3>
        </div>
      ) : null}
      {error ? (
        <div class="error-box" role="alert">
          {error}
        </div>
      ) : null}
      {mod.data === 'none' || results ? (
        <Comp panel={panel} results={results ?? []} grid={grid} annotations={annotations} syncKey={syncKey} onZoom={onZoom} height={height} />
      ) : !error ? (
        <div class="subtle">Loading…</div>
      ) : null}
    </section>
  );
}
