import { useState } from 'preact/hooks';
import { notificationRoutes, testReceiver, type RouteNode } from '../../api/alerts.js';
import { useAsync } from '../../hooks.js';
import { AlertingError } from './common.js';
import { refusal } from './wording.js';

/** Where alerts go: the routing tree, the receivers with their integrations, a test send per receiver. */
export function NotificationsView() {
  const res = useAsync((signal) => notificationRoutes(signal), [], 60_000);
  const [results, setResults] = useState<Record<string, string>>({});
  const send = async (name: string) => {
    setResults((r) => ({ ...r, [name]: 'Sending…' }));
    try {
      const out = await testReceiver(name);
      const text = out.length === 0 ? 'This receiver has no integration: nothing was sent.' : out.map((o) => `${o.integration}: ${o.ok ? 'delivered' : `not delivered — ${o.error ?? 'no reason given'}`}`).join('\n');
      setResults((r) => ({ ...r, [name]: text }));
    } catch (err) {
      setResults((r) => ({ ...r, [name]: `Nothing was sent. ${refusal(err, (p) => (p[0] === 'receiver' ? 'receiver' : undefined)).join(' ')}` }));
    }
  };
  if (res.error) return <AlertingError error={res.error} />;
  if (!res.data) return <p class="subtle">Loading…</p>;
  const d = res.data;
  return (
    <>
      <div class="card card-body" style={{ marginBottom: '14px' }}>
        <strong>Routing tree</strong>
        <p class="subtle">An alert goes down the first matching branch (and on to its siblings when a branch says “continue”); the deepest match decides the receiver.</p>
        <ul class="route-tree" aria-label="Routing tree">
          <RouteItem r={d.route} root />
        </ul>
      </div>
      <div class="card" style={{ overflow: 'auto' }}>
        <table class="list" aria-label="Receivers">
          <thead>
            <tr>
              <th>Receiver</th>
              <th>Integrations</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {d.receivers.map((r) => (
              <tr key={r.name} data-receiver={r.name}>
                <td>
                  <strong>{r.name}</strong>
                </td>
                <td>
                  {r.integrations.length === 0 ? <span class="subtle">none (alerts routed here are not sent anywhere)</span> : null}
                  {r.integrations.map((i, k) => (
                    <span key={k} class="tier mono" style={{ marginRight: '4px' }} title={i.sendResolved ? 'also sends resolutions' : 'firing only'}>
                      {i.kind}
                    </span>
                  ))}
                </td>
                <td>
                  <button type="button" onClick={() => send(r.name)} disabled={r.integrations.length === 0}>
                    Send test notification
                  </button>
                  {results[r.name] ? (
                    <pre class="subtle" role="status" style={{ whiteSpace: 'pre-wrap', margin: '6px 0 0' }}>
                      {results[r.name]}
                    </pre>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

const secs = (s: number) => (s % 3600 === 0 ? `${s / 3600}h` : s % 60 === 0 ? `${s / 60}m` : `${s}s`);

function RouteItem({ r, root = false }: { r: RouteNode; root?: boolean }) {
  return (
    <li>
      <span class="mono">{root ? 'every alert' : r.matchers.join(', ') || 'every alert'}</span> → <strong>{r.receiver}</strong>
      <span class="subtle">
        {' '}
        grouped by {r.groupBy.join(', ') || 'nothing'}; wait {secs(r.groupWait)}, every {secs(r.groupInterval)}, repeat {secs(r.repeatInterval)}
        {r.continue ? '; continue' : ''}
        {r.muteTimeIntervals.length ? `; muted during ${r.muteTimeIntervals.join(', ')}` : ''}
        {r.activeTimeIntervals.length ? `; active only during ${r.activeTimeIntervals.join(', ')}` : ''}
      </span>
      {r.timeMuted ? <span class="badge pending" style={{ marginLeft: '6px' }}>held now ({r.timeMuted})</span> : null}
      {r.routes.length ? (
        <ul>
          {r.routes.map((c, i) => (
            <RouteItem key={i} r={c} />
          ))}
        </ul>
      ) : null}
    </li>
  );
}
