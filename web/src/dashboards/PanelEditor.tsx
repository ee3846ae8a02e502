import { useEffect, useRef, useState } from 'preact/hooks';
import { issueLines, sendJSON } from '../api/client.js';
import type { DashPanel, LibraryDashboard, PanelKind } from '../api/dashboards.js';
import { QueryEditor } from '../components/QueryEditor.js';
import { useDebounced } from '../hooks.js';
import { PANELS } from '../panels/registry.js';
import { DashPanelView } from './DashPanel.js';

/** Units offered (Grafana ids, as panels store them; panels/format.ts maps them for display). */
const UNITS: [string, string][] = [
  ['', 'Number'],
  ['reqps', 'Requests/s'],
  ['ops', 'Operations/s'],
  ['percent', 'Percent (0-100)'],
  ['percentunit', 'Percent (0-1)'],
  ['s', 'Seconds'],
  ['ms', 'Milliseconds'],
  ['bytes', 'Bytes'],
  ['Bps', 'Bytes/s'],
];

const KINDS = Object.keys(PANELS) as Exclude<PanelKind, 'row'>[];

/** The panel as the editor's fields say: options the new kind accepts, empty queries left out. */
function draftPanel(base: DashPanel, f: { kind: Exclude<PanelKind, 'row'>; title: string; unit: string; content: string; queries: { expr: string; legend: string }[] }): DashPanel {
  const sameKind = f.kind === base.kind;
  const options: Record<string, unknown> = f.kind === 'text' ? { mode: (sameKind && base.options.mode) || 'markdown', content: f.content } : sameKind ? { ...base.options } : {};
  if (f.kind !== 'text') {
    if (f.unit) options.unit = f.unit;
    else delete options.unit;
  }
  const queries =
    f.kind === 'text'
      ? []
      : f.queries
          .filter((q) => q.expr.trim())
          .map((q, i) => ({ ...base.queries[i], expr: q.expr.trim(), refId: base.queries[i]?.refId ?? String.fromCharCode(65 + (i % 26)), ...(q.legend ? { legend: q.legend } : { legend: undefined }) }))
          .map(({ legend, ...q }) => (legend ? { ...q, legend } : q));
  return { ...base, kind: f.kind, title: f.title, queries, options };
}

/** A dashboard without what the server adds on reads (source, updatedAt), ready to PUT. */
function docOf(d: LibraryDashboard, panels: DashPanel[]) {
  const { source: _s, updatedAt: _u, ...doc } = d;
  return { ...doc, panels };
}

export interface PanelEditorProps {
  dash: LibraryDashboard;
  /** Index in dash.panels of the panel edited, or null for a new panel. */
  index: number | null;
  initial: DashPanel;
  vars: Readonly<Record<string, string>>;
  grid: { start: number; end: number; step: number };
  onClose: () => void;
  onSaved: (d: LibraryDashboard) => void;
}

/**
 * Add or edit one panel: kind, queries with legends, title, unit, a live preview, and save
 * (PUT /api/v1/dashboards/<id>, the whole dashboard with this panel in it). A service's
 * dashboard saves as an edited library copy, which wins until it is deleted.
 */
