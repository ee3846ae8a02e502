import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, issueLines } from '../api/client.js';
import {
  enableAlerts,
  getDashboard,
  getService,
  proposedAlerts,
  resetDashboard,
  saveDashboard,
  type Dashboard,
  type ProposedRule,
  type Service,
} from '../api/services.js';
import { deleteLibraryDashboard, getLibraryDashboard, type LibraryDashboard } from '../api/dashboards.js';
import { isRelative } from '../chart/range.js';
import { formatValue } from '../chart/units.js';
import { HealthBadge } from '../components/HealthBadge.js';
import { Link } from '../components/Link.js';
import type { PanelMeasure } from '../dashboards/measure.js';
import { RefreshPicker, TimeRangePicker } from '../components/TimeRangePicker.js';
import { ago } from '../format.js';
import { useAsync, useStable, useTitle } from '../hooks.js';
import { useLocation } from '../router.js';
import { useTimeState } from '../timeState.js';
import { refusal, ruleField } from './alerts/wording.js';
import { DashboardView } from '../dashboards/DashboardView.js';

/** Render timings of the last dashboard draw, read by the browser tests and the bench. */
declare global {
  interface Window {
    __metronomePerf?: { panels: number; series: number; renderMsTotal: number; lastDataToDrawnMs: number; firstDataToDrawnMs: number; batch: boolean; at: number };
  }
}

