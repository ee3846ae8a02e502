import type { ComponentType } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { listAnnotations, type Annotation, type DashPanel, type LibraryDashboard } from '../api/dashboards.js';
import { labelValues } from '../api/prom.js';
import { zoomSpec } from '../chart/range.js';
import { makeBarrier, type PanelMeasure } from './measure.js';
import { useAsync, useStable } from '../hooks.js';
import { navigate, useLocation } from '../router.js';
import type { TimeState } from '../timeState.js';
import { DashPanelView } from './DashPanel.js';
import { layout } from './layout.js';
import { ALL, interpolate, parseLabelValues, renderValue, selectedValues, urlKey, type Variable } from './variables.js';
import './dashboards.css';

type Editor = ComponentType<import('./PanelEditor.js').PanelEditorProps>;
let Editor: Editor | null = null;

/** The panel editor (and the PromQL editor it uses) loads on first use, not with every dashboard. */
function useEditor(wanted: boolean): Editor | null {
  const [, setLoaded] = useState(!!Editor);
  useEffect(() => {
    if (!wanted || Editor) return;
    import('./PanelEditor.js').then((m) => {
      Editor = m.PanelEditor;
      setLoaded(true);
    });
  }, [wanted]);
  return Editor;
}

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

interface Props {
  dash: LibraryDashboard;
  time: TimeState;
  /** Render timings per panel (the service page's benchmark hooks). */
  onMeasure?: (m: PanelMeasure) => void;
  /** Hold every panel's data until all of it is in, then draw them together (`?render=batch`). */
  batch?: boolean;
  /** Called with the dashboard the panel editor saved. */
  onSaved?: (d: LibraryDashboard) => void;
  /** Notified of the panels drawn now (rows collapsed leave theirs out). */
  onVisible?: (n: number) => void;
}

/**
 * A dashboard of the library model: its variables, its grid of panels (every kind in
 * panels/registry.ts), annotations and the panel editor. The dashboard page and the service
 * page both draw through here, so a service dashboard has the same variables and heatmaps.
 */
export function DashboardView({ dash: d, time, onMeasure, batch, onSaved, onVisible }: Props) {
  const loc = useLocation();
  const id = d.id;

  // Variable options, resolved in order: a query variable may use the ones before it.
  const [options, setOptions] = useState<Record<string, string[]>>({});
  const urlVals = (v: Variable) => loc.query.getAll(urlKey(v.name));
  const rendered = useMemo(() => {
    const out: Record<string, string> = {};
    for (const v of d.variables) out[v.name] = renderValue(v, selectedValues(v, urlVals(v), options[v.name] ?? []), options[v.name] ?? []);
    return out;
  }, [d, options, loc.href]);

  const varDeps = JSON.stringify(d.variables.map((v) => (v.type === 'query' ? interpolate(v.query, rendered) : '')));
  useEffect(() => {
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

  const ann = d.annotations;
  const kinds = [ann.manual && 'manual', ann.alerts && 'alert', ann.deploys && 'deploy'].filter(Boolean).join(',');
  const annotations = useAsync(
    (signal) =>
      kinds ? listAnnotations({ start: time.grid.start, end: time.grid.end, service: ann.service, dashboard: id, kinds }, signal) : Promise.resolve([] as Annotation[]),
    [id, time.grid, kinds, ann.service],
  );
  const annData = useStable(annotations.data ?? []);

  const [collapsed, setCollapsed] = useState<Set<number>>(new Set());
  useEffect(() => {
    setCollapsed(new Set(d.panels.flatMap((p, i) => (p.kind === 'row' && p.options.collapsed ? [i] : []))));
  }, [d]);
  const placed = useMemo(() => layout(d.panels, collapsed), [d, collapsed]);
  const visible = placed.filter((p) => p.panel.kind !== 'row').length;
  useEffect(() => onVisible?.(visible), [visible]);
  const barrier = useMemo(() => (batch ? makeBarrier(visible) : undefined), [batch, time.grid, placed]);
  const varsStable = useStable(rendered);
  const ready = d.variables.every((v) => options[v.name] !== undefined || v.type === 'text');

  /** The panel being edited: its index in d.panels, or null for a new one. */
  const [editing, setEditing] = useState<{ index: number | null; panel: DashPanel } | null>(null);
  const readOnly = d.source === 'file';
  const PanelEditor = useEditor(editing !== null);
  const bottom = d.panels.reduce((m, p) => Math.max(m, p.gridPos.y + p.gridPos.h), 0);
  const range = new URLSearchParams(Object.entries({ from: time.spec.from, to: time.spec.to }).filter(([k, v]) => !(k === 'to' && v === 'now') && !(k === 'from' && v === 'now-1h'))).toString();

  return (
    <>
      <div class="dash-toolbar">
        {d.variables.some((v) => !v.hide) ? (
          <div class="dash-vars" role="group" aria-label="Variables">
            {d.variables
              .filter((v) => !v.hide)
              .map((v) => (
                <VariablePicker key={v.name} v={v} options={options[v.name] ?? []} values={selectedValues(v, urlVals(v), options[v.name] ?? [])} />
              ))}
          </div>
        ) : null}
        <div class="spacer" />
        <button
          type="button"
          onClick={() => setEditing({ index: null, panel: { kind: 'timeseries', title: '', queries: [{ expr: '' }], options: {}, gridPos: { x: 0, y: bottom, w: 12, h: 8 } } })}
          disabled={readOnly}
          title={readOnly ? 'Provisioned from DASHBOARDS_DIR: edit the file' : 'Add a panel to this dashboard'}
        >
          Add panel
        </button>
      </div>
      {d.panels.length === 0 ? (
        <div class="empty">This dashboard has no panels yet. {readOnly ? 'Add them in its file.' : 'Add one with “Add panel”.'}</div>
      ) : ready ? (
        <div class="dash-grid" style={{ gridAutoRows: `${ROW_PX}px`, gap: `${GAP_PX}px` }}>
          {placed.map(({ panel, index, y }) => {
            // --h lets a phone-width layout stack the cells in order at their own heights (dashboards.css).
            const style = { gridColumn: `${panel.gridPos.x + 1} / span ${panel.gridPos.w}`, gridRow: `${y + 1} / span ${panel.gridPos.h}`, '--h': panel.gridPos.h };
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
                  onMeasure={onMeasure}
                  barrier={barrier}
                  rangeQuery={range}
                  onEdit={readOnly ? undefined : () => setEditing({ index, panel })}
                />
              </div>
            );
          })}
        </div>
      ) : (
        <div class="empty" aria-busy="true">
          Loading…
        </div>
      )}
      {editing && PanelEditor ? (
        <PanelEditor
          dash={d}
          index={editing.index}
          initial={editing.panel}
          vars={varsStable}
          grid={time.grid}
          onClose={() => setEditing(null)}
          onSaved={(saved) => {
            setEditing(null);
            onSaved?.(saved);
          }}
        />
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
