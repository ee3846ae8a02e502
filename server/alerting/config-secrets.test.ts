import { describe, expect, it } from 'vitest';
import { maskSecrets, restoreSecrets } from './config-secrets.js';

const CONFIG = `global:
  slack_api_url: https://hooks.slack.invalid/T0/B0/abc
  smtp_auth_password: smtp-pass
receivers:
  - name: web
    webhook_configs:
      - url: http://hook.invalid/token123
        http_config:
          basic_auth: { username: u, password: p4ss }
          authorization: { credentials: bearer-x }
  - name: pd
    pagerduty_configs: [{ routing_key: rk-1 }]
    slack_configs: [{ api_url: https://hooks.slack.invalid/x, channel: '#ops' }]
    telegram_configs: [{ bot_token: 123:abc, chat_id: 42 }]
route: { receiver: web }
`;

describe('credentials in the notification config', () => {
  it('shows every credential as <secret> and nothing else changed', () => {
    const masked = maskSecrets(CONFIG);
    for (const s of ['abc', 'smtp-pass', 'token123', 'p4ss', 'bearer-x', 'rk-1', 'hooks.slack.invalid/x', '123:abc']) expect(masked).not.toContain(s);
    expect(masked.match(/<secret>/g)).toHaveLength(8);
    expect(masked).toContain("channel: '#ops'");
    expect(masked).toContain('username: u');
    expect(masked).toContain('chat_id: 42');
  });

  it('keeps the stored value where a new config says <secret>, matching receivers by name', () => {
    // The reader's copy, with the receivers swapped and one value changed.
    const masked = maskSecrets(CONFIG).replace("channel: '#ops'", "channel: '#oncall'");
    const start = masked.indexOf('  - name: web');
    const mid = masked.indexOf('  - name: pd');
    const end = masked.indexOf('route:');
    const swapped = masked.slice(0, start) + masked.slice(mid, end) + masked.slice(start, mid) + masked.slice(end);
    expect(swapped.indexOf('name: pd')).toBeLessThan(swapped.indexOf('name: web'));
    const { yaml, problems } = restoreSecrets(swapped, CONFIG);
    expect(problems).toEqual([]);
    expect(yaml).toContain('routing_key: rk-1');
    expect(yaml).toContain('url: http://hook.invalid/token123');
    expect(yaml).toContain('password: p4ss');
    expect(yaml).toContain("channel: '#oncall'");
    expect(yaml).not.toContain('<secret>');
  });

  it('refuses <secret> where no credential was stored', () => {
    const { problems } = restoreSecrets(CONFIG.replace('name: pd', 'name: pager').replace('rk-1', '<secret>'), CONFIG);
    expect(problems.map((p) => p.path)).toEqual(['receivers[name=pager].pagerduty_configs[0].routing_key']);
  });
});
