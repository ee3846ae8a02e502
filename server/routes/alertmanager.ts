/**
 * Alertmanager's API v2 (api/v2/openapi.yaml of prometheus/alertmanager), so Prometheus and
 * vmalert can send alerts to Metronome and amtool, Grafana's Alertmanager data source and karma
 * can read alerts and manage silences unchanged: /api/v2/alerts (GET, POST), /alerts/groups,
 * /silences (GET, POST), /silence/{id} (GET, DELETE), /status, /receivers.
 *
 * Errors are what Alertmanager's clients decode: a JSON string body. It carries Metronome's
 * catalogue code and every issue with its field ("MTR_SILENCE_INVALID: matchers.0: ..."), and
 * the code is also in the `x-metronome-error-code` header.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { toMetronomeError } from './errors.js';
import { MetronomeError } from '../errors.js';
import type { Alerting } from '../alerting/service.js';
import { MatcherError, matchesAll, parseMatchers, type LabelMatcher, type Labels } from '../alerting/labels.js';
import type { NotifierAlert } from '../alerting/receivers.js';
import { maskSecrets } from '../alerting/config-secrets.js';
import { compileRegex, regexProblem } from '../regex.js';

/** The Alertmanager release whose API this follows (clients read it from /api/v2/status). */
const AM_VERSION = '0.28.1';
const iso = (ms: number) => new Date(ms).toISOString();

function list(req: FastifyRequest, name: string): string[] {
  const v = (req.query as Record<string, unknown>)[name];
  return Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)];
}

function bool(req: FastifyRequest, name: string): boolean {
  const v = list(req, name).at(-1);
  if (v === undefined) return true;
  if (v !== 'true' && v !== 'false') throw new MetronomeError('MTR_AM_BAD_PARAM', [name, 'must be true or false']);
  return v === 'true';
}

/** The `filter` parameters: one matcher each, `name="value"` (or several in braces). */
function filters(req: FastifyRequest): LabelMatcher[] {
  const out: LabelMatcher[] = [];
  for (const f of list(req, 'filter')) {
    try {
      out.push(...parseMatchers(f));
    } catch (e) {
      if (e instanceof MatcherError) throw new MetronomeError('MTR_AM_BAD_PARAM', ['filter', `${JSON.stringify(f)}: ${e.message}`]);
      throw e;
    }
  }
  return out;
}

function receiverFilter(req: FastifyRequest): ((name: string) => boolean) | null {
  const re = list(req, 'receiver').at(-1);
  if (re === undefined || re === '') return null;
  const problem = regexProblem(re);
  if (problem) throw new MetronomeError('MTR_AM_BAD_PARAM', ['receiver', problem]);
  const r = compileRegex(re, 'alertmanager');
  return (name) => r.test(name);
}

