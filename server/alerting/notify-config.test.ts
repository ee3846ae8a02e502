import { describe, expect, it } from 'vitest';
import { DEFAULT_NOTIFY_CONFIG, matchRoutes, NotifyConfigError, parseNotifyConfig } from './notify-config.js';

const CONFIG = `
route:
  receiver: default
  group_by: [alertname]
  group_wait: 45s
  routes:
    - matchers: ['team="db"']
      receiver: db
      group_by: ['...']
      routes:
        - match_re: { severity: 'page|critical' }
          receiver: db-pager
          repeat_interval: 1h
    - matchers: ['severity="page"']
      receiver: pager
      continue: true
    - match: { severity: page }
      receiver: audit
receivers:
  - name: default
    log_configs: [{}]
  - name: db
    webhook_configs: [{ url: 'http://db.example/hook', send_resolved: false, max_alerts: 10, http_config: { basic_auth: { username: u, password: p } } }]
  - name: db-pager
    webhook_configs: [{ url: 'http://pager.example/db' }]
  - name: pager
    webhook_configs: [{ url: 'http://pager.example/all' }]
  - name: audit
    log_configs: [{ level: warn, send_resolved: false }]
`;

describe('Alertmanager-format notification config', () => {
  it('builds the route tree with inherited settings and Alertmanager route keys', () => {
    const { config, warnings } = parseNotifyConfig(CONFIG);
    expect(warnings).toEqual([]);
    const [db, pager, audit] = config.route.routes;
    expect(db).toMatchObject({ receiver: 'db', groupBy: null, groupWaitMs: 45_000, groupIntervalMs: 300_000, repeatIntervalMs: 4 * 3_600_000, key: '{}/{team="db"}' });
    expect(db.routes[0]).toMatchObject({ receiver: 'db-pager', groupBy: null, repeatIntervalMs: 3_600_000, key: '{}/{team="db"}/{severity=~"page|critical"}' });
    expect(pager.continue).toBe(true);
    expect(audit.matchers).toEqual([{ name: 'severity', op: '=', value: 'page' }]);
    const dbHook = config.receivers.get('db')!.integrations[0];
    expect(dbHook).toMatchObject({ kind: 'webhook', sendResolved: false, config: { url: 'http://db.example/hook', max_alerts: 10, http_config: { basic_auth: { username: 'u', password: 'p' } } } });
  });

  it('routes like Alertmanager: deepest match, first match unless continue', () => {
    const { config } = parseNotifyConfig(CONFIG);
    const to = (labels: Record<string, string>) => matchRoutes(config.route, labels).map((r) => r.receiver);
    expect(to({ alertname: 'A' })).toEqual(['default']);
    expect(to({ team: 'db', severity: 'warning' })).toEqual(['db']);
    expect(to({ team: 'db', severity: 'critical' })).toEqual(['db-pager']);
    // The db route matched and does not continue: the page routes are not tried.
    expect(to({ team: 'db', severity: 'page' })).toEqual(['db-pager']);
    expect(to({ team: 'web', severity: 'page' })).toEqual(['pager', 'audit']);
  });

  it('lists every error with its path and line', () => {
    let err: unknown;
    try {
      parseNotifyConfig('route:\n  receiver: missing\n  matchers: ["a=1"]\n  group_wait: 5 minutes\n  routes:\n    - matchers: ["b=~\\"(\\""]\nreceivers:\n  - name: x\n    webhook_configs: [{}]\n');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NotifyConfigError);
    const problems = (err as NotifyConfigError).problems.map((p) => [p.path, p.line]);
    expect(problems).toEqual([
      ['receivers[0].webhook_configs[0].url', 9],
      ['route.matchers', 3],
      ['route.receiver', 2],
      ['route.group_wait', 4],
      ['route.routes[0].matchers[0]', 6],
    ]);
  });

  it('reads durations as Alertmanager does: "0" in a route, compound terms in a receiver, the bad value quoted', () => {
    const { config } = parseNotifyConfig(
      "route:\n  receiver: r\n  group_wait: '0'\n  group_interval: 1h30m\nreceivers:\n  - name: r\n    webhook_configs: [{ url: 'http://a/', timeout: 1m30s }]\n    pushover_configs: [{ user_key: u, token: t, retry: 90s, expire: 2h }]\n",
    );
    expect(config.route).toMatchObject({ groupWaitMs: 0, groupIntervalMs: 5_400_000 });
    expect(config.receivers.get('r')!.integrations.map((i) => i.config)).toMatchObject([{ timeout: 90_000 }, { retry: 90_000, expire: 7_200_000 }]);
    let err: unknown;
    try {
      parseNotifyConfig("route: { receiver: r }\nreceivers:\n  - name: r\n    webhook_configs: [{ url: 'http://a/', timeout: 10 sec }]\n");
    } catch (e) {
      err = e;
    }
    expect((err as NotifyConfigError).problems.map((p) => [p.path, p.message])).toEqual([
      ['receivers[0].webhook_configs[0].timeout', 'invalid duration "10 sec": use a duration like 10s, 1m or 1h30m'],
    ]);
  });

  it('parses its own default', () => {
    const { config } = parseNotifyConfig(DEFAULT_NOTIFY_CONFIG);
    expect(config.route.receiver).toBe('log');
    expect(config.receivers.get('log')!.integrations).toMatchObject([{ kind: 'log', sendResolved: true, config: {} }]);
  });
});

