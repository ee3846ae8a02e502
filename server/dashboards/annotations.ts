import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { param, sql, type Store } from '../store/index.js';
import { chTime } from '../store/store.js';

/**
 * Annotations drawn on charts, from three places: posted ones (POST /api/v1/annotations, e.g. CI
 * announcing a deploy), alert state changes (alert_history), and deploys seen in the data (the
 * first time a service's series carry a new `version`, `service_version` or OTLP
 * `service.version` label value). The last two are derived when read; nothing is copied.
 */

export interface Annotation {
  id: string;
  kind: 'manual' | 'alert' | 'deploy';
  /** Milliseconds since the epoch. */
  time: number;
  timeEnd?: number;
  text: string;
  tags: string[];
  service?: string;
  dashboard?: string;
  /** alert: the state it entered (firing, resolved, pending). */
  state?: string;
}

export const annotationInputSchema = z
  .object({
    /** Milliseconds since the epoch; default now. */
    time: z.number().int().min(0).max(10_000_000_000_000).optional(),
    timeEnd: z.number().int().min(0).max(10_000_000_000_000).optional(),
    text: z.string().trim().min(1, 'must not be empty').max(4000),
    tags: z.array(z.string().trim().min(1).max(64)).max(20).default([]),
    service: z.string().max(128).optional(),
    dashboard: z.string().max(128).optional(),
  })
  .strict()
  .refine((a) => a.timeEnd === undefined || a.time === undefined || a.timeEnd >= a.time, { message: 'must not be before time', path: ['timeEnd'] });

export type AnnotationInput = z.infer<typeof annotationInputSchema>;

export async function addAnnotation(store: Store, a: AnnotationInput, now = Date.now()): Promise<Annotation> {
  const id = randomBytes(8).toString('hex');
  const time = a.time ?? now;
  await store.insertRows('annotations', [
    { id, ts: chTime(time), end_ts: a.timeEnd === undefined ? null : chTime(a.timeEnd), text: a.text, tags: a.tags, service: a.service ?? '', dashboard: a.dashboard ?? '', created_at: chTime(now) },
  ]);
  return { id, kind: 'manual', time, ...(a.timeEnd !== undefined ? { timeEnd: a.timeEnd } : {}), text: a.text, tags: a.tags, ...(a.service ? { service: a.service } : {}), ...(a.dashboard ? { dashboard: a.dashboard } : {}) };
}

export interface AnnotationQuery {
  start: number;
  end: number;
  service?: string;
  dashboard?: string;
  kinds: ReadonlySet<Annotation['kind']>;
  limit: number;
}

export async function listAnnotations(store: Store, q: AnnotationQuery): Promise<Annotation[]> {
  const from = param("DateTime64(3, 'UTC')", chTime(q.start));
  const to = param("DateTime64(3, 'UTC')", chTime(q.end));
  const limit = param('UInt32', q.limit);
  const out: Annotation[] = [];
  const svc = q.service ?? '';
  if (q.kinds.has('manual')) {
    const rows = await store.query<{ id: string; t: string; e: string | null; text: string; tags: string[]; service: string; dashboard: string }>(
      sql`SELECT id, toUnixTimestamp64Milli(ts) AS t, toUnixTimestamp64Milli(end_ts) AS e, text, tags, service, dashboard FROM annotations
          WHERE ts BETWEEN ${from} AND ${to}
            AND (${param('String', svc)} = '' OR service IN ('', ${param('String', svc)}))
            AND (${param('String', q.dashboard ?? '')} = '' OR dashboard IN ('', ${param('String', q.dashboard ?? '')}))
          ORDER BY ts LIMIT ${limit}`,
    );
    for (const r of rows) {
      out.push({
        id: r.id, kind: 'manual', time: Number(r.t), ...(r.e !== null && r.e !== undefined ? { timeEnd: Number(r.e) } : {}), text: r.text, tags: r.tags,
        ...(r.service ? { service: r.service } : {}), ...(r.dashboard ? { dashboard: r.dashboard } : {}),
      });
    }
  }
  if (q.kinds.has('alert')) {
    const rows = await store.query<{ t: string; rule: string; fp: string; to_state: string; from_state: string; service: string }>(
      sql`SELECT toUnixTimestamp64Milli(ts) AS t, rule_name AS rule, fingerprint AS fp, to_state, from_state,
                 if(labels['service'] != '', labels['service'], labels['job']) AS service
          FROM alert_history
          WHERE ts BETWEEN ${from} AND ${to}
            AND (${param('String', svc)} = '' OR labels['service'] = ${param('String', svc)} OR labels['job'] = ${param('String', svc)})
          ORDER BY ts LIMIT ${limit}`,
    );
    for (const r of rows) {
      out.push({ id: `alert-${r.fp}-${r.t}`, kind: 'alert', time: Number(r.t), text: `${r.rule}: ${r.from_state} → ${r.to_state}`, tags: ['alert', r.to_state], state: r.to_state, ...(r.service ? { service: r.service } : {}) });
    }
  }
  if (q.kinds.has('deploy') && svc) {
    // The first sighting of each version; the oldest one is where the data begins, not a deploy.
    const rows = await store.query<{ v: string; first: string }>(
      sql`SELECT v, toUnixTimestamp64Milli(min(first_seen)) AS first FROM (
            SELECT multiIf(tags['version'] != '', tags['version'], tags['service_version'] != '', tags['service_version'], tags['service.version']) AS v, first_seen
            FROM series WHERE service = ${param('String', svc)})
          WHERE v != '' GROUP BY v ORDER BY first LIMIT 1000`,
    );
    rows.forEach((r, i) => {
      const t = Number(r.first);
      if (i === 0 || t < q.start || t > q.end) return;
      out.push({ id: `deploy-${svc}-${r.v}`, kind: 'deploy', time: t, text: `${svc} ${rows[i - 1].v} → ${r.v}`, tags: ['deploy', r.v], service: svc });
    });
  }
  return out.sort((a, b) => a.time - b.time).slice(0, q.limit);
}
