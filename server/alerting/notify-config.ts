/**
 * Notification config in Alertmanager's format (route tree, receivers, inhibit_rules), so an
 * existing alertmanager.yml routes unchanged. What Metronome does not implement (other receiver
 * types, templates, time intervals, TLS/proxy settings...) is listed as warnings with its path,
 * logged at start-up and returned by the API, never silently dropped.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { parsePromDuration } from '../promql/time.js';
import { regexProblem } from '../regex.js';
import { formatMatcher, MatcherError, matches as matchOne, parseMatchers, type LabelMatcher } from './labels.js';

export interface Route {
  /** Unique id (path of indexes), e.g. "0.1". */
  id: string;
  /** Alertmanager's route key: parent key / this route's matchers. */
  key: string;
  receiver: string;
  matchers: LabelMatcher[];
  /** null = group by all labels ('...'). */
  groupBy: string[] | null;
  groupWaitMs: number;
  groupIntervalMs: number;
  repeatIntervalMs: number;
  continue: boolean;
  routes: Route[];
}

export interface WebhookConfig {
  kind: 'webhook';
  url: string;
  sendResolved: boolean;
  maxAlerts: number;
  timeoutMs: number;
  headers: Record<string, string>;
}

export interface LogConfig {
  kind: 'log';
  sendResolved: boolean;
  level: 'info' | 'warn' | 'error';
}

export type IntegrationConfig = WebhookConfig | LogConfig;

export interface Receiver {
  name: string;
  integrations: IntegrationConfig[];
}

export interface InhibitRule {
  source: LabelMatcher[];
  target: LabelMatcher[];
  equal: string[];
}

export interface NotifyConfig {
  route: Route;
  receivers: Map<string, Receiver>;
  inhibitRules: InhibitRule[];
  /** global.resolve_timeout: how long an alert without an end is considered firing. */
  resolveTimeoutMs: number;
  /** The YAML text it was parsed from. */
  source: string;
}

export interface ConfigProblem {
  path: string;
  message: string;
  line?: number;
  column?: number;
}

export class NotifyConfigError extends Error {
  override name = 'NotifyConfigError';
  constructor(readonly problems: ConfigProblem[], where = 'notification config') {
    super(`invalid ${where}:\n${problems.map((p) => `  ${p.line ? `line ${p.line}:${p.column}: ` : ''}${p.path}: ${p.message}`).join('\n')}`);
  }
}

/** Used when neither NOTIFY_CONFIG nor the API gave a config: every alert is logged. */
export const DEFAULT_NOTIFY_CONFIG = `route:
  receiver: log
  group_by: [alertname]
receivers:
  - name: log
    log_configs:
      - {}
`;

