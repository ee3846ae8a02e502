import type { HealthStatus } from '../api/services.js';

const LABEL: Record<HealthStatus, string> = { ok: 'Healthy', warning: 'Warning', critical: 'Critical', stale: 'Stale', unknown: 'No data' };

/** Health as colour plus words (never colour alone). */
export function HealthBadge({ status, reason }: { status: HealthStatus; reason?: string }) {
  return (
    <span class={`badge ${status}`} title={reason}>
      {LABEL[status]}
      {reason ? <span class="visually-hidden">: {reason}</span> : null}
    </span>
  );
}
