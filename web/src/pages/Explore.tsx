import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError } from '../api/client.js';
import { queryInstant, queryRange, type InstantResult } from '../api/prom.js';
import { parseValue } from '../chart/columns.js';
import { panelChartData } from '../chart/panelData.js';
import { expandVariables, formatDateTime, isRelative, zoomSpec } from '../chart/range.js';
import { TimeSeriesChart } from '../chart/TimeSeriesChart.js';
import { formatValue } from '../chart/units.js';
import { QueryEditor } from '../components/QueryEditor.js';
import { RefreshPicker, TimeRangePicker } from '../components/TimeRangePicker.js';
import { useAsync, useTitle } from '../hooks.js';
import { setQuery, useLocation } from '../router.js';
import { useTimeState } from '../timeState.js';

export default function ExplorePage() {
  useTitle('Explore');
  const loc = useLocation();
  const expr = loc.query.get('expr') ?? '';
  const tab = loc.query.get('tab') === 'table' ? 'table' : 'graph';
  const time = useTimeState(500);
  const [draft, setDraft] = useState(expr);
  useEffect(() => setDraft(expr), [expr]);

  const run = () => {
    if (draft.trim() === expr) time.reload();
    else setQuery({ expr: draft.trim() || null });
  };

  const vars = { step: time.grid.step, rangeSec: time.grid.end - time.grid.start };
  const expanded = expandVariables(expr, vars);
  const graph = useAsync(
    async (signal) => {
      if (!expr || tab !== 'graph') return null;
      const r = await queryRange(expanded, time.grid.start, time.grid.end, time.grid.step, signal);
      return { ...r, chart: panelChartData([{ expr, series: r.series }], time.grid) };
    },
    [expanded, time.grid, tab],
  );
  const table = useAsync(
    async (signal) => {
      if (!expr || tab !== 'table') return null;
      const t0 = performance.now();
      const r = await queryInstant(expanded, time.grid.end, signal);
      return { ...r, ms: performance.now() - t0 };
    },
    [expanded, time.grid, tab],
  );
  const active = tab === 'graph' ? graph : table;
  const err = active.error;
  const errorPos = err instanceof ApiError ? err.position : undefined;

  return (
    <>
      <div class="page-head">
        <h1>Explore</h1>
        <div class="spacer" />
        <TimeRangePicker value={time.spec} onChange={time.setSpec} />
        <RefreshPicker value={time.refresh} onChange={time.setRefresh} disabled={!isRelative(time.spec)} />
      </div>
      <div class="card" style={{ marginBottom: '14px' }}>
        <div class="card-body">
          <div style={{ display: 'flex', gap: '8px', alignItems: 'flex-start' }}>
            <div style={{ flex: 1, minWidth: 0 }}>
              <QueryEditor value={draft} onChange={setDraft} onRun={run} errorPos={expr === draft ? errorPos : undefined} id="promql" />
            </div>
            <button type="button" class="primary" onClick={run} style={{ height: '66px' }}>
              Run query
            </button>
          </div>
          <div class="subtle" style={{ marginTop: '6px', fontSize: '12px' }}>
            Enter runs · Shift+Enter new line · Ctrl+Space completes · <code>$__rate_interval</code> = {expandVariables('$__rate_interval', vars)} at a{' '}
            {time.grid.step}s step
          </div>
          {err ? <QueryError message={err.message} expr={expr} position={errorPos} /> : null}
        </div>
      </div>
      <nav class="tabs" aria-label="Result view">
        {(['graph', 'table'] as const).map((t) => (
          <a
            key={t}
            href={`?${new URLSearchParams({ ...Object.fromEntries(loc.query), tab: t })}`}
            aria-current={tab === t ? 'page' : undefined}
            onClick={(e) => {
              e.preventDefault();
              setQuery({ tab: t === 'graph' ? null : t }, { replace: true });
            }}
          >
            {t === 'graph' ? 'Graph' : 'Table'}
          </a>
        ))}
        <span class="subtle" style={{ marginLeft: 'auto', alignSelf: 'center' }} aria-live="polite">
          {active.loading && expr ? 'Running…' : summary(tab, graph.data, table.data)}
        </span>
      </nav>
      {!expr ? <div class="empty">Write a query above and press Enter. Start typing a metric name for suggestions.</div> : null}
      {tab === 'graph' && graph.data && graph.data.chart.series.length === 0 ? (
        <div class="empty" data-explore-empty>
          No series match this query between {formatDateTime(time.grid.start * 1000)} and {formatDateTime(time.grid.end * 1000)}. Check the metric name and labels, or widen the
          range.
        </div>
      ) : tab === 'graph' && graph.data ? (
        <div class="panel" data-explore-graph>
          <TimeSeriesChart
            title="Query result"
            data={graph.data.chart.data}
            series={graph.data.chart.series}
            unit="short"
            height={360}
            xRange={[time.grid.start, time.grid.end]}
            onZoom={(a, b) => time.setSpec(zoomSpec(a, b))}
          />
          {graph.data.chart.dropped ? <div class="subtle">{graph.data.chart.dropped} more series not drawn.</div> : null}
        </div>
      ) : null}
      {tab === 'table' && table.data ? <ResultTable data={table.data.data} at={time.grid.end} /> : null}
    </>
  );
}

