import type { MetricMetadata } from '../../ingest/decode-remote-write.js';
import type { Access } from '../auth/access.js';
import type { Principal } from '../auth/tokens.js';
import { MetronomeError } from '../errors.js';
import { param, sql, type Store } from '../store/index.js';

/**
 * What a write token limited to services may write (issue 11, "Scope that holds"):
 *
 * - A series belongs to every service its `service` and `job` labels name (dashboards, alerts and
 *   service health select either), so a token for X may write it only when each label it has
 *   names one of the token's services; a series with neither belongs to no service and is refused.
 * - The rule applies to every item of a request: samples (`admission.ts`), staleness markers and
 *   OTLP "no recorded value" points, which end a series as surely as a sample extends it.
 * - Metadata (type, help, unit) is shared by every series of a metric, so only a token whose
 *   services cover all of the metric's series (those stored and those in the request, at least
 *   one) may set it; an unrestricted write token or an admin token may set any.
 */

/** The services a series belongs to: the values of its `service` and `job` labels (`''` when it has neither). */
function seriesServices(tags: Readonly<Record<string, string>>): string[] {
  const out: string[] = [];
  if (tags.service !== undefined) out.push(tags.service);
  if (tags.job !== undefined && tags.job !== tags.service) out.push(tags.job);
  if (out.length === 0) out.push('');
  return out;
}

/** The first service of `tags` outside `allowed`, or undefined when the series is in scope. */
function outOfScope(allowed: ReadonlySet<string>, tags: Readonly<Record<string, string>>): string | undefined {
  for (const s of seriesServices(tags)) if (!allowed.has(s)) return s;
  return undefined;
}

/**
 * Refuse (403 MTR_AUTH_SERVICE_FORBIDDEN) the first item a service-limited principal may not
 * write. `what` names the kind of item in the answer (`series`, `staleness marker`).
 */
export function checkSeriesScope(
  p: Principal | undefined,
  access: Access | undefined,
  items: readonly { key: string; tags: Readonly<Record<string, string>> }[],
  what: string,
): void {
  if (!p?.services) return;
  for (let i = 0; i < items.length; i++) {
    const svc = outOfScope(p.services, items[i].tags);
    if (svc === undefined) continue;
    access?.fail('service', { method: 'POST', url: '(write)' }, { token: p.name, service: svc, item: what });
    throw new MetronomeError(
      'MTR_AUTH_SERVICE_FORBIDDEN',
      [JSON.stringify(p.name), [...p.services].join(', '), `${what} ${i}`, items[i].key, JSON.stringify(svc)],
      { details: { token: p.name, item: what, index: i, series: i, service: svc, labels: { __name__: items[i].key, ...items[i].tags } } },
    );
  }
}

/** The series keys a metric's metadata speaks for (a histogram's or summary's family, a counter's _total). */
function familyKeys(metric: string): string[] {
  return [metric, `${metric}_bucket`, `${metric}_count`, `${metric}_sum`, `${metric}_total`];
}

/**
 * Split metadata into what `p` may set and what it may not (see above). Metadata out of scope is
 * not stored and the request goes on: OTLP sends a metric's metadata with every export of its
 * points, and a service's points must not be refused because another service shares the
 * metric's name. One query on the series table (its sort key starts with `key`).
 */
export async function metadataInScope(
  p: Principal | undefined,
  store: Store,
  metadata: readonly MetricMetadata[],
  series: readonly { key: string; tags: Readonly<Record<string, string>> }[],
): Promise<{ allowed: MetricMetadata[]; refused: MetricMetadata[] }> {
  if (!p?.services || p.scopes.has('admin') || metadata.length === 0) return { allowed: [...metadata], refused: [] };
  const allowed = p.services;
  const keys = metadata.flatMap((m) => familyKeys(m.metric));
  // Per key: does it have a series in scope, and one out of it?
  const seen = new Map<string, { inScope: boolean; outside: boolean }>();
  const note = (key: string, tags: Readonly<Record<string, string>>) => {
    const e = seen.get(key) ?? { inScope: false, outside: false };
    if (outOfScope(allowed, tags) === undefined) e.inScope = true;
    else e.outside = true;
    seen.set(key, e);
  };
  for (const s of series) note(s.key, s.tags);
  const rows = await store.query<{ key: string; service: string; job: string; has_job: number }>(
    sql`SELECT DISTINCT key, tags['service'] AS service, tags['job'] AS job, mapContains(tags, 'job') AS has_job, mapContains(tags, 'service') AS has_service
        FROM series WHERE key IN ${param('Array(String)', keys)}`,
  );
  for (const r of rows as { key: string; service: string; job: string; has_job: number; has_service: number }[]) {
    const tags: Record<string, string> = {};
    if (Number(r.has_service)) tags.service = r.service;
    if (Number(r.has_job)) tags.job = r.job;
    note(r.key, tags);
  }
  const out = { allowed: [] as MetricMetadata[], refused: [] as MetricMetadata[] };
  for (const m of metadata) {
    let inScope = false;
    let outside = false;
    for (const k of familyKeys(m.metric)) {
      const e = seen.get(k);
      if (e?.inScope) inScope = true;
      if (e?.outside) outside = true;
    }
    (inScope && !outside ? out.allowed : out.refused).push(m);
  }
  return out;
}
