import { useState } from 'preact/hooks';
import { createSilence, expireSilence, listSilences, matchingAlerts } from '../../api/alerts.js';
import { dateTime } from '../../format.js';
import { useAsync } from '../../hooks.js';
import { useLocation } from '../../router.js';
import { AlertingError, stateClass } from './common.js';
import { splitMatchers } from './filters.js';
import { refusal, silenceField } from './wording.js';

/** Silences: the active and pending ones, a form to add or edit one (prefilled from an alert) with a preview of the alerts it would silence, expiry. */
export function SilencesView() {
  const loc = useLocation();
  const [tick, setTick] = useState(0);
  const res = useAsync((signal) => listSilences(signal), [tick], 30_000);
  const [matchers, setMatchers] = useState(loc.query.get('matchers') ?? '');
  const [duration, setDuration] = useState('2h');
  const [createdBy, setCreatedBy] = useState(() => localStorage.getItem('metronome.user') ?? '');
  const [comment, setComment] = useState('');
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  // The alerts these matchers select right now (the server matches them, RE2 regexes included).
  const preview = useAsync((signal) => (splitMatchers(matchers).length ? matchingAlerts(splitMatchers(matchers), signal) : Promise.resolve([])), [matchers], 0);

  const submit = async (e: Event) => {
    e.preventDefault();
    setMsg(null);
    try {
      const list = splitMatchers(matchers);
      const id = await createSilence({ ...(editing ? { id: editing } : {}), matchers: list, duration, createdBy, comment });
      try {
        localStorage.setItem('metronome.user', createdBy);
      } catch {
        /* not persisted */
      }
      setMsg({ ok: true, text: editing ? `Silence ${id} updated.` : `Silence ${id} created.` });
      setEditing(null);
      setComment('');
      setTick((t) => t + 1);
    } catch (err) {
      setMsg({ ok: false, text: refusal(err, silenceField).join('\n') });
    }
  };

  const silences = [...(res.data ?? [])].sort((a, b) => (a.status.state === 'expired' ? 1 : 0) - (b.status.state === 'expired' ? 1 : 0));
  return (
    <>
      <form class="card card-body" onSubmit={submit} style={{ marginBottom: '14px' }} aria-label="New silence">
        <strong style={{ display: 'block', marginBottom: '8px' }}>{editing ? `Edit silence ${editing}` : 'New silence'}</strong>
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
        <div class="subtle" aria-live="polite" data-preview>
          {preview.error
            ? `Preview unavailable: ${preview.error.message}`
            : preview.data === undefined || splitMatchers(matchers).length === 0
              ? 'Type matchers to see the alerts they silence.'
              : preview.data.length === 0
                ? 'Matches no alert firing now.'
                : `Silences ${preview.data.length} alert${preview.data.length === 1 ? '' : 's'} firing now: ${preview.data
                    .slice(0, 10)
                    .map((a) => `${a.labels.alertname ?? '?'}{${Object.entries(a.labels).filter(([k]) => k !== 'alertname').map(([k, v]) => `${k}="${v}"`).join(', ')}}`)
                    .join('; ')}${preview.data.length > 10 ? ' …' : ''}`}
        </div>
        {msg ? (
          <div class={msg.ok ? 'notice' : 'error-box'} role="status">
            {msg.text}
          </div>
        ) : null}
        <div style={{ marginTop: '10px' }}>
          <button type="submit" class="primary">
            {editing ? 'Update silence' : 'Create silence'}
          </button>
          {editing ? (
            <button type="button" style={{ marginLeft: '8px' }} onClick={() => setEditing(null)}>
              Cancel editing
            </button>
          ) : null}
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
                        style={{ marginRight: '6px' }}
                        onClick={() => {
                          setEditing(s.id);
                          setMatchers(s.matchers.map((m) => `${m.name}${m.isEqual ? '' : '!'}${m.isRegex ? '~' : '='}"${m.value}"`.replace(/^(\w+)~/, '$1=~')).join(', '));
                          setComment(s.comment);
                          setCreatedBy(s.createdBy);
                          const left = Math.max(60, Math.round((Date.parse(s.endsAt) - Date.now()) / 1000));
                          setDuration(left % 3600 === 0 ? `${left / 3600}h` : left % 60 === 0 ? `${left / 60}m` : `${left}s`);
                        }}
                      >
                        Edit
                      </button>
                    ) : null}
                    {s.status.state !== 'expired' ? (
                      <button
                        type="button"
                        onClick={async () => {
                          await expireSilence(s.id).catch((err) => setMsg({ ok: false, text: refusal(err, silenceField).join('\n') }));
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