describe('stock configs', () => {
  it("load kube-prometheus' alertmanager.yaml (recent and older releases) with no warning", async () => {
    const { readFileSync } = await import('node:fs');
    for (const f of ['kube-prometheus-alertmanager.yaml', 'kube-prometheus-alertmanager-old.yaml']) {
      const { config, warnings } = parseNotifyConfig(readFileSync(new URL(`../../test/fixtures/${f}`, import.meta.url), 'utf8'));
      expect(warnings, f).toEqual([]);
      expect(config.route.repeatIntervalMs, f).toBe(12 * 3_600_000);
    }
    const { config } = parseNotifyConfig(readFileSync(new URL('../../test/fixtures/kube-prometheus-alertmanager.yaml', import.meta.url), 'utf8'));
    expect(matchRoutes(config.route, { alertname: 'Watchdog', severity: 'none' }).map((r) => r.receiver)).toEqual(['Watchdog']);
    expect(matchRoutes(config.route, { alertname: 'KubePodCrashLooping', severity: 'critical' }).map((r) => r.receiver)).toEqual(['Critical']);
    expect(config.inhibitRules[0].target).toEqual([{ name: 'severity', op: '=~', value: 'warning|info' }]);
  });
});

describe('receivers added after the first release', () => {
  const text = `global:
  victorops_api_key: vo-key
  webex_api_url: https://webex.invalid/v1/messages
route: { receiver: chat, routes: [{ matchers: ['severity="page"'], receiver: pager }] }
receivers:
  - name: chat
    discord_configs: [{ webhook_url: 'https://discord.invalid/api/webhooks/1/t0k' }]
    webex_configs: [{ room_id: r1, http_config: { authorization: { credentials: wx-token } } }]
  - name: pager
    pushover_configs: [{ user_key: po-user, token: po-token, priority: '1' }]
    victorops_configs: [{ routing_key: ops }]
`;

  it('route discord, webex, pushover and victorops configs with no warning', () => {
    const { config, warnings } = parseNotifyConfig(text);
    expect(warnings).toEqual([]);
    expect(config.receivers.get('chat')!.integrations.map((i) => i.kind)).toEqual(['discord', 'webex']);
    expect(config.receivers.get('pager')!.integrations.map((i) => i.kind)).toEqual(['pushover', 'victorops']);
    expect(config.receivers.get('pager')!.integrations[1].config).toMatchObject({ api_key: 'vo-key', routing_key: 'ops' });
  });

  it('show their credentials as <secret>', async () => {
    const { maskSecrets } = await import('./config-secrets.js');
    const masked = maskSecrets(text);
    for (const s of ['vo-key', 't0k', 'wx-token', 'po-user', 'po-token']) expect(masked).not.toContain(s);
    expect(masked).toContain('room_id: r1');
  });
});
