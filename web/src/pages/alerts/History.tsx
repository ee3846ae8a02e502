import { alertHistory } from '../../api/alerts.js';
import { dateTime } from '../../format.js';
import { useAsync } from '../../hooks.js';
import { AlertingError, LabelChips, stateClass } from './common.js';

/** State changes of alerts over the last day, newest first. */
export function HistoryView() {
  const res = useAsync((signal) => alertHistory({ limit: 300, start: Math.floor(Date.now() / 1000 - 86400) }, signal), [], 30_000);
  const rows = [...(res.data ?? [])].sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
  return (
    <>
      {res.error ? <AlertingError error={res.error} /> : null}
      {res.data && rows.length === 0 ? <div class="card empty">No alert changed state in the last 24 hours.</div> : null}
      {rows.length ? (
        <div class="card" style={{ overflow: 'auto' }}>
          <table class="list" aria-label="Alert history">
            <thead>
              <tr>
                <th>Time</th>
                <th>Alert</th>
                <th>Change</th>
                <th class="num">Value</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((h, i) => (
                <tr key={i}>
                  <td style={{ whiteSpace: 'nowrap' }}>{dateTime(Date.parse(h.time))}</td>
                  <td>
                    <strong>{h.rule}</strong>
                    <div>
                      <LabelChips labels={h.labels} skip={['alertname']} />
                    </div>
                  </td>
                  <td style={{ whiteSpace: 'nowrap' }}>
                    <span class={`badge ${stateClass(h.from)}`}>{h.from}</span> → <span class={`badge ${stateClass(h.to)}`}>{h.to}</span>
                  </td>
                  <td class="num mono">{Number(h.value).toPrecision(4)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}
