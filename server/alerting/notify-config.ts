/**
 * Notification config in Alertmanager's format (route tree, receivers, inhibit_rules), so an
 * existing alertmanager.yml routes unchanged. What Metronome does not implement (other receiver
 * types, templates, time intervals, TLS/proxy settings...) is listed as warnings with its path,
 * logged at start-up and returned by the API, never silently dropped.
 */
import { LineCounter, parseDocument } from 'yaml';
import type { Issue } from '../errors.js';
import { parsePromDuration } from '../time.js';
import { regexProblem } from '../regex.js';
import type { Integration } from './receivers.js';
import { NotifyTemplates } from './notify-templates.js';
import { parseTimeIntervals, type TimeInterval } from './time-intervals.js';
import { HTTP_CONFIG_UNSUPPORTED } from './receivers/http.js';
import { RECEIVER_KINDS, receiverKind, UNSUPPORTED_RECEIVER_KEYS, type IntegrationContext } from './receivers/registry.js';
import { formatMatcher, MatcherError, matches as matchOne, parseMatchers, type LabelMatcher } from './labels.js';
import { WORDING } from './wording.js';

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
  /** Names of time intervals that mute this route / outside of which it is muted (not inherited, as in Alertmanager). */
  muteTimeIntervals: string[];
  activeTimeIntervals: string[];
}

/** One integration of a receiver, checked; `create` builds the sender (receivers/registry.ts). */
interface IntegrationConfig {
  /** The integration's name, e.g. "slack". */
  kind: string;
  sendResolved: boolean;
  /** The checked config entry (for the API and the UI; credentials included, never shown as is). */
  config: unknown;
  create(ctx: IntegrationContext): Integration;
}

interface Receiver {
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
  /** Named time intervals (`time_intervals` and `mute_time_intervals`). */
  timeIntervals: Map<string, TimeInterval[]>;
  /** `templates:` paths and globs, as written (the service loads them: notify-templates.ts). */
  templateFiles: string[];
  /** The templates in effect: the defaults until the files are loaded. */
  templates: NotifyTemplates;
}

