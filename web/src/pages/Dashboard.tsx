import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError } from '../api/client.js';
import { getLibraryDashboard, listAnnotations, type Annotation } from '../api/dashboards.js';
import { labelValues } from '../api/prom.js';
import { isRelative, zoomSpec } from '../chart/range.js';
import { Link } from '../components/Link.js';
import { RefreshPicker, TimeRangePicker } from '../components/TimeRangePicker.js';
import { DashPanelView } from '../dashboards/DashPanel.js';
import { layout } from '../dashboards/layout.js';
import { ALL, interpolate, parseLabelValues, renderValue, selectedValues, urlKey, type Variable } from '../dashboards/variables.js';
import '../dashboards/dashboards.css';
import { useAsync, useStable, useTitle } from '../hooks.js';
import { navigate, useLocation } from '../router.js';
import { useTimeState } from '../timeState.js';

/** Grid row height in pixels (Grafana's is 30) and the gap between panels. */
const ROW_PX = 30;
const GAP_PX = 8;

/** Set a variable's values in the URL (var-<name>, repeated), replacing the history entry. */
function setVarInUrl(name: string, values: string[]) {
  const q = new URLSearchParams(location.search);
  q.delete(urlKey(name));
  for (const v of values) q.append(urlKey(name), v);
  const s = q.toString();
  navigate(location.pathname + (s ? `?${s}` : ''), { replace: true });
}

export default function DashboardPage({ id }: { id: string }) {
  const loc = useLocation();
  const time = useTimeState();
  const dash = useAsync((signal) => getLibraryDashboard(id, signal), [id]);
  const d = useStable(dash.data);
  useTitle(d?.title ?? id);

  // Variable options, resolved in order: a query variable may use the ones before it.
  const [options, setOptions] = useState<Record<string, string[]>>({});
  const urlVals = (v: Variable) => loc.query.getAll(urlKey(v.name));
  const rendered = useMemo(() => {
    const out: Record<string, string> = {};
    for (const v of d?.variables ?? []) out[v.name] = renderValue(v, selectedValues(v, urlVals(v), options[v.name] ?? []), options[v.name] ?? []);
    return out;
  }, [d, options, loc.href]);

  const varDeps = JSON.stringify((d?.variables ?? []).map((v) => (v.type === 'query' ? interpolate(v.query, rendered) : '')));
  useEffect(() => {
    if (!d) return;
    const ac = new AbortController();
    (async () => {
      const next: Record<string, string[]> = {};
      const vals: Record<string, string> = {};
      for (const v of d.variables) {
        let opts: string[] = [];
        if (v.type === 'custom' || v.type === 'interval') opts = v.options;
        else if (v.type === 'query') {
          const lv = parseLabelValues(interpolate(v.query, vals));
          if (lv) {
            try {
              opts = await labelValues(lv.label, lv.selector, ac.signal);
            } catch {
              opts = [];
            }
          }
          if (v.regex) {
            try {
              const re = new RegExp(v.regex);
              opts = opts.filter((o) => re.test(o));
            } catch {
              /* an invalid regex filters nothing */
            }
          }
        }
        next[v.name] = opts;
        vals[v.name] = renderValue(v, selectedValues(v, loc.query.getAll(urlKey(v.name)), opts), opts);
      }
      if (!ac.signal.aborted) setOptions(next);
    })();
    return () => ac.abort();
  }, [d, varDeps]);

  const ann = d?.annotations;
  const kinds = ann ? [ann.manual && 'manual', ann.alerts && 'alert', ann.deploys && 'deploy'].filter(Boolean).join(',') : '';
  const annotations = useAsync(
    (signal) =>
      kinds ? listAnnotations({ start: time.grid.start, end: time.grid.end, service: ann?.service, dashboard: id, kinds }, signal) : Promise.resolve([] as Annotation[]),
    [id, time.grid, kinds, ann?.service],
  );
  const annData = useStable(annotations.data ?? []);

  const [collapsed, setCollapsed] = useState<Set<number>>(new Set());
  useEffect(() => {
    if (d) setCollapsed(new Set(d.panels.flatMap((p, i) => (p.kind === 'row' && p.options.collapsed ? [i] : []))));
  }, [d]);
  const placed = useMemo(() => (d ? layout(d.panels, collapsed) : []), [d, collapsed]);
  const varsStable = useStable(rendered);
  const ready = !!d && d.variables.every((v) => options[v.name] !== undefined || v.type === 'text');

  return (
    <>
      <div class="page-head">
        <h1>
          <Link href="/dashboards" class="subtle">
            Dashboards
          </Link>{' '}
          / {d?.folder ? <span class="subtle">{d.folder} / </span> : null}
          {d?.title ?? id}
        </h1>
        <div class="spacer" />
        <TimeRangePicker value={time.spec} onChange={time.setSpec} />
        <RefreshPicker value={time.refresh} onChange={time.setRefresh} disabled={!isRelative(time.spec)} />
        <button type="button" class="icon" onClick={time.reload} aria-label="Refresh now" title="Refresh now">
          ↻
        </button>
        {d ? (
          <a class="button" href={`/api/v1/dashboards/${encodeURIComponent(id)}/export?format=grafana`} download={`${id}.json`}>
            Export
          </a>
        ) : null}
      </div>
      {dash.error ? (
        <div class="error-box" role="alert">
          {dash.error instanceof ApiError && dash.error.status === 404 ? (
            <>
              There is no dashboard <strong>{id}</strong>. <Link href="/dashboards">Back to the dashboards</Link>.
            </>
          ) : (
            <>Could not load the dashboard: {dash.error.message}</>
          )}
        </div>
      ) : null}
      {d && d.variables.some((v) => !v.hide) ? (
        <div class="dash-vars" role="group" aria-label="Variables">
          {d.variables
            .filter((v) => !v.hide)
            .map((v) => (
              <VariablePicker key={v.name} v={v} options={options[v.name] ?? []} values={selectedValues(v, urlVals(v), options[v.name] ?? [])} />
            ))}
        </div>
      ) : null}
      {d && ready ? (
        <div class="dash-grid" style={{ gridAutoRows: `${ROW_PX}px`, gap: `${GAP_PX}px` }}>
          {placed.map(({ panel, index, y }) => {
            const style = { gridColumn: `${panel.gridPos.x + 1} / span ${panel.gridPos.w}`, gridRow: `${y + 1} / span ${panel.gridPos.h}` };
            if (panel.kind === 'row') {
              const isCollapsed = collapsed.has(index);
              return (
                <div key={index} class="dash-row" style={style}>
                  <button
                    type="button"
                    aria-expanded={!isCollapsed}
                    onClick={() => {
                      const next = new Set(collapsed);
                      if (isCollapsed) next.delete(index);
                      else next.add(index);
                      setCollapsed(next);
                    }}
                  >
                    {isCollapsed ? '▸' : '▾'} {panel.title}
                  </button>
                </div>
              );
            }
            return (
              <div key={index} class="dash-cell" style={style}>
                <DashPanelView
                  panel={panel}
                  vars={varsStable}
                  grid={time.grid}
                  annotations={annData}
                  syncKey={`dash-${id}`}
                  onZoom={(a, b) => time.setSpec(zoomSpec(a, b))}
                  height={panel.gridPos.h * (ROW_PX + GAP_PX) - GAP_PX - 40}
                />
              </div>
            );
          })}
        </div>
      ) : !dash.error ? (
        <div class="empty" aria-busy="true">
          Loading…
        </div>
      ) : null}
    </>
  );
}