function summary(tab: string, g: { series: unknown[]; ms: number } | null | undefined, t: { data: InstantResult; ms: number } | null | undefined): string {
  if (tab === 'graph' && g) return `${g.series.length} series · ${Math.round(g.ms)} ms`;
  if (tab === 'table' && t) {
    const n = Array.isArray(t.data.result) && t.data.resultType !== 'scalar' && t.data.resultType !== 'string' ? t.data.result.length : 1;
    return `${n} result${n === 1 ? '' : 's'} · ${Math.round(t.ms)} ms`;
  }
  return '';
}

/** The error message, and the expression with a caret under the position it points at. */
function QueryError({ message, expr, position }: { message: string; expr: string; position?: number }) {
  const caret = useMemo(() => {
    if (position === undefined || position < 0 || position > expr.length) return null;
    const lineStart = expr.lastIndexOf('\n', position - 1) + 1;
    const lineEnd = expr.indexOf('\n', position);
    const line = expr.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
    return `${line}\n${' '.repeat(position - lineStart)}^`;
  }, [expr, position]);
  return (
    <div class="error-box" role="alert" data-query-error>
      <strong>Error:</strong> {message}
      {caret ? <div class="error-pos">{caret}</div> : null}
    </div>
  );
}

function ResultTable({ data, at }: { data: InstantResult; at: number }) {
  if (data.resultType === 'scalar' || data.resultType === 'string') {
    return (
      <div class="card card-body">
        <span class="big">{data.resultType === 'scalar' ? formatValue(parseValue(data.result[1])) : data.result[1]}</span> <span class="subtle">{data.resultType}</span>
      </div>
    );
  }
  const rows =
    data.resultType === 'vector'
      ? data.result.map((s) => ({ metric: s.metric, value: s.value[1] }))
      : data.result.map((s) => ({ metric: s.metric, value: s.values.length ? `${s.values[s.values.length - 1][1]} (${s.values.length} samples)` : '' }));
  // The table is an instant query at the end of the range: series that stopped earlier (more than
  // the 5-minute lookback before it) are on the graph but have no value here.
  if (rows.length === 0) {
    return (
      <div class="empty" data-explore-empty>
        No series has a value at {formatDateTime(at * 1000)}, the end of the range (a value counts for 5 minutes). Series that stopped earlier are on the Graph tab.
      </div>
    );
  }
  return (
    <div class="card result-table">
      <table class="list">
        <thead>
          <tr>
            <th>Series</th>
            <th class="num">Value</th>
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, 1000).map((r, i) => (
            <tr key={i}>
              <td class="mono">{seriesName(r.metric)}</td>
              <td class="num mono">{r.value}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function seriesName(m: Record<string, string>): string {
  const { __name__: name = '', ...rest } = m;
  const labels = Object.entries(rest)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ');
  return `${name}{${labels}}`;
}
