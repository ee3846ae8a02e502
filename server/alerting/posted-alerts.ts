/**
 * Alerts from other systems through Alertmanager's POST /api/v2/alerts (Prometheus' and
 * vmalert's `alertmanagers`, amtool, any client): checked as Alertmanager checks them, then held
 * by the same notifier as Metronome's own (routing, inhibition, silences, notification log).
 * A missing startsAt is now; a missing endsAt is now + resolve_timeout, so an alert its sender
 * stops re-sending resolves by itself (Prometheus re-sends every minute with endsAt 4 intervals
 * ahead).
 */
import { parseTime } from '../time.js';
import { LABEL_NAME } from '../../ingest/names.js';
import { z } from 'zod';
import type { Issue } from '../errors.js';
import { fingerprint, type Labels } from './labels.js';
import type { NotifierAlert } from './receivers.js';
import { WORDING } from './wording.js';

/** The most alerts one request may carry (Prometheus sends at most 256 per request). */
const MAX_POSTED_ALERTS = 10_000;

const labelSet = z.record(z.string(), z.string());
const postableAlert = z.object({
  labels: labelSet,
  annotations: labelSet.optional(),
  startsAt: z.string().optional(),
  endsAt: z.string().optional(),
  generatorURL: z.string().optional(),
});

/** Go's zero time, which clients send for "unset". */
const isZero = (s: string | undefined) => s === undefined || s === '' || s.startsWith('0001-01-01');

/** Check a POST /api/v2/alerts body; every problem is listed with its index and field. */
export function parsePostedAlerts(body: unknown, now: number, resolveTimeoutMs: number): { alerts: NotifierAlert[]; issues: Issue[] } {
  const issues: Issue[] = [];
  if (!Array.isArray(body)) return { alerts: [], issues: [{ path: [], message: 'the body must be a JSON array of alerts' }] };
  if (body.length > MAX_POSTED_ALERTS) return { alerts: [], issues: [{ path: [], message: `at most ${MAX_POSTED_ALERTS} alerts per request, got ${body.length}` }] };
  const alerts: NotifierAlert[] = [];
  body.forEach((raw, i) => {
    const p = postableAlert.safeParse(raw, WORDING);
    if (!p.success) {
      for (const is of p.error.issues) issues.push({ path: [i, ...(is.path as (string | number)[])], message: is.message });
      return;
    }
    const a = p.data;
    const labels: Labels = {};
    let bad = false;
    for (const [k, v] of Object.entries(a.labels)) {
      if (!LABEL_NAME.test(k)) {
        issues.push({ path: [i, 'labels', k], message: `invalid label name ${JSON.stringify(k)}` });
        bad = true;
      } else if (v !== '') labels[k] = v;
    }
    if (Object.keys(labels).length === 0 && !bad) {
      issues.push({ path: [i, 'labels'], message: 'at least one label pair required' });
      return;
    }
    const time = (v: string | undefined, field: string): number | undefined => {
      if (isZero(v)) return undefined;
      try {
        return parseTime(v!, field);
      } catch {
        issues.push({ path: [i, field], message: `invalid time ${JSON.stringify(v)}: use RFC 3339` });
        bad = true;
        return NaN;
      }
    };
    let startsAt = time(a.startsAt, 'startsAt');
    let endsAt = time(a.endsAt, 'endsAt');
    if (bad) return;
    // Alertmanager's defaults: start now (or at the end, for an alert sent only resolved), end after resolve_timeout.
    startsAt ??= endsAt !== undefined && endsAt < now ? endsAt : now;
    endsAt ??= now + resolveTimeoutMs;
    if (endsAt < startsAt) {
      issues.push({ path: [i, 'endsAt'], message: 'end time must not be before start time' });
      return;
    }
    const annotations: Labels = {};
    for (const [k, v] of Object.entries(a.annotations ?? {})) annotations[k] = v;
    alerts.push({ fingerprint: fingerprint(labels), labels, annotations, startsAt, endsAt, generatorURL: a.generatorURL ?? '', updatedAt: now });
  });
  return { alerts, issues };
}
