/**
 * E-mail over SMTP (nodemailer): STARTTLS (required by default, as Alertmanager's require_tls),
 * implicit TLS on port 465, AUTH PLAIN/LOGIN, a text and an HTML part. A 4xx SMTP answer or a
 * lost connection is retried; a 5xx answer is final.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Notification } from '../../receivers.js';
import { defineReceiver, expandValue, templateErrors, textField } from '../kind.js';
import { emailHtml, emailText, subject } from '../messages.js';
import { resolveSecret } from '../secret.js';

const tlsConfig = z.strictObject({
  insecure_skip_verify: z.boolean().optional(),
  ca_file: z.string().optional(),
  server_name: z.string().optional(),
  cert_file: z.string().optional(),
  key_file: z.string().optional(),
  min_version: z.string().optional(),
  max_version: z.string().optional(),
});

const emailSchema = z.strictObject({
  send_resolved: z.boolean().optional(),
  to: z.string(),
  from: z.string().optional(),
  smarthost: z.string().optional(),
  hello: z.string().optional(),
  auth_username: z.string().optional(),
  auth_password: z.string().optional(),
  auth_password_file: z.string().optional(),
  auth_secret: z.string().optional(),
  auth_secret_file: z.string().optional(),
  auth_identity: z.string().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  html: z.string().optional(),
  text: z.string().optional(),
  require_tls: z.boolean().optional(),
  tls_config: tlsConfig.optional(),
  force_implicit_tls: z.boolean().optional(),
});
type EmailConfig = z.infer<typeof emailSchema>;

/** host:port as Go's net.SplitHostPort takes it ([v6]:port too). */
function splitHostPort(s: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(s);
  return m ? { host: m[1] ?? m[2], port: Number(m[3]) } : null;
}

/** The message: headers from the config, a subject, a text and an HTML part. */
function emailMessage(c: EmailConfig, n: Notification) {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(c.headers ?? {})) headers[k.toLowerCase()] = expandValue(v, n);
  const subj = headers.subject ?? subject(n);
  const from = headers.from ?? expandValue(c.from, n);
  const to = headers.to ?? expandValue(c.to, n);
  for (const k of ['subject', 'from', 'to']) delete headers[k];
  return {
    from,
    to,
    subject: subj,
    text: textField(c.text, emailText)(n),
    html: textField(c.html, emailHtml, true)(n),
    headers,
  };
}

export const email = defineReceiver({
  key: 'email_configs',
  name: 'email',
  sendResolved: false,
  globals: {
    smtp_from: 'from',
    smtp_hello: 'hello',
    smtp_smarthost: 'smarthost',
    smtp_auth_username: 'auth_username',
    smtp_auth_password: 'auth_password',
    smtp_auth_password_file: 'auth_password_file',
    smtp_auth_secret: 'auth_secret',
    smtp_auth_identity: 'auth_identity',
    smtp_require_tls: 'require_tls',
    smtp_tls_config: 'tls_config',
    smtp_force_implicit_tls: 'force_implicit_tls',
  },
  schema: emailSchema,
  check(c) {
    const out = templateErrors(c, ['to', 'from', 'html', 'text', 'headers']);
    if (!c.smarthost) out.push([['smarthost'], 'give smarthost (host:port) here or as global.smtp_smarthost']);
    else if (!splitHostPort(c.smarthost)) out.push([['smarthost'], `invalid smarthost ${JSON.stringify(c.smarthost)}: use host:port`]);
    if (!c.from && !c.headers?.From) out.push([['from'], 'give from here or as global.smtp_from']);
    if (c.auth_secret !== undefined || c.auth_secret_file !== undefined) out.push([['auth_secret'], 'CRAM-MD5 (auth_secret) is not supported: the server is logged in to with auth_username/auth_password only', 'warning']);
    for (const k of ['cert_file', 'key_file', 'min_version', 'max_version'] as const) if (c.tls_config?.[k] !== undefined) out.push([['tls_config', k], `tls_config.${k} is not supported for e-mail`, 'warning']);
    return out;
  },
  create(c) {
    const hp = splitHostPort(c.smarthost ?? '')!;
    return {
      kind: 'email',
      sendResolved: c.send_resolved ?? false,
      async send(n) {
        let pass: string | undefined;
        let ca: string | undefined;
        try {
          pass = await resolveSecret(c.auth_password, c.auth_password_file);
          ca = c.tls_config?.ca_file ? await readFile(c.tls_config.ca_file, 'utf8') : undefined;
        } catch (e) {
          return { ok: false, retry: false, error: `email: ${(e as Error).message}` };
        }
        const implicit = c.force_implicit_tls ?? hp.port === 465;
        // Loaded on first use: a server that sends no e-mail does not pay for the SMTP client at start.
        const nodemailer = (await import('nodemailer')).default;
        const transport = nodemailer.createTransport({
          host: hp.host,
          port: hp.port,
          secure: implicit,
          requireTLS: !implicit && c.require_tls !== false,
          ignoreTLS: !implicit && c.require_tls === false,
          name: c.hello ?? 'localhost',
          auth: c.auth_username ? { user: c.auth_username, pass: pass ?? '' } : undefined,
          tls: { rejectUnauthorized: !c.tls_config?.insecure_skip_verify, servername: c.tls_config?.server_name, ca },
          connectionTimeout: 10_000,
          greetingTimeout: 10_000,
          socketTimeout: 30_000,
        });
        try {
          await transport.sendMail(emailMessage(c, n));
          return { ok: true, retry: false };
        } catch (e) {
          const code = (e as { responseCode?: number }).responseCode;
          return { ok: false, retry: code === undefined || code < 500, error: `email via ${c.smarthost}: ${(e as Error).message}` };
        } finally {
          transport.close();
        }
      },
    };
  },
});