export class NotifyConfigError extends Error {
  override name = 'NotifyConfigError';
  constructor(readonly problems: Issue[], where = 'notification config') {
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

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parse and check a config. Throws NotifyConfigError with every problem; returns warnings for what is not supported. */
export function parseNotifyConfig(text: string): { config: NotifyConfig; warnings: Issue[] } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  const errors: Issue[] = [];
  const warnings: Issue[] = [];
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
    const d = typeof v === 'string' ? parsePromDuration(v.trim(), { zero: true }) : null;
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

  known(root, [], ['global', 'route', 'receivers', 'inhibit_rules', 'templates', 'time_intervals', 'mute_time_intervals'], {
    tracing: 'tracing is not supported',
  });

  const timeIntervals = new Map<string, TimeInterval[]>();
  for (const key of ['time_intervals', 'mute_time_intervals'] as const) {
    const list = root[key];
    if (list === undefined) continue;
    if (!Array.isArray(list)) {
      err([key], 'must be a list of {name, time_intervals}');
      continue;
    }
    list.forEach((ti, i) => {
      if (!isObj(ti) || typeof ti.name !== 'string' || !ti.name) return err([key, i, 'name'], 'a time interval needs a name');
      known(ti, [key, i], ['name', 'time_intervals']);
      if (timeIntervals.has(ti.name)) return err([key, i, 'name'], `time interval "${ti.name}" is defined twice`);
      timeIntervals.set(ti.name, parseTimeIntervals(ti.time_intervals ?? [], [key, i, 'time_intervals'], err));
    });
  }

  const templateFiles: string[] = [];
  if (root.templates !== undefined) {
    if (!Array.isArray(root.templates) || root.templates.some((t) => typeof t !== 'string' || t === '')) err(['templates'], 'must be a list of file paths or globs');
    else templateFiles.push(...(root.templates as string[]));
  }

  let resolveTimeoutMs = 5 * 60_000;
  // Globals that default a field of some integration (e.g. slack_api_url -> slack_configs[].api_url).
  const globalDefaults = new Map<string, unknown>();
  const globalKeys = new Set(RECEIVER_KINDS.flatMap((k) => Object.keys(k.globals ?? {})));
  let globalHttp: unknown;
  if (root.global !== undefined) {
    if (!isObj(root.global)) err(['global'], 'must be a mapping');
    else {
      for (const [k, v] of Object.entries(root.global)) {
        if (k === 'resolve_timeout') resolveTimeoutMs = dur(v, ['global', k], resolveTimeoutMs);
        else if (k === 'http_config') globalHttp = v;
        else if (globalKeys.has(k)) globalDefaults.set(k, v);
        else warn(['global', k], `global.${k} is not supported (it configures an integration Metronome does not implement)`);
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
      const integrations: IntegrationConfig[] = [];
      for (const [key, list] of Object.entries(r)) {
        if (key === 'name') continue;
        const kind = receiverKind(key);
        if (!kind) {
          if (UNSUPPORTED_RECEIVER_KEYS.includes(key)) warn([...p, key], `${key} is not supported (Metronome sends ${RECEIVER_KINDS.map((k) => k.key).join(', ')}); receiver "${name}" will not use it`);
          else err([...p, key], `unknown field "${key}"`);
          continue;
        }
        if (!Array.isArray(list)) {
          err([...p, key], 'must be a list');
          continue;
        }
        list.forEach((raw, j) => {
          const ip = [...p, key, j];
          const entry: Obj = isObj(raw) ? { ...raw } : raw === null && kind.key === 'log_configs' ? {} : (null as unknown as Obj);
          if (!entry) return err(ip, 'must be a mapping');
          for (const [g, field] of Object.entries(kind.globals ?? {})) if (entry[field] === undefined && globalDefaults.has(g)) entry[field] = globalDefaults.get(g);
          if (globalHttp !== undefined && entry.http_config === undefined && kind.key !== 'email_configs' && kind.key !== 'log_configs') entry.http_config = globalHttp;
          const parsed = kind.schema.safeParse(entry, WORDING);
          if (!parsed.success) {
            for (const issue of parsed.error.issues) {
              const at = [...ip, ...(issue.path as (string | number)[])];
              if (issue.code === 'unrecognized_keys') for (const k of issue.keys) err([...at, k], `unknown field "${k}"`);
              else err(at, issue.message);
            }
            return;
          }
          const hc = isObj(entry.http_config) ? entry.http_config : {};
          for (const k of HTTP_CONFIG_UNSUPPORTED) if (hc[k] !== undefined) warn([...ip, 'http_config', k], `http_config.${k} is not supported; ${kind.name} is called without it`);
          let bad = false;
          for (const [path, message, severity] of kind.check?.(parsed.data) ?? []) {
            if (severity === 'warning') warn([...ip, ...path], message);
            else {
              err([...ip, ...path], message);
              bad = true;
            }
          }
          if (bad) return;
          const cfg = parsed.data as { send_resolved?: boolean };
          integrations.push({ kind: kind.name, sendResolved: cfg.send_resolved ?? kind.sendResolved, config: cfg, create: (ctx) => kind.create(cfg, ctx) });
        });
      }
      if (integrations.length === 0 && Object.keys(r).some((k) => k.endsWith('_configs') && receiverKind(k) === undefined)) {
        warn(p, `receiver "${name}" has no supported integration: notifications routed to it are dropped`);
      }
      receivers.set(name, { name, integrations });
    });

  const routeKeys = ['receiver', 'group_by', 'group_wait', 'group_interval', 'repeat_interval', 'matchers', 'match', 'match_re', 'continue', 'routes', 'mute_time_intervals', 'active_time_intervals'];
  const routeUnsupported = {};
  const intervalNames = (r: Obj, path: (string | number)[], key: string, isRoot: boolean): string[] => {
    const v = r[key];
    if (v === undefined) return [];
    if (isRoot) {
      err([...path, key], `the root route cannot have ${key}`);
      return [];
    }
    if (!Array.isArray(v)) {
      err([...path, key], 'must be a list of time interval names');
      return [];
    }
    return v.map(String).filter((name, i) => {
      if (timeIntervals.has(name)) return true;
      err([...path, key, i], `undefined time interval "${name}"`);
      return false;
    });
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
      muteTimeIntervals: [],
      activeTimeIntervals: [],
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
      muteTimeIntervals: intervalNames(r, path, 'mute_time_intervals', !parent),
      activeTimeIntervals: intervalNames(r, path, 'active_time_intervals', !parent),
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
  return { config: { route, receivers, inhibitRules, resolveTimeoutMs, source: text, templateFiles, templates: new NotifyTemplates(), timeIntervals }, warnings };
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
function flattenRoutes(route: Route): Route[] {
  return [route, ...route.routes.flatMap(flattenRoutes)];
}
