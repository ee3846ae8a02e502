import { listAlerts, type Alert } from '../../api/alerts.js';
import { Link } from '../../components/Link.js';
import { ago } from '../../format.js';
import { useAsync } from '../../hooks.js';
import { AlertingError, LabelChips, stateClass } from './common.js';

/** Every firing and pending alert, firing first; refreshed every 15 s. */
export function FiringView() {
  const res = useAsync((signal) => listAlerts(signal), [], 15_000);
  const alerts = [...(res.data ?? [])].sort(
    (a, b) => (a.state === b.state ? Date.parse(b.activeAt) - Date.parse(a.activeAt) : a.state === 'firing' ? -1 : 1),
  );
  const firing = alerts.filter((a) => a.state === 'firing').length;
  return (
    <>
      <p class="subtle" aria-live="polite">
        {res.data ? `${firing} firing, ${alerts.length - firing} pending` : 'Loading…'}
      </p>
      {res.error ? <AlertingError error={res.error} /> : null}
      {res.data && alerts.length === 0 ? <div class="card empty">No alert is firing or pending.</div> : null}
      {alerts.length ? (
        <div class="card" style={{ overflow: 'auto' }}>
          <table class="list" aria-label="Active alerts">
            <thead>
              <tr>
                <th>State</th>
                <th>Alert</th>
                <th>Summary</th>
                <th class="num">Value</th>
                <th class="num">Active since</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {alerts.map((a, i) => (
                <AlertRow key={i} a={a} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}

function AlertRow({ a }: { a: Alert }) {
  const silenced = (a.silencedBy?.length ?? 0) > 0;
  const matchers = ['alertname', 'service', 'job', 'instance', 'provider'].filter((k) => a.labels[k]).map((k) => `${k}="${a.labels[k]}"`);
  return (
    <tr data-alert={a.labels.alertname}>
      <td>
        <span class={`badge ${stateClass(a.state)}`}>{a.state}</span>
        {silenced ? <div class="subtle">silenced</div> : null}
      </td>
      <td>
        <strong>{a.labels.alertname}</strong>
        <div>
          <LabelChips labels={a.labels} skip={['alertname']} />
        </div>
      </td>
      <td>
        {a.annotations.summary ?? ''}
        {a.annotations.runbook_url ? (
          <div>
            <a href={a.annotations.runbook_url} target="_blank" rel="noreferrer noopener">
              runbook ↗
            </a>
          </div>
        ) : null}
      </td>
      <td class="num mono">{Number(a.value).toPrecision(4)}</td>
      <td class="num" title={a.activeAt}>
        {ago(Date.parse(a.activeAt))}
      </td>
      <td>
        <Link href={`/alerts/silences?${new URLSearchParams({ matchers: matchers.join(', ') })}`}>Silence…</Link>
      </td>
    </tr>
  );
}