export function PanelEditor({ dash, index, initial, vars, grid, onClose, onSaved }: PanelEditorProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const [kind, setKind] = useState<Exclude<PanelKind, 'row'>>(initial.kind === 'row' ? 'timeseries' : initial.kind);
  const [title, setTitle] = useState(initial.title);
  const [unit, setUnit] = useState<string>(initial.options.unit ?? '');
  const [content, setContent] = useState<string>(initial.options.content ?? '');
  const [queries, setQueries] = useState(initial.queries.length ? initial.queries.map((q) => ({ expr: q.expr, legend: q.legend ?? '' })) : [{ expr: '', legend: '' }]);
  const [err, setErr] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    ref.current?.showModal();
    return () => opener?.focus();
  }, []);

  const draft = draftPanel(initial, { kind, title, unit, content, queries });
  const preview = useDebounced(draft, 400);
  const previewKey = JSON.stringify(preview);
  const setQuery = (i: number, patch: Partial<{ expr: string; legend: string }>) => setQueries(queries.map((q, j) => (j === i ? { ...q, ...patch } : q)));

  const save = async (remove = false) => {
    if (!remove && kind !== 'text' && draft.queries.length === 0) return setErr('Type a query: the panel has nothing to draw.');
    const panels = [...dash.panels];
    if (remove && index !== null) panels.splice(index, 1);
    else if (index === null) panels.push(draft);
    else panels[index] = draft;
    setBusy(true);
    try {
      const r = await sendJSON<{ data: LibraryDashboard }>('PUT', `/api/v1/dashboards/${encodeURIComponent(dash.id)}`, docOf(dash, panels));
      onSaved(r.data);
    } catch (e) {
      setErr(issueLines(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog ref={ref} onClose={onClose} aria-labelledby="pe-head" class="panel-editor">
      <div class="card-head" style={{ display: 'flex', alignItems: 'center' }}>
        <strong id="pe-head" style={{ flex: 1 }}>
          {index === null ? 'Add a panel' : `Edit ${initial.title || 'panel'}`}
        </strong>
        <button type="button" class="icon" onClick={onClose} aria-label="Close">
          ✕
        </button>
      </div>
      <div class="card-body pe-body">
        <div class="pe-fields">
          <label for="pe-kind">Kind</label>
          <select id="pe-kind" value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value as Exclude<PanelKind, 'row'>)}>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
          <label for="pe-title">Title</label>
          <input id="pe-title" type="text" value={title} onInput={(e) => setTitle((e.target as HTMLInputElement).value)} />
          {kind === 'text' ? (
            <>
              <label for="pe-content">Markdown</label>
              <textarea id="pe-content" rows={6} value={content} onInput={(e) => setContent((e.target as HTMLTextAreaElement).value)} />
            </>
          ) : (
            <>
              <label for="pe-unit">Unit</label>
              <select id="pe-unit" value={unit} onChange={(e) => setUnit((e.target as HTMLSelectElement).value)}>
                {UNITS.some(([u]) => u === unit) ? null : <option value={unit}>{unit}</option>}
                {UNITS.map(([u, label]) => (
                  <option key={u} value={u}>
                    {label}
                  </option>
                ))}
              </select>
              {queries.map((q, i) => (
                <fieldset key={i} class="pe-query">
                  <legend>Query {String.fromCharCode(65 + (i % 26))}</legend>
                  <QueryEditor id={`pe-query-${i}`} label={`Query ${String.fromCharCode(65 + (i % 26))}`} value={q.expr} onChange={(v) => setQuery(i, { expr: v })} onRun={() => {}} rows={2} />
                  <label for={`pe-legend-${i}`}>Legend</label>
                  <input id={`pe-legend-${i}`} type="text" placeholder="{{label}} names series by their labels" value={q.legend} onInput={(e) => setQuery(i, { legend: (e.target as HTMLInputElement).value })} />
                  {queries.length > 1 ? (
                    <button type="button" onClick={() => setQueries(queries.filter((_, j) => j !== i))}>
                      Remove query
                    </button>
                  ) : null}
                </fieldset>
              ))}
              <button type="button" onClick={() => setQueries([...queries, { expr: '', legend: '' }])}>
                Add query
              </button>
            </>
          )}
        </div>
        <div class="pe-preview" data-panel-preview aria-label="Preview">
          <DashPanelView key={previewKey} panel={preview} vars={vars} grid={grid} annotations={[]} syncKey="panel-editor" onZoom={() => {}} height={260} />
        </div>
      </div>
      {err ? (
        <div class="error-box" role="alert" style={{ whiteSpace: 'pre-wrap' }}>
          {err}
        </div>
      ) : null}
      <div class="controls" style={{ margin: '10px', justifyContent: 'flex-end' }}>
        {index !== null ? (
          <button type="button" onClick={() => save(true)} disabled={busy}>
            Remove panel
          </button>
        ) : null}
        <div class="spacer" />
        <button type="button" onClick={onClose}>
          Cancel
        </button>
        <button type="button" class="primary" onClick={() => save()} disabled={busy}>
          Save dashboard
        </button>
      </div>
    </dialog>
  );
}
