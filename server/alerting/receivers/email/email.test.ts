import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allResolved, integrationsOf, sampleNotification, signal } from '../testing.js';

/** A real SMTP server with STARTTLS (smtp-server's built-in test certificate) and AUTH. */
let server: SMTPServer;
let port = 0;
const mails: { from: string; to: string[]; user?: string; secure: boolean; mail: ParsedMail }[] = [];
let failNext = 0;

beforeAll(async () => {
  server = new SMTPServer({
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, _session, cb) {
      if (auth.username === 'alerts' && auth.password === 's3cret') cb(null, { user: auth.username });
      else cb(new Error('Invalid username or password'));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', async () => {
        if (failNext > 0) {
          failNext--;
          const e = new Error('mailbox busy') as Error & { responseCode: number };
          e.responseCode = 451;
          return cb(e);
        }
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          user: session.user as string | undefined,
          secure: session.secure,
          mail: await simpleParser(Buffer.concat(chunks)),
        });
        cb();
      });
    },
    logger: false,
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const global = () => `  smtp_smarthost: 127.0.0.1:${port}\n  smtp_from: metronome@example.com\n  smtp_auth_username: alerts\n  smtp_auth_password: s3cret\n  smtp_tls_config: { insecure_skip_verify: true }`;

describe('email', () => {
  it('delivers over STARTTLS with AUTH, a subject, a text and an HTML part', async () => {
    const [e] = integrationsOf(`    email_configs: [{ to: 'oncall@example.com, sre@example.com', headers: { X-Team: api } }]`, global());
    expect(e.sendResolved).toBe(false);
    expect(await e.send(sampleNotification(), signal())).toEqual({ ok: true, retry: false });
    const m = mails.at(-1)!;
    expect(m).toMatchObject({ from: 'metronome@example.com', to: ['oncall@example.com', 'sre@example.com'], user: 'alerts', secure: true });
    expect(m.mail.subject).toBe('[FIRING:2] HighLatency (api page)');
    expect(m.mail.headers.get('x-team')).toBe('api');
    expect(m.mail.text).toContain('Alerts Firing:\nLabels:\n - alertname = HighLatency');
    expect(m.mail.text).toContain('View in Metronome: http://metronome:8080/#/alerts?receiver=team-api');
    expect(m.mail.html).toContain('2 alerts firing, 1 resolved');
    expect(m.mail.html).toContain('instance = web-1:9100');
    await e.send(allResolved(), signal());
    expect(mails.at(-1)!.mail.subject).toBe('[RESOLVED] HighLatency (api page)');
  });

  it('retries a 4xx SMTP answer and fails at once on bad credentials', async () => {
    const [e] = integrationsOf(`    email_configs: [{ to: oncall@example.com }]`, global());
    failNext = 1;
    expect(await e.send(sampleNotification(), signal())).toMatchObject({ ok: false, retry: true, error: expect.stringContaining('451') });
    const [bad] = integrationsOf(`    email_configs: [{ to: oncall@example.com, auth_password: wrong }]`, global());
    expect(await bad.send(sampleNotification(), signal())).toMatchObject({ ok: false, retry: false, error: expect.stringContaining('535') });
  });

  it('refuses plain text when STARTTLS is required and the server lacks it', async () => {
    const plain = new SMTPServer({ disabledCommands: ['STARTTLS', 'AUTH'], logger: false, onData: (s, _x, cb) => s.on('end', () => cb()).resume() });
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', () => r()));
    try {
      const p = (plain.server.address() as AddressInfo).port;
      const [e] = integrationsOf(`    email_configs: [{ to: a@example.com, from: m@example.com, smarthost: '127.0.0.1:${p}' }]`);
      const r = await e.send(sampleNotification(), signal());
      expect(r.ok).toBe(false);
      const [ok] = integrationsOf(`    email_configs: [{ to: a@example.com, from: m@example.com, smarthost: '127.0.0.1:${p}', require_tls: false }]`);
      expect(await ok.send(sampleNotification(), signal())).toEqual({ ok: true, retry: false });
    } finally {
      await new Promise<void>((r) => plain.close(() => r()));
    }
  });

  it('needs a smarthost and a sender', () => {
    expect(() => integrationsOf(`    email_configs: [{ to: a@example.com }]`)).toThrow(/smarthost: give smarthost.*\n.*from: give from/);
  });
});
