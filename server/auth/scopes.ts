import type { Scope } from './tokens.js';

/** What a route needs: nothing (open) or one scope. */
export type Need = Scope | 'open';

/**
 * The scope each route needs, by fastify route pattern. Routes not listed fall back to a safe
 * default: GET/HEAD need read, any other method needs admin, so a new mutating route is never
 * open by accident (test/auth.test.ts checks the listed ones over HTTP).
 *
 * Open on purpose: liveness/readiness (load balancers and orchestrators probe without tokens),
 * the Influx ping (clients probe it before sending credentials), and the web UI's static files
 * (public code, no data: every number the UI shows comes from the API, which checks the token).
 * /metrics needs read: it names services, routes and rules (Prometheus scrapes it with
 * `authorization: {credentials: <token>}`).
 */
const TABLE: Record<string, Partial<Record<string, Need>> & { '*'?: Need }> = {
  '/healthz': { '*': 'open' },
  '/readyz': { '*': 'open' },
  '/influx/ping': { '*': 'open' },
  '/*': { GET: 'open', HEAD: 'open' },
  '/metrics': { '*': 'read' },

  // Ingest, every protocol.
  '/write': { POST: 'write' },
  '/api/v1/write': { POST: 'write' },
  '/influx/write': { POST: 'write' },
  '/influx/api/v2/write': { POST: 'write' },
  '/v1/metrics': { POST: 'write' },

  // Reads that clients also send as POST (Prometheus forms, Heroic JSON bodies).
  '/api/v1/query': { '*': 'read' },
  '/api/v1/query_range': { '*': 'read' },
  '/api/v1/series': { '*': 'read' },
  '/api/v1/labels': { '*': 'read' },
  '/api/v1/label/:name/values': { '*': 'read' },
  '/api/v1/export': { '*': 'read' },
  '/api/v1/metadata': { '*': 'read' },
  '/metadata/keys': { '*': 'read' },
  '/metadata/tags': { '*': 'read' },
  '/metadata/series': { POST: 'read', DELETE: 'admin' },
  '/metadata/series-count': { '*': 'read' },
  '/metadata/key-suggest': { '*': 'read' },
  '/metadata/tag-suggest': { '*': 'read' },
  '/metadata/tag-value-suggest': { '*': 'read' },
  '/metadata/tagkey-count': { '*': 'read' },
  '/metadata/tag-values-suggest': { '*': 'read' },
  '/query/metrics': { '*': 'read' },
  '/query/batch': { '*': 'read' },
  '/parser/parse-filter': { '*': 'read' },
  '/api/v1/status/cardinality': { '*': 'read' },

  // Changes to rules, SLOs, silences, notification config, services and dashboards: admin.
  '/api/v1/alerting/rules': { GET: 'read', POST: 'admin' },
  '/api/v1/alerting/rules/:id': { GET: 'read', PUT: 'admin', DELETE: 'admin' },
  '/api/v1/alerting/slos': { GET: 'read', POST: 'admin' },
  '/api/v1/alerting/slos/:id': { GET: 'read', PUT: 'admin', DELETE: 'admin' },
  '/api/v1/alerting/notifications/config': { GET: 'read', PUT: 'admin' },
  '/api/v1/alerting/notifications/test': { POST: 'admin' },
  '/api/v1/silences': { GET: 'read', POST: 'admin' },
  '/api/v1/silences/:id': { GET: 'read', DELETE: 'admin' },
  // Alertmanager API v2: senders of alerts (Prometheus, vmalert) need write; silences need admin.
  '/api/v2/alerts': { GET: 'read', POST: 'write' },
  '/api/v2/silences': { GET: 'read', POST: 'admin' },
  '/api/v2/silence/:silenceID': { GET: 'read', DELETE: 'admin' },
  '/api/v1/services': { GET: 'read', POST: 'admin' },
  '/api/v1/services/:name': { GET: 'read', DELETE: 'admin' },
  '/api/v1/services/:name/dashboard': { GET: 'read', PUT: 'admin', DELETE: 'admin' },
  '/api/v1/services/:name/alerts/enable': { POST: 'admin' },
  // Probes make the server connect where they say, and their targets map internal networks: admin only, reads too.
  '/api/v1/probes': { '*': 'admin' },
  '/api/v1/probes/:name': { '*': 'admin' },
  '/api/v1/dashboards': { GET: 'read', POST: 'admin' },
  '/api/v1/dashboards/import': { POST: 'admin' },
  '/api/v1/dashboards/:id': { GET: 'read', PUT: 'admin', DELETE: 'admin' },
  // CI posts deploy markers with the token it writes metrics with.
  '/api/v1/annotations': { GET: 'read', POST: 'write' },
};

/** The scope `method url` needs; `url` is the route pattern (undefined when no route matched). */
export function scopeFor(method: string, url: string | undefined): Need {
  const row = url === undefined ? undefined : TABLE[url];
  const listed = row?.[method] ?? row?.['*'];
  if (listed) return listed;
  return method === 'GET' || method === 'HEAD' ? 'read' : 'admin';
}