function VariablePicker({ v, options, values }: { v: Variable; options: string[]; values: string[] }) {
  const label = v.label ?? v.name;
  const id = `var-${v.name}`;
  if (v.type === 'text') {
    return (
      <label class="dash-var" for={id}>
        <span>{label}</span>
        <input id={id} type="text" value={values[0] ?? ''} onChange={(e) => setVarInUrl(v.name, [(e.target as HTMLInputElement).value])} />
      </label>
    );
  }
  const multi = 'multi' in v && !!v.multi;
  const all = 'includeAll' in v && !!v.includeAll;
  const choices = [...(all ? [{ value: ALL, label: 'All' }] : []), ...options.map((o) => ({ value: o, label: o }))];
  return (
    <label class="dash-var" for={id}>
      <span>{label}</span>
      <select
        id={id}
        name={v.name}
        multiple={multi}
        size={multi ? Math.min(5, Math.max(2, choices.length)) : undefined}
        onChange={(e) => {
          const sel = [...(e.target as HTMLSelectElement).selectedOptions].map((o) => o.value);
          // Choosing All with other values keeps only the last choice's meaning.
          setVarInUrl(v.name, sel.includes(ALL) && sel.length > 1 ? sel.filter((x) => x !== ALL) : sel);
        }}
      >
        {choices.map((c) => (
          <option key={c.value} value={c.value} selected={values.includes(c.value)}>
            {c.label}
          </option>
        ))}
      </select>
    </label>
  );
}