export default function ServicePage({ name }: { name: string }) {
  useTitle(name);
  const time = useTimeState();
  const svc = useAsync((signal) => getService(name, signal), [name, time.grid], undefined);
  const [dashKey, setDashKey] = useState(0);
  // The service's model (rows), for the JSON editor and the saved-copy notice; re-read every
  // 5 minutes: a generated dashboard grows when the service sends new families.
  const model = useAsync((signal) => getDashboard(name, signal), [name, dashKey], 300_000);
  // What is drawn: the same dashboard as /dashboards/service:<name> (variables, heatmaps, editor).
  const dash = useAsync((signal) => getLibraryDashboard(`service:${name}`, signal), [name, dashKey], 300_000);
  const [dialog, setDialog] = useState<'edit' | 'alerts' | null>(null);
  const measures = useRef(new Map<string, PanelMeasure>());
  const [rendered, setRendered] = useState(false);
  const [visible, setVisible] = useState(0);
  // ?render=batch holds every panel's data until all of it is in, then draws them together: the
  // render benchmark measures "data arrived -> dashboard drawn" that way.
  const batch = useLocation().query.get('render') === 'batch';

  const m = useStable(model.data);
  const d = useStable<LibraryDashboard | undefined>(dash.data);
  // A new grid (range change or refresh) starts a new measurement.
  useEffect(() => {
    measures.current = new Map();
    setRendered(false);
  }, [time.grid, d, visible]);

  const onMeasure = (pm: PanelMeasure) => {
    measures.current.set(pm.id, pm);
    if (measures.current.size >= visible && visible > 0) {
      const ms = [...measures.current.values()];
      const drawn = Math.max(...ms.map((x) => x.drawnAt));
      performance.mark('metronome:dashboard-drawn');
      window.__metronomePerf = {
        panels: ms.length,
        series: ms.reduce((a, x) => a + x.series, 0),
        renderMsTotal: ms.reduce((a, x) => a + x.renderMs, 0),
        lastDataToDrawnMs: drawn - Math.max(...ms.map((x) => x.dataAt)),
        firstDataToDrawnMs: drawn - Math.min(...ms.map((x) => x.dataAt)),
        batch,
        at: Date.now(),
      };
      setRendered(true);
    }
  };
  const error = dash.error ?? model.error;

  return (
    <>
      <div class="page-head">
        <h1>
          <Link href="/" class="subtle">
            Services
          </Link>{' '}
          / {name}
        </h1>
        {svc.data ? <HealthBadge status={svc.data.health.status} reason={svc.data.health.reason} /> : null}
        <Link href={`/services/${encodeURIComponent(name)}/scorecard`} class="subtle">
          Scorecard
        </Link>
        <div class="spacer" />
        <TimeRangePicker value={time.spec} onChange={time.setSpec} />
        <RefreshPicker value={time.refresh} onChange={time.setRefresh} disabled={!isRelative(time.spec)} />
        <button type="button" class="icon" onClick={time.reload} aria-label="Refresh now" title="Refresh now">
          ↻
        </button>
        <button type="button" onClick={() => setDialog('alerts')}>
          Alerts…
        </button>
        <button type="button" onClick={() => setDialog('edit')} disabled={!m || d?.source === 'library'} title={d?.source === 'library' ? 'Edited with the panel editor: reset it to edit the JSON' : undefined}>
          Edit JSON
        </button>
      </div>
      {svc.data ? <ServiceMeta s={svc.data} /> : null}
      {svc.error && !(svc.error instanceof ApiError && svc.error.status === 404) ? <div class="error-box">{svc.error.message}</div> : null}
      {error ? (
        <div class="error-box" role="alert">
          {error instanceof ApiError && error.status === 404 ? (
            <>
              There is no service named <strong>{name}</strong>. <Link href="/">Back to the services</Link>.
            </>
          ) : (
            <>Could not load the dashboard: {error.message}</>
          )}
        </div>
      ) : null}
      {d?.source === 'library' ? (
        <div class="notice">
          This is an edited copy of the dashboard{d.updatedAt ? ` (saved ${ago(d.updatedAt)})` : ''}.{' '}
          <button
            type="button"
            onClick={async () => {
              await deleteLibraryDashboard(`service:${name}`);
              setDashKey((k) => k + 1);
            }}
          >
            Reset to generated
          </button>
        </div>
      ) : m && m.source === 'saved' ? (
        <div class="notice">
          This is a saved, edited dashboard{m.updatedAt ? ` (saved ${ago(m.updatedAt)})` : ''}.
          {m.newFamilies?.length ? (
            <>
              {' '}
              The service now also sends {m.newFamilies.length} metric famil{m.newFamilies.length === 1 ? 'y' : 'ies'} it does not show:{' '}
              <code>{m.newFamilies.slice(0, 5).join(', ')}</code>
              {m.newFamilies.length > 5 ? '…' : ''}.
            </>
          ) : null}{' '}
          <button
            type="button"
            onClick={async () => {
              await resetDashboard(name);
              setDashKey((k) => k + 1);
            }}
          >
            Reset to generated
          </button>
        </div>
      ) : null}
      {d ? (
        <div data-dashboard={name} data-rendered={rendered ? 'true' : 'false'}>
          <DashboardView dash={d} time={time} onMeasure={onMeasure} batch={batch} onVisible={setVisible} onSaved={() => setDashKey((k) => k + 1)} />
        </div>
      ) : dash.loading ? (
        <div class="empty" aria-busy="true">
          Loading dashboard…
        </div>
      ) : null}
      {dialog === 'edit' && m ? (
        <EditDialog
          dashboard={m}
          onClose={() => setDialog(null)}
          onSaved={() => {
            setDialog(null);
            setDashKey((k) => k + 1);
          }}
        />
      ) : null}
      {dialog === 'alerts' ? <AlertsDialog service={name} onClose={() => setDialog(null)} /> : null}
    </>
  );
}

function ServiceMeta({ s }: { s: Service }) {
  return (
    <div class="service-meta">
      {s.description ? <span>{s.description}</span> : null}
      <span>
        Owner: <strong>{s.owner?.team ?? 'unowned'}</strong>
        {s.owner?.contact ? ` (${s.owner.contact})` : ''}
      </span>
      {s.tier ? <span>Tier: {s.tier}</span> : null}
      {s.slo ? (
        <span>
          SLO: {+(s.slo.objective * 100).toPrecision(6)}% {s.slo.indicator} over {s.slo.window}
        </span>
      ) : null}
      <span>
        {formatValue(s.health.requestRate, 'reqps')} · errors {formatValue(s.health.errorRatio, 'percentunit')} · p99 {formatValue(s.health.p99, 'seconds')}
      </span>
      <span>Last seen {ago(s.lastSeen)}</span>
      {Object.entries(s.links ?? {}).map(([k, v]) => (
        <a key={k} href={v} target="_blank" rel="noreferrer noopener">
          {k} ↗
        </a>
      ))}
    </div>
  );
}

