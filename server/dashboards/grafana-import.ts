import { kindForGrafana, type PanelKind } from './panel-kinds.js';
import type { DashboardDoc, DashboardPanel, Variable } from './model.js';

/**
 * Grafana dashboard JSON -> our dashboard model. Converts Prometheus panels of the kinds in
 * panel-kinds.ts, rows (both the old `rows[]` layout and row panels), and query, custom,
 * interval, textbox and constant variables. Nothing is dropped silently: every setting of a
 * panel, target or variable that the converter did not read is listed in the report, by the
 * path it had in the Grafana JSON, so a user sees what the imported dashboard lacks.
 */

interface ImportNote {
  /** Where in the Grafana JSON, e.g. `panels[3]` or `templating.list[1]`. */
  path: string;
  /** The panel or variable title, when it has one. */
  title?: string;
  message: string;
}

export interface ImportResult {
  dashboard: DashboardDoc;
  report: ImportNote[];
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** True when the value looks like Grafana dashboard JSON rather than our model. */
export function isGrafanaDashboard(v: unknown): v is Json {
  if (!isObj(v)) return false;
  if (isObj(v.dashboard)) return true; // the API's {dashboard, meta} envelope
  if ('schemaVersion' in v || 'templating' in v || Array.isArray(v.rows)) return true;
  return Array.isArray(v.panels) && v.panels.some((p) => isObj(p) && typeof p.type === 'string' && !('kind' in p));
}

/**
 * Settings whose absence changes nothing we draw: identifiers, plugin bookkeeping, and values
 * equal to their defaults. They are not reported.
 */
const BOOKKEEPING = new Set(['id', 'pluginVersion', 'type', 'gridPos', 'datasource', 'libraryPanel.uid']);

/** Every leaf of a JSON value as dotted paths (arrays by index), skipping empty and default-ish leaves. */
function leaves(v: unknown, prefix: string, out: string[]): string[] {
  if (Array.isArray(v)) {
    v.forEach((x, i) => leaves(x, `${prefix}[${i}]`, out));
  } else if (isObj(v)) {
    for (const [k, x] of Object.entries(v)) leaves(x, prefix ? `${prefix}.${k}` : k, out);
  } else if (v !== null && v !== undefined && v !== '' && v !== false) {
    out.push(prefix);
  }
  return out;
}

/** Tracks which paths of one Grafana object the converter consumed. */
class Reader {
  readonly used = new Set<string>();
  constructor(readonly obj: Json) {}

  get(path: string): unknown {
    this.used.add(path);
    return this.peek(path);
  }

  /** Read without marking as converted. */
  peek(path: string): unknown {
    let v: unknown = this.obj;
    for (const k of path.split('.')) v = isObj(v) ? v[k] : undefined;
    return v;
  }

