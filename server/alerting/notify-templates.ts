/**
 * Notification templates: Alertmanager's `templates:` files and Go templates in receiver fields
 * (`title: '{{ template "slack.myorg.title" . }}'`), expanded with Alertmanager's template data
 * (`.Receiver`, `.Status`, `.Alerts.Firing`, `.GroupLabels`, `.CommonLabels.SortedPairs`...).
 * The default templates Alertmanager ships (`slack.default.title`, `__subject`,
 * `email.default.html`...) exist under their names, implemented in receivers/messages.ts, so a
 * config that calls them works unchanged.
 */
import { GoTemplateError, GoTime, KV, TemplateSet } from './gotemplate.js';
import type { Notification, NotifierAlert } from './receivers.js';
import { alertList, alertsURL, annotationsAndAlerts, commonAnnotations, commonLabels, emailHtml, emailText, firingResolvedText, SENDER, status, subject } from './receivers/messages.js';
import { readRegularFile } from './receivers/secret.js';

const N = Symbol('notification');
const A = Symbol('alert');

/** Alertmanager's template.Alert. */
function alertData(a: NotifierAlert, st: 'firing' | 'resolved') {
  const d = {
    Status: st,
    Labels: new KV(a.labels),
    Annotations: new KV(a.annotations),
    StartsAt: new GoTime(a.startsAt),
    EndsAt: new GoTime(st === 'resolved' ? a.endsAt : -62135596800000),
    GeneratorURL: a.generatorURL,
    Fingerprint: a.fingerprint,
  };
  Object.defineProperty(d, A, { value: a });
  return d;
}
type AlertData = ReturnType<typeof alertData>;

function alertsData(list: AlertData[]) {
  return Object.assign(list, {
    Firing: () => alertsData(list.filter((a) => a.Status === 'firing')),
    Resolved: () => alertsData(list.filter((a) => a.Status === 'resolved')),
  });
}

/** Alertmanager's template.Data for a notification. */
export function templateData(n: Notification) {
  const d = {
    Receiver: n.receiver,
    Status: status(n),
    Alerts: alertsData(n.alerts.map((x) => alertData(x.alert, x.status))),
    GroupLabels: new KV(n.groupLabels),
    CommonLabels: new KV(commonLabels(n)),
    CommonAnnotations: new KV(commonAnnotations(n)),
    ExternalURL: n.externalURL,
    GroupKey: n.groupKey,
    TruncatedAlerts: 0,
  };
  Object.defineProperty(d, N, { value: n });
  return d;
}

const notificationOf = (dot: unknown, root: unknown): Notification => {
  const n = (dot as Record<symbol, Notification> | null)?.[N] ?? (root as Record<symbol, Notification> | null)?.[N];
  if (!n) throw new GoTemplateError('this template needs the notification data (.) as its argument');
  return n;
};
const alertsOf = (dot: unknown): NotifierAlert[] => (Array.isArray(dot) ? dot.map((a) => (a as Record<symbol, NotifierAlert>)[A]).filter(Boolean) : []);

/** The default templates, by the names Alertmanager gives them. */
function addDefaults(set: TemplateSet): void {
  const nat = (name: string, f: (n: Notification) => string) => set.natives.set(name, (dot, root) => f(notificationOf(dot, root)));
  set.natives.set('__alertmanager', () => SENDER);
  nat('__alertmanagerURL', alertsURL);
  nat('__subject', subject);
  set.natives.set('__description', () => '');
  set.natives.set('__text_alert_list', (dot) => alertList(alertsOf(dot)));
  nat('slack.default.title', subject);
  set.natives.set('slack.default.username', () => SENDER);
  nat('slack.default.fallback', (n) => `${subject(n)} | ${alertsURL(n)}`);
  for (const k of ['callbackid', 'pretext', 'iconemoji', 'iconurl', 'text', 'footer']) set.natives.set(`slack.default.${k}`, () => '');
  nat('slack.default.titlelink', alertsURL);
  nat('pagerduty.default.description', subject);
  set.natives.set('pagerduty.default.client', () => SENDER);
  nat('pagerduty.default.clientURL', alertsURL);
  set.natives.set('pagerduty.default.instances', (dot) => alertList(alertsOf(dot)));
  nat('opsgenie.default.message', subject);
  nat('opsgenie.default.description', (n) => firingResolvedText(n));
  nat('opsgenie.default.source', alertsURL);
  nat('email.default.subject', subject);
  nat('email.default.html', emailHtml);
  nat('email.default.text', emailText);
  for (const p of ['msteams', 'msteamsv2']) {
    nat(`${p}.default.title`, subject);
    nat(`${p}.default.summary`, subject);
    nat(`${p}.default.text`, (n) => firingResolvedText(n, '# '));
  }
  nat('telegram.default.message', (n) => firingResolvedText(n));
  for (const p of ['webex', 'pushover']) nat(`${p}.default.message`, annotationsAndAlerts);
  nat('victorops.default.state_message', annotationsAndAlerts);
  nat('victorops.default.entity_display_name', subject);
  set.natives.set('victorops.default.monitoring_tool', () => SENDER);
  nat('pushover.default.title', subject);
  nat('pushover.default.url', alertsURL);
  set.natives.set('discord.default.content', () => '');
  nat('discord.default.title', subject);
  nat('discord.default.message', (n) => firingResolvedText(n));
}

/** The templates of one notification config: defaults, then the `templates:` files. */
export class NotifyTemplates {
  readonly set = new TemplateSet();
  readonly #fields = new Map<string, ReturnType<TemplateSet['parse']>>();

  constructor() {
    addDefaults(this.set);
  }

  /** Check a receiver field's template text (syntax only: the set's files are not loaded yet). */
  static check(text: string): string | null {
    try {
      new TemplateSet().parse(text);
      return null;
    } catch (e) {
      if (e instanceof GoTemplateError) return e.message;
      throw e;
    }
  }

  /** Expand a receiver field for a notification; an error becomes the text, so the notification still goes out. */
  expand(text: string, n: Notification, html = false): string {
    try {
      let nodes = this.#fields.get(text);
      if (!nodes) {
        nodes = new TemplateSet().parse(text);
        this.#fields.set(text, nodes);
      }
      return this.set.execute(nodes, templateData(n), { html });
    } catch (e) {
      if (e instanceof GoTemplateError) return `<error expanding template: ${e.message}>`;
      throw e;
    }
  }
}

/** The largest template file read. */
const MAX_TEMPLATE_FILE = 1024 * 1024;

/** Load template files (read asynchronously, regular files only); problems as `file:line:column: message`. */
export async function loadTemplateFiles(files: string[]): Promise<{ templates: NotifyTemplates; problems: { file: string; message: string }[] }> {
  const templates = new NotifyTemplates();
  const problems: { file: string; message: string }[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = await readRegularFile(f, MAX_TEMPLATE_FILE);
    } catch (e) {
      problems.push({ file: f, message: (e as Error).message });
      continue;
    }
    try {
      templates.set.parse(text, f);
    } catch (e) {
      if (e instanceof GoTemplateError) problems.push({ file: f, message: e.message });
      else throw e;
    }
  }
  return { templates, problems };
}