export async function alertmanagerRoutes(app: FastifyInstance, { ctx }: { ctx: AppContext }): Promise<void> {
  const svc = (): Alerting => {
    const a = ctx.alerting;
    if (!a) throw new MetronomeError('MTR_ALERTING_UNAVAILABLE');
    return a;
  };

  app.setErrorHandler((err, req, reply) => {
    const e = toMetronomeError(err as Error & { code: string }, ctx);
    if (e.status >= 500) req.log.error({ err }, e.message);
    if (e.headers) reply.headers(e.headers);
    const issues = (e.details as { issues?: { path: string | (string | number)[]; message: string }[] } | undefined)?.issues ?? [];
    const detail = issues.length ? issues.map((i) => `${Array.isArray(i.path) ? i.path.join('.') : i.path}: ${i.message}`).join('; ') : e.message;
    return reply.status(e.status).header('x-metronome-error-code', e.code).type('application/json').send(JSON.stringify(`${e.code}: ${detail}`));
  });

  const gettable = (a: NotifierAlert, receivers: string[], silencedBy: string[], inhibitedBy: string[]) => ({
    labels: a.labels,
    annotations: a.annotations,
    startsAt: iso(a.startsAt),
    endsAt: iso(a.endsAt || a.updatedAt),
    updatedAt: iso(a.updatedAt),
    fingerprint: a.fingerprint,
    generatorURL: a.generatorURL,
    receivers: receivers.map((name) => ({ name })),
    status: { state: silencedBy.length || inhibitedBy.length ? 'suppressed' : 'active', silencedBy, inhibitedBy },
  });

  /** The alert filter of GET /alerts and /alerts/groups. */
  const alertFilter = (req: FastifyRequest) => {
    const ms = filters(req);
    const active = bool(req, 'active');
    const silenced = bool(req, 'silenced');
    const inhibited = bool(req, 'inhibited');
    bool(req, 'unprocessed');
    return (labels: Labels, m: { silencedBy: string[]; inhibitedBy: string[] }) => {
      if (!matchesAll(ms, labels)) return false;
      if (!silenced && m.silencedBy.length) return false;
      if (!inhibited && m.inhibitedBy.length) return false;
      if (!active && !m.silencedBy.length && !m.inhibitedBy.length) return false;
      return true;
    };
  };

  app.post('/api/v2/alerts', async (req, reply) => {
    // Posted alerts live in the notifier of the node that evaluates: a follower would accept and
    // never send them, so it refuses instead (a balancer retries on another node).
    if (ctx.cluster && !ctx.cluster.isLeader()) throw new MetronomeError('MTR_CLUSTER_NOT_LEADER', [await ctx.cluster.leader().catch(() => 'unknown')]);
    const a = svc();
    await a.receiveAlerts(req.body);
    return reply.status(200).send();
  });

  app.get('/api/v2/alerts', async (req) => {
    const a = svc();
    const keep = alertFilter(req);
    const recv = receiverFilter(req);
    const out = [];
    for (const x of a.notifier.activeAlerts()) {
      if (!keep(x.alert.labels, x)) continue;
      if (recv && !x.receivers.some(recv)) continue;
      out.push(gettable(x.alert, x.receivers, x.silencedBy, x.inhibitedBy));
    }
    return out.sort((p, q) => (p.fingerprint < q.fingerprint ? -1 : 1));
  });

  app.get('/api/v2/alerts/groups', async (req) => {
    const a = svc();
    const keep = alertFilter(req);
    const recv = receiverFilter(req);
    const now = a.clock.now();
    const out = [];
    for (const g of a.notifier.groupsWithAlerts()) {
      if (recv && !recv(g.receiver)) continue;
      const alerts = [];
      for (const al of g.alerts) {
        if (a.notifier.isResolved(al, now)) continue;
        const m = a.notifier.mutedBy(al.labels, now);
        if (!keep(al.labels, m)) continue;
        alerts.push(gettable(al, a.notifier.receiversFor(al.labels), m.silencedBy, m.inhibitedBy));
      }
      if (alerts.length) out.push({ labels: g.labels, receiver: { name: g.receiver }, alerts });
    }
    return out;
  });

  // ---- silences ----

  app.get('/api/v2/silences', async (req) => {
    const s = svc().silences;
    const ms = filters(req);
    const now = svc().clock.now();
    const views = s
      .list(now)
      .filter((x) => {
        // Alertmanager keeps a silence when the filters match the labels its matchers name.
        const labels: Labels = {};
        for (const m of x.matchers) labels[m.name] = m.value;
        return matchesAll(ms, labels);
      })
      .map((x) => s.view(x, now));
    const rank = { active: 0, pending: 1, expired: 2 } as const;
    return views.sort((p, q) => {
      const r = rank[p.status.state] - rank[q.status.state];
      if (r) return r;
      if (p.status.state === 'pending') return p.startsAt < q.startsAt ? -1 : 1;
      if (p.status.state === 'expired') return p.endsAt > q.endsAt ? -1 : 1;
      return p.endsAt < q.endsAt ? -1 : 1;
    });
  });

  app.post('/api/v2/silences', async (req) => {
    const s = svc().silences;
    const body = req.body as { id?: unknown } | null;
    try {
      return { silenceID: await s.upsert(body ?? {}) };
    } catch (e) {
      // Alertmanager replaces an expired silence by a new one (amtool's `silence update` relies on it).
      if (e instanceof MetronomeError && e.code === 'MTR_SILENCE_EXPIRED' && body && typeof body === 'object') {
        const { id: _old, ...rest } = body;
        return { silenceID: await s.upsert(rest) };
      }
      throw e;
    }
  });

  app.get('/api/v2/silence/:silenceID', async (req) => {
    const s = svc().silences;
    const id = (req.params as { silenceID: string }).silenceID;
    const x = s.get(id);
    if (!x) throw new MetronomeError('MTR_SILENCE_NOT_FOUND', [id]);
    return s.view(x);
  });

  app.delete('/api/v2/silence/:silenceID', async (req, reply) => {
    const s = svc().silences;
    const id = (req.params as { silenceID: string }).silenceID;
    const x = s.get(id);
    if (!x) throw new MetronomeError('MTR_SILENCE_NOT_FOUND', [id]);
    // Expiring an expired silence changes nothing.
    if (s.state(x) !== 'expired') await s.expire(id);
    return reply.status(200).send();
  });

  // ---- status and receivers ----

  app.get('/api/v2/status', async () => {
    const a = svc();
    return {
      cluster: { status: 'disabled', peers: [] },
      versionInfo: { version: AM_VERSION, revision: 'metronome', branch: 'metronome', buildUser: 'metronome', buildDate: '', goVersion: 'none (Metronome)' },
      config: { original: maskSecrets(a.notifier.config.source) },
      uptime: iso(a.startedAt),
    };
  });

  app.get('/api/v2/receivers', async () => [...svc().notifier.config.receivers.keys()].map((name) => ({ name })));
}