const KNOWN_RECEIVER_TYPES = [
  'email_configs',
  'pagerduty_configs',
  'slack_configs',
  'opsgenie_configs',
  'victorops_configs',
  'pushover_configs',
  'wechat_configs',
  'telegram_configs',
  'sns_configs',
  'webex_configs',
  'discord_configs',
  'msteams_configs',
  'msteamsv2_configs',
  'jira_configs',
  'rocketchat_configs',
  'incidentio_configs',
];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parse and check a config. Throws NotifyConfigError with every problem; returns warnings for what is not supported. */
export function parseNotifyConfig(text: string): { config: NotifyConfig; warnings: ConfigProblem[] } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  const errors: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];
  const where = (path: (string | number)[]) => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as { range?: number[] } | undefined;
      if (node?.range) {
        const p = lc.linePos(node.range[0]);
        return { line: p.line, column: p.col };
      }
    }
    return {};
  };
  const fmt = (path: (string | number)[]) => path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('').replace(/^\./, '') || '(top)';
  const err = (path: (string | number)[], message: string) => errors.push({ path: fmt(path), message, ...where(path) });
  const warn = (path: (string | number)[], message: string) => warnings.push({ path: fmt(path), message, ...where(path) });

  if (doc.errors.length) {
    throw new NotifyConfigError(doc.errors.map((e) => ({ path: '(yaml)', message: e.message.split('\n')[0], line: e.linePos?.[0].line, column: e.linePos?.[0].col })));
  }
  const root = doc.toJS() as unknown;
  if (!isObj(root)) throw new NotifyConfigError([{ path: '(top)', message: 'the config must be a YAML mapping with route and receivers' }]);

  const known = (obj: Obj, path: (string | number)[], supported: string[], unsupported: Record<string, string> = {}) => {
    for (const k of Object.keys(obj)) {
      if (supported.includes(k)) continue;
      if (k in unsupported) warn([...path, k], unsupported[k]);
      else err([...path, k], `unknown field "${k}"`);
    }
  };
  const dur = (v: unknown, path: (string | number)[], def: number): number => {
    if (v === undefined) return def;
    const d = typeof v === 'string' ? (v.trim() === '0' ? 0 : parsePromDuration(v.trim())) : null;
    if (d === null) {
      err(path, `invalid duration ${JSON.stringify(v)}: use a duration like 30s, 5m, 4h`);
      return def;
    }
    return d;
  };
  const matcherList = (obj: Obj, path: (string | number)[], key: string, eqKey: string, reKey: string): LabelMatcher[] => {
    const out: LabelMatcher[] = [];
    const list = obj[key];
    if (list !== undefined) {
      if (!Array.isArray(list)) err([...path, key], 'must be a list of matchers like severity="page"');
      else
        list.forEach((m, i) => {
          try {
            out.push(...parseMatchers(String(m)));
          } catch (e) {
            if (e instanceof MatcherError) err([...path, key, i], e.message);
            else throw e;
          }
        });
    }
    for (const [k, op] of [[eqKey, '='], [reKey, '=~']] as const) {
      const m = obj[k];
      if (m === undefined) continue;
      if (!isObj(m)) {
        err([...path, k], 'must be a mapping of label name to value');
        continue;
      }
      for (const [name, value] of Object.entries(m)) {
        if (op === '=~') {
          const problem = regexProblem(String(value));
          if (problem) {
            err([...path, k, name], `invalid regular expression: ${problem}`);
            continue;
          }
        }
        out.push({ name, op, value: String(value) });
      }
    }
    return out;
  };

  known(root, [], ['global', 'route', 'receivers', 'inhibit_rules'], {
    templates: 'templates are not supported: notifications use the built-in webhook payload and log format',
    time_intervals: 'time intervals are not supported: routes referring to them notify at all times',
    mute_time_intervals: 'mute_time_intervals are not supported: routes referring to them notify at all times',
    tracing: 'tracing is not supported',
  });

  let resolveTimeoutMs = 5 * 60_000;
  if (root.global !== undefined) {
    if (!isObj(root.global)) err(['global'], 'must be a mapping');
    else {
      for (const [k, v] of Object.entries(root.global)) {
        if (k === 'resolve_timeout') resolveTimeoutMs = dur(v, ['global', k], resolveTimeoutMs);
        else warn(['global', k], `global.${k} is not supported (it configures an integration or transport Metronome does not implement)`);
      }
    }
  }

  // Receivers first: routes must name one.
  const receivers = new Map<string, Receiver>();
  const recvList = root.receivers;
  if (!Array.isArray(recvList) || recvList.length === 0) err(['receivers'], 'at least one receiver is required');
  else
    recvList.forEach((r, i) => {
      const p = ['receivers', i];
      if (!isObj(r)) return err(p, 'must be a mapping with a name');
      const name = r.name;
      if (typeof name !== 'string' || !name) return err([...p, 'name'], 'a receiver needs a name');
      if (receivers.has(name)) err([...p, 'name'], `receiver "${name}" is defined twice`);
      const unsupported: Record<string, string> = {};
      for (const t of KNOWN_RECEIVER_TYPES) unsupported[t] = `${t} is not supported (Metronome sends webhook and log notifications); receiver "${name}" will not use it`;
      known(r, p, ['name', 'webhook_configs', 'log_configs'], unsupported);
      const integrations: IntegrationConfig[] = [];
      const wh = r.webhook_configs;
      if (wh !== undefined) {
        if (!Array.isArray(wh)) err([...p, 'webhook_configs'], 'must be a list');
        else
          wh.forEach((w, j) => {
            const wp = [...p, 'webhook_configs', j];
            if (!isObj(w)) return err(wp, 'must be a mapping with a url');
            known(w, wp, ['url', 'url_file', 'send_resolved', 'max_alerts', 'timeout', 'http_config'], {});
            let url = w.url;
            if (url === undefined && typeof w.url_file === 'string') {
              try {
                url = readFileSync(w.url_file, 'utf8').trim();
              } catch (e) {
                err([...wp, 'url_file'], `cannot read: ${(e as Error).message}`);
              }
            }
            if (typeof url !== 'string' || !/^https?:\/\//.test(url)) return err([...wp, 'url'], 'a webhook needs an http:// or https:// url (or url_file)');
            try {
              new URL(url);
            } catch {
              return err([...wp, 'url'], `invalid URL ${JSON.stringify(url)}`);
            }
            const headers: Record<string, string> = {};
            if (w.http_config !== undefined) {
              const hc = w.http_config;
              if (!isObj(hc)) err([...wp, 'http_config'], 'must be a mapping');
              else {
                for (const [k, v] of Object.entries(hc)) {
                  const hp = [...wp, 'http_config', k];
                  if (k === 'basic_auth' && isObj(v)) {
                    headers.authorization = `Basic ${Buffer.from(`${String(v.username ?? '')}:${String(v.password ?? '')}`).toString('base64')}`;
                  } else if (k === 'authorization' && isObj(v)) {
                    headers.authorization = `${String(v.type ?? 'Bearer')} ${String(v.credentials ?? '')}`;
                  } else if (k === 'bearer_token') {
                    headers.authorization = `Bearer ${String(v)}`;
                  } else if (k === 'follow_redirects' || k === 'enable_http2') {
                    // fetch follows redirects and negotiates the protocol itself.
                  } else warn(hp, `http_config.${k} is not supported; the webhook is called without it`);
                }
              }
            }
            if (w.max_alerts !== undefined && (!Number.isInteger(w.max_alerts) || (w.max_alerts as number) < 0)) err([...wp, 'max_alerts'], 'must be a non-negative integer');
            if (w.send_resolved !== undefined && typeof w.send_resolved !== 'boolean') err([...wp, 'send_resolved'], 'must be true or false');
            integrations.push({
              kind: 'webhook',
              url,
              sendResolved: w.send_resolved !== false,
              maxAlerts: (w.max_alerts as number | undefined) ?? 0,
              timeoutMs: dur(w.timeout, [...wp, 'timeout'], 0) || 10_000,
              headers,
            });
          });
      }
      const lg = r.log_configs;
      if (lg !== undefined) {
        if (!Array.isArray(lg)) err([...p, 'log_configs'], 'must be a list');
        else
          lg.forEach((l, j) => {
            const lp = [...p, 'log_configs', j];
            const o = isObj(l) ? l : {};
            known(o, lp, ['send_resolved', 'level']);
            const level = (o.level ?? 'info') as LogConfig['level'];
            if (!['info', 'warn', 'error'].includes(level)) err([...lp, 'level'], 'must be info, warn or error');
            integrations.push({ kind: 'log', sendResolved: o.send_resolved !== false, level });
          });
      }
      if (integrations.length === 0 && Object.keys(r).some((k) => k.endsWith('_configs'))) {
        warn(p, `receiver "${name}" has no supported integration: notifications routed to it are dropped`);
      }
      receivers.set(name, { name, integrations });
    });

  const routeKeys = ['receiver', 'group_by', 'group_wait', 'group_interval', 'repeat_interval', 'matchers', 'match', 'match_re', 'continue', 'routes'];
  const routeUnsupported = {
    mute_time_intervals: 'mute_time_intervals are not supported: this route notifies at all times',
    active_time_intervals: 'active_time_intervals are not supported: this route notifies at all times',
  };
  const buildRoute = (r: unknown, path: (string | number)[], parent: Route | null, id: string): Route => {
    const fallback: Route = parent ?? {
      id,
      key: '{}',
      receiver: '',
      matchers: [],
      groupBy: [],
      groupWaitMs: 30_000,
      groupIntervalMs: 5 * 60_000,
      repeatIntervalMs: 4 * 3_600_000,
      continue: false,
      routes: [],
    };
    if (!isObj(r)) {
      err(path, 'a route must be a mapping');
      return { ...fallback, id, routes: [] };
    }
    known(r, path, routeKeys, routeUnsupported);
    const matchers = matcherList(r, path, 'matchers', 'match', 'match_re');
    if (!parent && matchers.length) err([...path, 'matchers'], 'the root route must not have matchers (it matches every alert)');
    const receiver = r.receiver === undefined ? fallback.receiver : String(r.receiver);
    if (!receiver) err([...path, 'receiver'], 'the root route needs a receiver');
    // An inherited receiver was checked where it was set.
    else if ((r.receiver !== undefined || !parent) && Array.isArray(recvList) && !receivers.has(receiver)) err([...path, 'receiver'], `undefined receiver "${receiver}"`);
    let groupBy = fallback.groupBy;
    if (r.group_by !== undefined) {
      if (!Array.isArray(r.group_by)) err([...path, 'group_by'], 'must be a list of label names');
      else {
        const names = r.group_by.map(String);
        if (names.includes('...')) {
          if (names.length > 1) err([...path, 'group_by'], '"..." (group by all labels) must be alone');
          groupBy = null;
        } else groupBy = [...new Set(names)];
      }
    }
    const key = parent ? `${parent.key}/{${matchers.map(formatMatcher).join(',')}}` : '{}';
    const route: Route = {
      id,
      key,
      receiver,
      matchers,
      groupBy,
      groupWaitMs: dur(r.group_wait, [...path, 'group_wait'], fallback.groupWaitMs),
      groupIntervalMs: dur(r.group_interval, [...path, 'group_interval'], fallback.groupIntervalMs),
      repeatIntervalMs: dur(r.repeat_interval, [...path, 'repeat_interval'], fallback.repeatIntervalMs),
      continue: r.continue === true,
      routes: [],
    };
    if (route.groupIntervalMs <= 0) err([...path, 'group_interval'], 'must be greater than 0');
    if (route.repeatIntervalMs <= 0) err([...path, 'repeat_interval'], 'must be greater than 0');
    if (!parent && r.continue === true) err([...path, 'continue'], 'the root route cannot have continue');
    if (r.routes !== undefined) {
      if (!Array.isArray(r.routes)) err([...path, 'routes'], 'must be a list of routes');
      else route.routes = r.routes.map((c, i) => buildRoute(c, [...path, 'routes', i], route, `${id}.${i}`));
    }
    return route;
  };
  const route = root.route === undefined ? (err(['route'], 'a root route is required'), null) : buildRoute(root.route, ['route'], null, '0');

  const inhibitRules: InhibitRule[] = [];
  if (root.inhibit_rules !== undefined) {
    if (!Array.isArray(root.inhibit_rules)) err(['inhibit_rules'], 'must be a list');
    else
      root.inhibit_rules.forEach((ir, i) => {
        const p = ['inhibit_rules', i];
        if (!isObj(ir)) return err(p, 'must be a mapping');
        known(ir, p, ['source_matchers', 'target_matchers', 'source_match', 'source_match_re', 'target_match', 'target_match_re', 'equal']);
        const equal = ir.equal === undefined ? [] : Array.isArray(ir.equal) ? ir.equal.map(String) : (err([...p, 'equal'], 'must be a list of label names'), []);
        inhibitRules.push({
          source: matcherList(ir, p, 'source_matchers', 'source_match', 'source_match_re'),
          target: matcherList(ir, p, 'target_matchers', 'target_match', 'target_match_re'),
          equal,
        });
      });
  }

  if (errors.length || !route) throw new NotifyConfigError(errors);
  return { config: { route, receivers, inhibitRules, resolveTimeoutMs, source: text }, warnings };
}

/**
 * The routes an alert goes to: depth first, the deepest matching routes; a route whose children
 * match none of them takes the alert itself; `continue` lets siblings match too
 * (Alertmanager's Route.Match).
 */
export function matchRoutes(route: Route, labels: Record<string, string>, isRoot = true): Route[] {
  if (!isRoot && !route.matchers.every((m) => matchOne(m, labels))) return [];
  const all: Route[] = [];
  for (const child of route.routes) {
    const found = matchRoutes(child, labels, false);
    all.push(...found);
    if (found.length && !child.continue) break;
  }
  if (all.length === 0) all.push(route);
  return all;
}

/** Every route of the tree, depth first (for the API). */
export function flattenRoutes(route: Route): Route[] {
  return [route, ...route.routes.flatMap(flattenRoutes)];
}
