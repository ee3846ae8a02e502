import { ApiError } from '../../api/client.js';

/** Labels as small chips; alertname first. */
export function LabelChips({ labels, skip = [] }: { labels: Record<string, string>; skip?: string[] }) {
  const entries = Object.entries(labels)
    .filter(([k]) => !skip.includes(k))
    .sort(([a], [b]) => (a === 'alertname' ? -1 : b === 'alertname' ? 1 : a.localeCompare(b)));
  return (
    <span style={{ display: 'inline-flex', flexWrap: 'wrap', gap: '4px' }}>
      {entries.map(([k, v]) => (
        <span key={k} class="tier mono">
          {k}={v}
        </span>
      ))}
    </span>
  );
}

/** Alerting disabled or unreachable reads as a notice, not a crash. */
export function AlertingError({ error }: { error: Error }) {
  const unavailable = error instanceof ApiError && (error.code === 'MTR_ALERTING_UNAVAILABLE' || error.status === 503);
  return <div class={unavailable ? 'notice' : 'error-box'}>{unavailable ? 'Alerting is not running on this server.' : error.message}</div>;
}

export function stateClass(state: string | undefined): string {
  if (state === 'firing' || state === 'error') return 'firing';
  if (state === 'pending' || state === 'nodata') return 'pending';
  if (state === 'active') return 'ok';
  return 'inactive';
}
