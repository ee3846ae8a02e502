import { useState } from 'preact/hooks';
import { createSilence, expireSilence, listSilences } from '../../api/alerts.js';
import { ApiError } from '../../api/client.js';
import { dateTime } from '../../format.js';
import { useAsync } from '../../hooks.js';
import { useLocation } from '../../router.js';
import { AlertingError, stateClass } from './common.js';

/** Silences: the active and pending ones, a form to add one (prefilled from an alert), expiry. */
export function SilencesView() {
  const loc = useLocation();
  const [tick, setTick] = useState(0);
  const res = useAsync((signal) => listSilences(signal), [tick], 30_000);
  const [matchers, setMatchers] = useState(loc.query.get('matchers') ?? '');
  const [duration, setDuration] = useState('2h');
  const [createdBy, setCreatedBy] = useState(() => localStorage.getItem('metronome.user') ?? '');
  const [comment, setComment] = useState('');
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    setMsg(null);
    try {
      const list = matchers
        .split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/)
        .map((m) => m.trim())
        .filter(Boolean);
      const id = await createSilence({ matchers: list, duration, createdBy, comment });
      try {
        localStorage.setItem('metronome.user', createdBy);
      } catch {
        /* not persisted */
      }
      setMsg({ ok: true, text: `Silence ${id} created.` });
      setComment('');
      setTick((t) => t + 1);
    } catch (err) {
      const issues = err instanceof ApiError ? (err.details?.issues as { path: string[]; message: string }[] | undefined) : undefined;
      setMsg({ ok: false, text: issues?.length ? issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n') : (err as Error).message });
    }
  };

  const silences = [...(res.data ?? [])].sort((a, b) => (a.status.state === 'expired' ? 1 : 0) - (b.status.state === 'expired' ? 1 : 0));
  return (
    <>
      <form class="card card-body" onSubmit={submit} style={{ marginBottom: '14px' }} aria-label="New silence">
        <strong style={{ display: 'block', marginBottom: '8px' }}>New silence</strong>
        <div class="form-grid">
          <label class="field" style={{ gridColumn: 'span 2' }}>
            <span>Matchers (comma-separated)</span>
            <input type="text" value={matchers} onInput={(e) => setMatchers((e.target as HTMLInputElement).value)} placeholder='alertname="PaymentProviderDegraded", service="payments"' />
          </label>
          <label class="field">
            <span>Duration</span>
            <input type="text" value={duration} onInput={(e) => setDuration((e.target as HTMLInputElement).value)} />
          </label>
          <label class="field">
            <span>Created by</span>
            <input type="text" value={createdBy} onInput={(e) => setCreatedBy((e.target as HTMLInputElement).value)} />
          </label>
          <label class="field" style={{ gridColumn: 'span 2' }}>
            <span>Comment</span>
            <input type="text" value={comment} onInput={(e) => setComment((e.target as HTMLInputElement).value)} placeholder="Why, and a ticket link" />
          </label>
        </div>
        {msg ? (
          <div class={msg.ok ? 'notice' : 'error-box'} role="status">
            {msg.text}
          </div>
        ) : null}
        <div style={{ marginTop: '10px' }}>
          <button type="submit" class="primary">
            Create silence
          </button>
        </div>
      </form>
      {res.error ? <AlertingError error={res.error} /> : null}
      {res.data && silences.length === 0 ? <div class="card empty">No silences.</div> : null}
      {silences.length ? (
        <div class="card" style={{ overflow: 'auto' }}>
          <table class="list" aria-label="Silences">
            <thead>
              <tr>
                <th>State</th>
                <th>Matchers</th>
                <th>Ends</th>
                <th>By</th>
                <th>Comment</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {silences.map((s) => (
                <tr key={s.id}>
                  <td>
                    <span class={`badge ${stateClass(s.status.state)}`}>{s.status.state}</span>
                  </td>
                  <td class="mono">{s.matchers.map((m) => `${m.name}${m.isEqual ? '' : '!'}${m.isRegex ? '~' : '='}"${m.value}"`).join(', ')}</td>
                  <td>{dateTime(Date.parse(s.endsAt))}</td>
                  <td>{s.createdBy}</td>
                  <td>{s.comment}</td>
                  <td>
                    {s.status.state !== 'expired' ? (
                      <button
                        type="button"
                        onClick={async () => {
                          await expireSilence(s.id).catch((err) => setMsg({ ok: false, text: (err as Error).message }));
                          setTick((t) => t + 1);
                        }}
                      >
                        Expire
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}
