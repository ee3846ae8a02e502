import { useState } from 'preact/hooks';
import { listAlerts, type Alert } from '../../api/alerts.js';
import { Link } from '../../components/Link.js';
import { ago } from '../../format.js';
import { useAsync } from '../../hooks.js';
import { AlertingError, LabelChips, stateClass } from './common.js';
import { alertMatchesFilter } from './filters.js';

/** Every firing and pending alert, firing first, filterable and grouped by a label; silenced ones hidden unless asked. Refreshed every 15 s. */
export function FiringView() {
  const res = useAsync((signal) => listAlerts(signal), [], 15_000);
  const [filter, setFilter] = useState('');
  const [showSilenced, setShowSilenced] = useState(false);
  const [groupBy, setGroupBy] = useState('alertname');
  const all = [...(res.data ?? [])].sort(
    (a, b) => (a.state === b.state ? Date.parse(b.activeAt) - Date.parse(a.activeAt) : a.state === 'firing' ? -1 : 1),
  );
  const muted = (a: Alert) => (a.silencedBy?.length ?? 0) > 0 || (a.inhibitedBy?.length ?? 0) > 0;
  const hidden = all.filter((a) => !showSilenced && muted(a)).length;
  const alerts = all.filter((a) => (showSilenced || !muted(a)) && alertMatchesFilter(a.labels, filter));
  const firing = alerts.filter((a) => a.state === 'firing').length;
  const groups = new Map<string, Alert[]>();
  for (const a of alerts) {
    const k = groupBy ? (a.labels[groupBy] ?? '(none)') : '';
    groups.set(k, [...(groups.get(k) ?? []), a]);
  }
  const labelNames = [...new Set(all.flatMap((a) => Object.keys(a.labels)))].sort();
  return (
    <>
      <div class="form-grid" style={{ marginBottom: '10px' }}>
        <label class="field" style={{ gridColumn: 'span 2' }}>
          <span>Filter (label=value or words)</span>
          <input type="search" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} placeholder="service=payments severity=page" aria-label="Filter alerts" />
        </label>
        <label class="field">
          <span>Group by</span>
          <select value={groupBy} onChange={(e) => setGroupBy((e.target as HTMLSelectElement).value)} aria-label="Group alerts by">
            <option value="">(no grouping)</option>
            {[...new Set(['alertname', 'service', 'severity', ...labelNames])].map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <label class="field" style={{ flexDirection: 'row', alignItems: 'center', gap: '6px' }}>
          <input type="checkbox" checked={showSilenced} onChange={(e) => setShowSilenced((e.target as HTMLInputElement).checked)} />
          <span>Show silenced and inhibited{hidden ? ` (${hidden})` : ''}</span>
        </label>
      </div>
      <p class="subtle" aria-live="polite">
        {res.data ? `${firing} firing, ${alerts.length - firing} pending${hidden ? `, ${hidden} silenced or inhibited hidden` : ''}` : 'Loading…'}
      </p>
      {res.error ? <AlertingError error={res.error} /> : null}
      {res.data && alerts.length === 0 ? <div class="card empty">{all.length ? 'No alert matches.' : 'No alert is firing or pending.'}</div> : null}
      {[...groups].map(([g, list]) => (
        <div key={g} class="card" style={{ overflow: 'auto', marginBottom: '12px' }}>
          {groupBy ? (
            <div class="card-body" style={{ paddingBottom: 0 }}>
              <strong class="mono">
                {groupBy}={g}
              </strong>{' '}
              <span class="subtle">({list.length})</span>
            </div>
          ) : null}
          <table class="list" aria-label={groupBy ? `Alerts with ${groupBy}=${g}` : 'Active alerts'}>
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
              {list.map((a, i) => (
                <AlertRow key={i} a={a} />
              ))}
            </tbody>
          </table>
        </div>
      ))}
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