/** A modal <dialog>: focus moves in, Escape closes, focus returns to the opener. */
function Modal({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    ref.current?.showModal();
    return () => opener?.focus();
  }, []);
  return (
    <dialog ref={ref} onClose={onClose} aria-labelledby="dlg-title">
      <div class="card-head" style={{ display: 'flex', alignItems: 'center' }}>
        <strong id="dlg-title" style={{ flex: 1 }}>
          {title}
        </strong>
        <button type="button" class="icon" onClick={onClose} aria-label="Close">
          ✕
        </button>
      </div>
      <div class="card-body">{children}</div>
    </dialog>
  );
}

function EditDialog({ dashboard, onClose, onSaved }: { dashboard: Dashboard; onClose: () => void; onSaved: () => void }) {
  const { source: _s, newFamilies: _n, updatedAt: _u, ...doc } = dashboard;
  const [text, setText] = useState(JSON.stringify(doc, null, 2));
  const [err, setErr] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const save = async () => {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      return setErr(`Not valid JSON: ${(e as Error).message}`);
    }
    setBusy(true);
    try {
      await saveDashboard(dashboard.service, json);
      onSaved();
    } catch (e) {
      setErr(issueLines(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal title={`Edit the ${dashboard.service} dashboard`} onClose={onClose}>
      <p class="subtle" style={{ marginTop: 0 }}>
        Rows, panels, PromQL queries, units and thresholds. Saving stores an edited copy that replaces the generated dashboard until you reset it.
      </p>
      <label class="visually-hidden" for="dash-json">
        Dashboard JSON
      </label>
      <textarea id="dash-json" rows={22} style={{ width: '100%' }} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} spellcheck={false} />
      {err ? (
        <div class="error-box" role="alert">
          {err}
        </div>
      ) : null}
      <div class="controls" style={{ marginTop: '10px', justifyContent: 'flex-end' }}>
        <button type="button" onClick={onClose}>
          Cancel
        </button>
        <button type="button" class="primary" onClick={save} disabled={busy}>
          Save copy
        </button>
      </div>
    </Modal>
  );
}

function AlertsDialog({ service, onClose }: { service: string; onClose: () => void }) {
  const [tick, setTick] = useState(0);
  const res = useAsync(() => proposedAlerts(service), [service, tick]);
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const enable = async (names?: string[]) => {
    setBusy(true);
    try {
      const r = await enableAlerts(service, names);
      setMsg({ ok: true, text: r.created.length ? `Enabled ${r.created.join(', ')}.` : 'Already enabled.' });
      setTick((t) => t + 1);
    } catch (e) {
      setMsg({ ok: false, text: `Nothing was enabled. ${refusal(e, ruleField).join(' ')}` });
    } finally {
      setBusy(false);
    }
  };
  const rules: ProposedRule[] = res.data ?? [];
  return (
    <Modal title={`Proposed alerts for ${service}`} onClose={onClose}>
      <p class="subtle" style={{ marginTop: 0 }}>
        Default rules for this service's metrics. Enabling creates them as alerting rules (group <code>service:{service}</code>), which you can then edit
        under <Link href="/alerts/rules">Alerts → Rules</Link>.
      </p>
      {res.error ? <div class="error-box">{res.error.message}</div> : null}
      <table class="list">
        <thead>
          <tr>
            <th>Alert</th>
            <th>Severity</th>
            <th>For</th>
            <th>State</th>
          </tr>
        </thead>
        <tbody>
          {rules.map((r) => (
            <tr key={r.alert}>
              <td>
                <strong>{r.alert}</strong>
                <div class="mono subtle" style={{ wordBreak: 'break-all' }}>
                  {r.expr}
                </div>
              </td>
              <td>{r.severity}</td>
              <td>{r.for}</td>
              <td>
                {r.enabled ? (
                  <span class="badge ok">enabled</span>
                ) : (
                  <button type="button" onClick={() => enable([r.alert])} disabled={busy}>
                    Enable
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {msg ? (
        <div class={msg.ok ? 'notice' : 'error-box'} role="status">
          {msg.text}
        </div>
      ) : null}
      <div class="controls" style={{ marginTop: '10px', justifyContent: 'flex-end' }}>
        <button type="button" onClick={onClose}>
          Close
        </button>
        <button type="button" class="primary" onClick={() => enable()} disabled={busy || rules.every((r) => r.enabled)}>
          Enable all
        </button>
      </div>
    </Modal>
  );
}