  /** Paths holding a value that nothing read. */
  unread(): string[] {
    return leaves(this.obj, '', []).filter((p) => {
      const bare = p.replace(/\[\d+\]/g, '');
      for (const u of this.used) if (p === u || p.startsWith(`${u}.`) || p.startsWith(`${u}[`) || bare === u) return false;
      return !BOOKKEEPING.has(p.split(/[.[]/)[0]);
    });
  }
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

const REDUCERS: Record<string, 'last' | 'mean' | 'max' | 'min' | 'sum'> = {
  lastNotNull: 'last', last: 'last', mean: 'mean', avg: 'mean', max: 'max', min: 'min', sum: 'sum', current: 'last', total: 'sum',
};

/** The datasource of a panel or target is Prometheus (or a variable/default that we take as ours). */
function isPrometheus(ds: unknown): boolean {
  if (ds === undefined || ds === null) return true;
  if (typeof ds === 'string') return ds === '' || ds.startsWith('$') || /prometheus/i.test(ds) || ds === 'default';
  if (isObj(ds)) {
    const t = str(ds.type);
    const uid = str(ds.uid) ?? '';
    // "-- Mixed --" lets each query name its source; the queries are checked one by one.
    return t === undefined ? uid === '' || uid.startsWith('$') : t === 'prometheus' || uid === '-- Mixed --';
  }
  return false;
}

export function importGrafana(input: Json): ImportResult {
  const g = isObj(input.dashboard) ? input.dashboard : input;
  const report: ImportNote[] = [];
  const panels: DashboardPanel[] = [];

  // ---- Layout: row panels (schemaVersion >= 16) or the old rows[] ----
  const flat: { p: Json; path: string; row?: { collapsed: boolean } }[] = [];
  if (Array.isArray(g.rows)) {
    let y = 0;
    g.rows.forEach((row, ri) => {
      if (!isObj(row)) return;
      const height = Math.max(3, Math.round((num(String(row.height ?? '250').replace('px', '')) ?? 250) / 30));
      if (row.showTitle || (str(row.title) && row.title !== 'Dashboard Row' && row.title !== 'New row')) {
        flat.push({ p: { type: 'row', title: row.title, collapsed: !!row.collapse, gridPos: { x: 0, y, w: 24, h: 1 } }, path: `rows[${ri}]` });
        y += 1;
      }
      let x = 0;
      const rowPanels = Array.isArray(row.panels) ? row.panels : [];
      rowPanels.forEach((p, pi) => {
        if (!isObj(p)) return;
        const w = Math.min(24, Math.max(1, Math.round((num(p.span) ?? 12) * 2)));
        if (x + w > 24) {
          x = 0;
          y += height;
        }
        const { span: _span, height: _h, ...rest } = p;
        flat.push({ p: { ...rest, gridPos: { x, y, w, h: height } }, path: `rows[${ri}].panels[${pi}]` });
        x += w;
      });
      y += height;
    });
  } else if (Array.isArray(g.panels)) {
    g.panels.forEach((p, i) => {
      if (!isObj(p)) return;
      flat.push({ p, path: `panels[${i}]` });
      if (p.type === 'row' && Array.isArray(p.panels)) {
        p.panels.forEach((c, ci) => isObj(c) && flat.push({ p: c, path: `panels[${i}].panels[${ci}]` }));
      }
    });
  }

  for (const { p, path } of flat) {
    const title = str(p.title) ?? '';
    const type = str(p.type) ?? '';
    const kind = kindForGrafana(type);
    if (!kind) {
      report.push({ path, title, message: `panel type ${type || '(none)'} has no Metronome panel kind; not converted` });
      continue;
    }
    if (!isPrometheus(p.datasource) && kind !== 'text' && kind !== 'row') {
      report.push({ path, title, message: `data source ${JSON.stringify(p.datasource)} is not Prometheus; not converted` });
      continue;
    }
    const converted = convertPanel(p, kind, path, title, report);
    if (converted) panels.push(converted);
  }

  // ---- Variables ----
  const variables: Variable[] = [];
  const list = isObj(g.templating) && Array.isArray(g.templating.list) ? g.templating.list : [];
  list.forEach((v, i) => {
    if (!isObj(v)) return;
    const converted = convertVariable(v, `templating.list[${i}]`, report);
    if (converted) variables.push(converted);
  });

  // ---- Dashboard-level settings ----
  const dash = new Reader(g);
  for (const k of ['title', 'uid', 'tags', 'panels', 'rows', 'templating', 'time', 'refresh', 'description']) dash.get(k);
  // Bookkeeping at the top: versions, ids, editor preferences, requirements of the export.
  for (const k of ['id', 'version', 'schemaVersion', '__inputs', '__requires', '__elements', 'editable', 'graphTooltip', 'gnetId', 'fiscalYearStartMonth', 'weekStart', 'timezone', 'timepicker', 'iteration', 'style', 'liveNow', 'hideControls', 'sharedCrosshair']) dash.get(k);
  const annotations = isObj(g.annotations) && Array.isArray(g.annotations.list) ? g.annotations.list : [];
  dash.get('annotations');
  annotations.forEach((a, i) => {
    if (isObj(a) && a.builtIn === 1) return; // Grafana's own "Annotations & Alerts": ours are drawn anyway
    if (isObj(a)) report.push({ path: `annotations.list[${i}]`, title: str(a.name), message: 'annotation queries are not converted (Metronome draws alert changes, deploys and posted annotations)' });
  });
  const rest = dash.unread();
  if (rest.length) report.push({ path: '(dashboard)', message: `settings not converted: ${summarise(rest)}` });

  const uid = str(g.uid);
  const time = isObj(g.time) && str(g.time.from) && str(g.time.to) ? { from: String(g.time.from), to: String(g.time.to) } : undefined;
  const dashboard: DashboardDoc = {
    ...(uid && /^[a-zA-Z0-9][a-zA-Z0-9_.:-]{0,127}$/.test(uid) ? { id: uid } : {}),
    title: (str(g.title) ?? '').trim() || 'Imported dashboard',
    folder: 'General',
    tags: Array.isArray(g.tags) ? g.tags.filter((t): t is string => typeof t === 'string' && t.trim() !== '').slice(0, 50) : [],
    ...(str(g.description) ? { description: String(g.description) } : {}),
    variables,
    panels,
    annotations: { alerts: true, deploys: true, manual: true },
    ...(time ? { time } : {}),
    ...(str(g.refresh) ? { refresh: String(g.refresh) } : {}),
  };
  return { dashboard, report };
}

/** Up to 12 paths with array indices folded, then a count of the rest. */
function summarise(paths: string[]): string {
  const folded = [...new Set(paths.map((p) => p.replace(/\[\d+\]/g, '[]')))];
  return folded.length <= 12 ? folded.join(', ') : `${folded.slice(0, 12).join(', ')} and ${folded.length - 12} more`;
}

function convertPanel(p: Json, kind: PanelKind, path: string, title: string, report: ImportNote[]): DashboardPanel | null {
  const r = new Reader(p);
  r.get('title');
  const description = str(r.get('description'));
  const gp = r.get('gridPos');
  const g = isObj(gp) ? gp : {};
  const w = Math.min(24, Math.max(1, Math.round(num(g.w) ?? 12)));
  const x = Math.min(24 - w, Math.max(0, Math.round(num(g.x) ?? 0)));
  const gridPos = { x, y: Math.max(0, Math.round(num(g.y) ?? 0)), w, h: Math.min(100, Math.max(1, Math.round(num(g.h) ?? 8))) };
  const options: Record<string, unknown> = {};
  const queries: DashboardPanel['queries'] = [];

  if (kind === 'row') {
    r.get('panels'); // children were flattened after the row
    if (r.get('collapsed') === true) options.collapsed = true;
    r.get('repeat') && report.push({ path, title, message: 'repeated rows are not converted; the row is shown once' });
  } else if (kind === 'text') {
    const content = str(r.get('options.content')) ?? str(r.get('content')) ?? '';
    const mode = str(r.get('options.mode')) ?? str(r.get('mode')) ?? 'markdown';
    options.content = content;
    options.mode = mode === 'html' ? 'html' : mode === 'markdown' ? 'markdown' : 'plain';
    r.get('options.code');
  } else {
    const targets = r.get('targets');
    (Array.isArray(targets) ? targets : []).forEach((t, ti) => {
      if (!isObj(t)) return;
      const tr = new Reader(t);
      const expr = str(tr.get('expr'));
      const hide = tr.get('hide') === true;
      if (!isPrometheus(tr.get('datasource'))) {
        report.push({ path: `${path}.targets[${ti}]`, title, message: 'query of a non-Prometheus data source not converted' });
        return;
      }
      if (!expr || !expr.trim()) {
        report.push({ path: `${path}.targets[${ti}]`, title, message: 'query without a PromQL expression not converted' });
        return;
      }
      const legend = str(tr.get('legendFormat'));
      // Grafana names queries A, B, ... when the JSON leaves refId out; so do we.
      const refId = str(tr.get('refId')) || String.fromCharCode(65 + (ti % 26));
      // How Grafana's editor was set, and its step hints: Metronome picks the step from the panel width.
      for (const k of ['editorMode', 'range', 'instant', 'format', 'intervalFactor', 'step', 'exemplar', 'metric', 'key', 'useBackend', 'disableTextWrap', 'fullMetaSearch', 'includeNullMetadata', 'interval']) tr.get(k);
      queries.push({ expr, ...(legend && legend !== '__auto' ? { legend } : {}), refId, ...(hide ? { hide } : {}) });
      const rest = tr.unread();
      if (rest.length) report.push({ path: `${path}.targets[${ti}]`, title, message: `query settings not converted: ${summarise(rest)}` });
    });
    if (queries.length === 0) {
      report.push({ path, title, message: 'panel has no Prometheus query; not converted' });
      return null;
    }

    const d = 'fieldConfig.defaults';
    const unit = str(r.get(`${d}.unit`)) ?? str(r.get('format')) ?? (Array.isArray(p.yaxes) && isObj(p.yaxes[0]) ? str(p.yaxes[0].format) : undefined);
    if (Array.isArray(p.yaxes)) r.get('yaxes');
    if (unit && unit !== 'none') options.unit = unit;
    if (kind !== 'heatmap') {
      const decimals = num(r.get(`${d}.decimals`)) ?? num(r.get('decimals'));
      if (decimals !== undefined && decimals >= 0 && decimals <= 10) options.decimals = Math.round(decimals);
      const min = num(r.get(`${d}.min`));
      const max = num(r.get(`${d}.max`));
      if (min !== undefined) options.min = min;
      if (max !== undefined) options.max = max;
      const steps = r.get(`${d}.thresholds.steps`);
      r.get(`${d}.thresholds.mode`);
      if (Array.isArray(steps) && steps.length) {
        options.thresholds = steps.filter(isObj).map((s) => ({ value: num(s.value) ?? null, color: str(s.color) ?? 'green' }));
      }
      // Colour by thresholds or by palette: our panels choose themselves.
      r.get(`${d}.color.mode`);
    }
    if (kind === 'timeseries') {
      const mode = str(r.get(`${d}.custom.stacking.mode`));
      r.get(`${d}.custom.stacking.group`);
      if (mode === 'normal' || mode === 'percent') options.stacking = mode;
      else if (r.get('stack') === true) options.stacking = r.get('percentage') === true ? 'percent' : 'normal';
      const fill = num(r.get(`${d}.custom.fillOpacity`));
      if (fill !== undefined) options.fillOpacity = Math.min(100, Math.max(0, fill));
      const lw = num(r.get(`${d}.custom.lineWidth`)) ?? num(r.get('linewidth'));
      if (lw !== undefined) options.lineWidth = Math.min(10, Math.max(0, lw));
      const legend = r.peek('options.legend');
      if (isObj(legend)) {
        r.get('options.legend.displayMode');
        r.get('options.legend.showLegend');
        options.legend = legend.showLegend === false || legend.displayMode === 'hidden' ? 'hidden' : legend.displayMode === 'table' ? 'table' : 'list';
      }
      // byName colour overrides become fixed series colours.
      const overrides = r.get('fieldConfig.overrides');
      const colors: Record<string, string> = {};
      (Array.isArray(overrides) ? overrides : []).forEach((o, oi) => {
        const props = isObj(o) && Array.isArray(o.properties) ? o.properties : [];
        const m = isObj(o) && isObj(o.matcher) ? o.matcher : {};
        const color = props.length === 1 && isObj(props[0]) && props[0].id === 'color' && isObj(props[0].value) ? str(props[0].value.fixedColor) : undefined;
        if (m.id === 'byName' && typeof m.options === 'string' && color) colors[m.options] = color;
        else report.push({ path: `${path}.fieldConfig.overrides[${oi}]`, title, message: `field override not converted: ${JSON.stringify(o).slice(0, 200)}` });
      });
      if (Object.keys(colors).length) options.seriesColors = colors;
    } else {
      const overrides = r.get('fieldConfig.overrides');
      if (Array.isArray(overrides) && overrides.length) report.push({ path: `${path}.fieldConfig.overrides`, title, message: `${overrides.length} field override(s) not converted` });
    }
    if (kind === 'stat' || kind === 'gauge' || kind === 'bargauge') {
      const calcs = r.get('options.reduceOptions.calcs');
      const calc = Array.isArray(calcs) ? str(calcs[0]) : str(r.get('valueName'));
      if (calc && REDUCERS[calc]) options.reduce = REDUCERS[calc];
      else if (calc) report.push({ path, title, message: `reducer ${calc} is not converted; the last value is shown` });
      if (kind === 'stat') {
        const graph = str(r.get('options.graphMode'));
        if (graph === 'area') options.sparkline = true;
        const spark = r.get('sparkline.show');
        if (spark === true) options.sparkline = true;
      }
      if (kind === 'bargauge') {
        const o = str(r.get('options.orientation'));
        if (o === 'horizontal' || o === 'vertical') options.orientation = o;
      }
    }
    if (kind === 'heatmap') {
      const scheme = str(r.get('options.color.scheme')) ?? '';
      if (/orange/i.test(scheme)) options.scheme = 'oranges';
      else if (/spectral/i.test(scheme)) options.scheme = 'spectral';
      else if (scheme) options.scheme = 'blues';
      // Prometheus buckets are the only data shape we draw; "calculate" from raw values is not.
      if (r.get('options.calculate') === true) report.push({ path, title, message: 'heatmap calculated from raw values is not converted; the query must return histogram buckets' });
      r.get('options.yAxis.unit');
    }
  }

  const rest = r.unread();
  if (rest.length) report.push({ path, title, message: `settings not converted: ${summarise(rest)}` });
  return { kind, title, ...(description ? { description } : {}), queries, options, gridPos };
}

function currentOf(v: Json): string[] | undefined {
  const c = isObj(v.current) ? v.current.value : undefined;
  if (Array.isArray(c)) return c.filter((x): x is string => typeof x === 'string');
  if (typeof c === 'string' && c !== '') return [c];
  return undefined;
}

function convertVariable(v: Json, path: string, report: ImportNote[]): Variable | null {
  const r = new Reader(v);
  const type = str(r.get('type'));
  const name = str(r.get('name')) ?? '';
  if (!/^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/.test(name)) {
    report.push({ path, title: name, message: 'variable name is not an identifier; not converted' });
    return null;
  }
  const label = str(r.get('label'));
  const hide = num(r.get('hide'));
  const current = currentOf(v);
  r.get('current');
  // Grafana's own state and display preferences: options is its cache of values, refresh when to reload.
  for (const k of ['options', 'refresh', 'sort', 'definition', 'skipUrlSync', 'tagValuesQuery', 'tagsQuery', 'useTags', 'tags', 'description', 'error', 'id', 'global']) r.get(k);
  const common = { name, ...(label ? { label } : {}), ...(current ? { current } : {}), ...(hide ? { hide: true } : {}) };
  const choice = () => {
    const allValue = str(r.get('allValue'));
    return { ...(r.get('multi') === true ? { multi: true } : {}), ...(r.get('includeAll') === true ? { includeAll: true } : {}), ...(allValue ? { allValue } : {}) };
  };
  let out: Variable | null = null;
  if (type === 'query') {
    const q = r.get('query');
    const query = (isObj(q) ? str(q.query) : str(q)) ?? '';
    r.get('datasource');
    if (!isPrometheus(v.datasource)) {
      report.push({ path, title: name, message: 'variable of a non-Prometheus data source not converted' });
      return null;
    }
    const regexRaw = str(r.get('regex'));
    const m = /^\/(.*)\/([a-z]*)$/.exec(regexRaw ?? '');
    const regex = m ? m[1] : regexRaw;
    if (/^\s*label_values\(\s*(.+,\s*)?[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$/.test(query)) {
      out = { type: 'query', ...common, ...choice(), query: query.trim(), ...(regex ? { regex } : {}) };
    } else {
      report.push({ path, title: name, message: `variable query ${JSON.stringify(query)} is not label_values(...); converted to a text variable holding its current value` });
      return { type: 'text', ...common };
    }
  } else if (type === 'custom') {
    const q = str(r.get('query')) ?? '';
    // "a, b, key : value" — Grafana's custom syntax; the value after ' : ' is what queries see.
    const options = q
      .split(/(?<!\\),/)
      .map((s) => s.replace(/\\,/g, ',').trim())
      .filter(Boolean)
      .map((s) => (s.includes(' : ') ? s.split(' : ')[1].trim() : s));
    if (!options.length) {
      report.push({ path, title: name, message: 'custom variable without values not converted' });
      return null;
    }
    out = { type: 'custom', ...common, ...choice(), options };
  } else if (type === 'interval') {
    const q = str(r.get('query')) ?? '';
    const options = q.split(',').map((s) => s.trim()).filter((s) => /^(\d+(ms|s|m|h|d|w))+$/.test(s));
    if (r.get('auto') === true) report.push({ path, title: name, message: 'the "auto" interval option is not converted' });
    for (const k of ['auto_count', 'auto_min']) r.get(k);
    if (!options.length) {
      report.push({ path, title: name, message: 'interval variable without durations not converted' });
      return null;
    }
    out = { type: 'interval', ...common, options };
  } else if (type === 'textbox') {
    const q = str(r.get('query'));
    out = { type: 'text', ...common, ...(common.current ? {} : q ? { current: [q] } : {}) };
  } else if (type === 'constant') {
    const q = str(r.get('query')) ?? '';
    out = { type: 'text', ...common, current: [q], hide: true };
  } else if (type === 'datasource') {
    const q = str(r.get('query'));
    r.get('regex');
    // Metronome is the one Prometheus source: a Prometheus data source variable has nothing to choose.
    if (q !== 'prometheus') report.push({ path, title: name, message: `data source variable of ${q ?? '(no type)'} dropped: Metronome is the only data source, Prometheus` });
    return null;
  } else {
    report.push({ path, title: name, message: `variable type ${type ?? '(none)'} not converted` });
    return null;
  }
  const rest = r.unread();
  if (rest.length) report.push({ path, title: name, message: `variable settings not converted: ${summarise(rest)}` });
  return out;
}
