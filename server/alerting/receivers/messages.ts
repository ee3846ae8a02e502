/**
 * The default wording of notifications: the same content Alertmanager's default templates give
 * (its default.tmpl), written here as functions: a subject like
 * `[FIRING:2] HighLatency api (prod)`, a link to the alerts of the receiver, and a plain-text
 * list of each alert's labels, annotations and source.
 */
import type { Labels } from '../labels.js';
import type { Notification, NotifierAlert } from '../receivers.js';
import { commonOf } from '../receivers.js';

const sortedValues = (l: Labels) => Object.keys(l).sort().map((k) => l[k]);

export function status(n: Notification): 'firing' | 'resolved' {
  return n.alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved';
}

export const firing = (n: Notification): NotifierAlert[] => n.alerts.filter((a) => a.status === 'firing').map((a) => a.alert);
export const resolved = (n: Notification): NotifierAlert[] => n.alerts.filter((a) => a.status === 'resolved').map((a) => a.alert);
export const commonLabels = (n: Notification): Labels => commonOf(n.alerts.map((a) => a.alert.labels));
export const commonAnnotations = (n: Notification): Labels => commonOf(n.alerts.map((a) => a.alert.annotations));

/** `[FIRING:2] <group label values> (<other common label values>)`. */
export function subject(n: Notification): string {
  const st = status(n);
  const common = commonLabels(n);
  const extra: Labels = {};
  for (const k of Object.keys(common)) if (!(k in n.groupLabels)) extra[k] = common[k];
  let s = `[${st.toUpperCase()}${st === 'firing' ? `:${firing(n).length}` : ''}] ${sortedValues(n.groupLabels).join(' ')}`;
  if (Object.keys(common).length > Object.keys(n.groupLabels).length) s += ` (${sortedValues(extra).join(' ')})`;
  return s;
}

/** The sender's name. */
export const SENDER = 'Metronome';

/** A link to the receiver's alerts in the UI. */
export function alertsURL(n: Notification): string {
  return `${n.externalURL}/#/alerts?receiver=${encodeURIComponent(n.receiver)}`;
}

/** Each alert's labels, annotations and source, as plain text. */
export function alertList(alerts: NotifierAlert[]): string {
  let out = '';
  for (const a of alerts) {
    out += 'Labels:\n';
    for (const k of Object.keys(a.labels).sort()) out += ` - ${k} = ${a.labels[k]}\n`;
    out += 'Annotations:\n';
    for (const k of Object.keys(a.annotations).sort()) out += ` - ${k} = ${a.annotations[k]}\n`;
    out += `Source: ${a.generatorURL}\n`;
  }
  return out;
}

/** "Alerts Firing:" and "Alerts Resolved:" sections. */
export function firingResolvedText(n: Notification, heading = ''): string {
  const parts: string[] = [];
  const f = firing(n);
  const r = resolved(n);
  if (f.length) parts.push(`${heading}Alerts Firing:\n${alertList(f)}`);
  if (r.length) parts.push(`${heading}Alerts Resolved:\n${alertList(r)}`);
  return parts.join('\n');
}

/** The common annotations' values, then the firing and resolved lists (the default message of Pushover, Webex, VictorOps and SNS). */
export function annotationsAndAlerts(n: Notification): string {
  const ann = commonAnnotations(n);
  return `${Object.keys(ann).sort().map((k) => ann[k]).join(' ')}\n${firingResolvedText(n)}`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The default e-mail body as HTML: a header with the counts, then each alert's labels and annotations. */
export function emailHtml(n: Notification): string {
  const st = status(n);
  const color = st === 'firing' ? '#e45959' : '#68b90f';
  const section = (title: string, alerts: NotifierAlert[]) =>
    alerts.length === 0
      ? ''
      : `<tr><td style="padding:8px 0"><strong>${escapeHtml(title)}</strong></td></tr>` +
        alerts
          .map(
            (a) =>
              `<tr><td style="padding:4px 0 12px 0"><strong>Labels</strong><br>${Object.keys(a.labels)
                .sort()
                .map((k) => `${escapeHtml(k)} = ${escapeHtml(a.labels[k])}`)
                .join('<br>')}<br>${Object.keys(a.annotations).length ? `<strong>Annotations</strong><br>${Object.keys(a.annotations).sort().map((k) => `${escapeHtml(k)} = ${escapeHtml(a.annotations[k])}`).join('<br>')}<br>` : ''}${a.generatorURL ? `<a href="${escapeHtml(a.generatorURL)}">Source</a>` : ''}</td></tr>`,
          )
          .join('');
  return `<!DOCTYPE html>
<html><head><meta name="viewport" content="width=device-width"><meta http-equiv="Content-Type" content="text/html; charset=UTF-8"><title>${escapeHtml(subject(n))}</title></head>
<body style="font-family:Helvetica,Arial,sans-serif;font-size:14px;margin:0;padding:16px;background:#f6f6f6">
<table width="100%" cellpadding="0" cellspacing="0" style="max-width:600px;margin:0 auto;background:#fff;border:1px solid #e9e9e9;border-radius:3px">
<tr><td style="background:${color};color:#fff;padding:20px;font-size:16px">${firing(n).length} alert${firing(n).length === 1 ? '' : 's'} firing, ${resolved(n).length} resolved for ${escapeHtml(Object.entries(n.groupLabels).map(([k, v]) => `${k}=${v}`).join(' '))}</td></tr>
<tr><td style="padding:20px"><table width="100%" cellpadding="0" cellspacing="0">
<tr><td><a href="${escapeHtml(alertsURL(n))}" style="display:inline-block;padding:8px 16px;background:#348eda;color:#fff;text-decoration:none;border-radius:5px">View in ${SENDER}</a></td></tr>
${section('[FIRING] Alerts', firing(n))}${section('[RESOLVED] Alerts', resolved(n))}
</table></td></tr></table>
<p style="text-align:center;color:#999;font-size:12px">Sent by ${SENDER}</p>
</body></html>
`;
}

/** The default e-mail body as plain text. */
export function emailText(n: Notification): string {
  return `${subject(n)}\n\n${firingResolvedText(n)}\nView in ${SENDER}: ${alertsURL(n)}\n`;
}
