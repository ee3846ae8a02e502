import { describe, expect, it } from 'vitest';
import { fingerprint, matchesAll, MatcherError, parseMatchers } from './labels.js';

describe('labels', () => {
  it('fingerprints a label set as Alertmanager does, independent of order', () => {
    // FNV-1a 64 of the empty set is the offset basis.
    expect(fingerprint({})).toBe('cbf29ce484222325');
    expect(fingerprint({ a: '1', b: '2' })).toBe(fingerprint({ b: '2', a: '1' }));
    expect(fingerprint({ a: '1', b: '2' })).not.toBe(fingerprint({ a: '12' }));
    expect(fingerprint({ alertname: 'X' })).toMatch(/^[0-9a-f]{16}$/);
  });

  it('parses Alertmanager matchers and applies them', () => {
    const ms = parseMatchers('{alertname="HighLatency", severity=~"page|critical", team!=ops, env!~"dev.*"}');
    expect(ms).toEqual([
      { name: 'alertname', op: '=', value: 'HighLatency' },
      { name: 'severity', op: '=~', value: 'page|critical' },
      { name: 'team', op: '!=', value: 'ops' },
      { name: 'env', op: '!~', value: 'dev.*' },
    ]);
    expect(matchesAll(ms, { alertname: 'HighLatency', severity: 'page', env: 'prod' })).toBe(true);
    expect(matchesAll(ms, { alertname: 'HighLatency', severity: 'pager', env: 'prod' })).toBe(false);
    expect(matchesAll(ms, { alertname: 'HighLatency', severity: 'page', env: 'dev1' })).toBe(false);
  });

  it('reports where a matcher is malformed', () => {
    expect(() => parseMatchers('a="1", b')).toThrow(MatcherError);
    try {
      parseMatchers('a="1", b');
    } catch (e) {
      expect((e as MatcherError).position).toBe(8);
    }
    expect(() => parseMatchers('a=~"("')).toThrow(/invalid regular expression/);
  });
});
