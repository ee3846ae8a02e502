/**
 * The server's refusals in words, for every alerting form (rules, silences, proposed alerts, test
 * notifications): each validation issue becomes a sentence that names the field as the form
 * labels it ("Pending for must be …"), and statuses without issues (401/403, 404, 429, 503, a
 * network failure) get a sentence saying what to do, never a JSON dump.
 */
import { ApiError } from '../../api/client.js';

export type Path = (string | number)[];
/** Names a field as the form shows it, or undefined to fall back to the generic names. */
export type FieldNamer = (path: Path) => string | undefined;

export interface Issue {
  path: Path;
  message: string;
  position?: number;
}

const capital = (s: string) => (s ? s[0].toUpperCase() + s.slice(1) : s);
const sentence = (s: string) => (/[.!?)]$/.test(s) ? s : `${s}.`);
/** The server words issues as "must …", "is required", "needs …": these read on after the field's name. */
const CONTINUES = /^(must|is|are|needs|may|has|cannot|can't|should|applies|give|unknown field)\b/;

/** One issue as a sentence: `Pending for must be a whole number.`, `Matcher 2: unexpected "}".` */
export function issueSentence(i: Issue, name: FieldNamer): string {
  const field = name(i.path) ?? genericField(i.path);
  if (!field) return sentence(capital(i.message));
  return sentence(CONTINUES.test(i.message) ? `${capital(field)} ${i.message}` : `${capital(field)}: ${i.message}`);
}

/** A path the form does not name: "labels.team" -> `label "team"`, ["matchers", 0] -> "matcher 1". */
export function genericField(path: Path): string {
  if (path.length === 0) return '';
  const [head, key, ...rest] = path;
  if (head === 'labels' && key !== undefined) return `label "${key}"`;
  if (head === 'annotations' && key !== undefined) return `annotation "${key}"`;
  if (typeof key === 'number') return `${String(head).replace(/s$/, '')} ${key + 1}${rest.length ? ` (${rest.join('.')})` : ''}`;
  return path.map(String).join('.').replace(/_/g, ' ');
}

/** The issues a refusal carries (MTR_*_INVALID), or none. The notification config keys them by a path string. */
export function issuesOf(err: unknown): Issue[] {
  if (!(err instanceof ApiError)) return [];
  const list = err.details?.issues;
  if (!Array.isArray(list)) return [];
  return list
    .filter((i): i is { path: unknown; message: string } => !!i && typeof i === 'object' && typeof (i as { message?: unknown }).message === 'string')
    .map((i) => ({ ...(i as Issue), path: Array.isArray(i.path) ? (i.path as Path) : typeof i.path === 'string' && i.path ? i.path.split('.') : [] }));
}

/** Why a request failed, in sentences: one per issue, or one for the status. */
export function refusal(err: unknown, name: FieldNamer = () => undefined): string[] {
  const issues = issuesOf(err);
  if (issues.length) return issues.map((i) => issueSentence(i, name));
  if (err instanceof ApiError) {
    if (err.status === 401 || err.status === 403) return ['Not allowed: this change needs an API token with the admin scope.'];
    if (err.status === 429) return ['The server is busy (too many requests). Try again in a few seconds.'];
    if (err.code === 'MTR_ALERTING_UNAVAILABLE') return ['Alerting is not running on this server, so nothing was changed.'];
    if (err.code === 'MTR_CLUSTER_NOT_LEADER') return [sentence(capital(err.message))];
    if (err.status >= 500) return [`The server could not do this (${err.status}). Try again; if it keeps failing, the server's log says why.`];
    // Catalogue messages are sentences already ("no receiver named x in the notification config").
    return [sentence(capital(err.message.replace(/^the \w+( \w+)? is invalid: /, '')))];
  }
  if (err instanceof TypeError) return ['Could not reach the server. Check the connection and try again.'];
  return [sentence(capital((err as Error)?.message ?? String(err)))];
}

/** Field names of the rule form (web/src/pages/alerts/RuleEdit.tsx) and of proposed rules. */
export const ruleField: FieldNamer = (path) => {
  const [head, key] = path;
  const top: Record<string, string> = {
    alert: 'alert name',
    record: 'recorded metric name',
    expr: 'expression',
    for: '"pending for"',
    keep_firing_for: '"keep firing for"',
    group: 'group',
    interval: 'evaluation interval',
    severity: 'severity',
    service: 'service',
    no_data_state: '"when the query returns nothing"',
    error_state: '"when the query fails"',
    alerts: 'alert',
  };
  if (path.length === 1 && typeof head === 'string') return top[head];
  if (head === 'labels' && key === 'severity') return 'severity';
  if (head === 'labels' && key === 'service') return 'service';
  const ann: Record<string, string> = { summary: 'summary', description: 'description', runbook_url: 'runbook URL' };
  if (head === 'annotations' && typeof key === 'string' && ann[key]) return ann[key];
  if (head === 'alerts' && typeof key === 'number') return `alert ${key + 1}`;
  return undefined;
};

/** Field names of the silence form. */
export const silenceField: FieldNamer = (path) => {
  const [head, idx, ...rest] = path;
  if (head === 'matchers' && typeof idx === 'number') return `matcher ${idx + 1}${rest.length ? ` (${rest.join('.')})` : ''}`;
  const names: Record<string, string> = { matchers: 'matchers', endsAt: 'end time', startsAt: 'start time', createdBy: '"created by"', comment: 'comment', duration: 'duration', id: 'silence' };
  return path.length <= 1 ? names[String(head)] : undefined;
};
