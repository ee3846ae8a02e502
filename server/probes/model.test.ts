import { describe, expect, it } from 'vitest';
import { checkTarget, parseProbe, type ProbePolicy } from './model.js';

const policy: ProbePolicy = { allowed: null, denied: null, ports: null, minIntervalMs: 5000 };

describe('a probe check', () => {
  it('gives the interval, and a timeout of the interval capped at 10 s unless the probe sets one', () => {
    expect(checkTarget({ kind: 'dns', target: 'localhost', interval: '1m30s' }, policy)).toMatchObject({ intervalMs: 90_000, timeoutMs: 10_000 });
    expect(checkTarget({ kind: 'dns', target: 'localhost', interval: '6s' }, policy)).toMatchObject({ intervalMs: 6000, timeoutMs: 6000 });
    expect(checkTarget({ kind: 'dns', target: 'localhost', interval: '1m', timeout: '1500ms' }, policy)).toMatchObject({ intervalMs: 60_000, timeoutMs: 1500 });
  });

  it('refuses a stored interval or timeout that is no duration, as one out of bounds', () => {
    const paths = (spec: { interval: string; timeout?: string }) => {
      const r = checkTarget({ kind: 'dns', target: 'localhost', ...spec }, policy);
      return 'issues' in r ? r.issues.map((i) => i.path) : [];
    };
    expect(paths({ interval: 'often' })).toEqual(['interval']);
    expect(paths({ interval: '2h' })).toEqual(['interval']);
    expect(paths({ interval: '1m', timeout: 'soon' })).toEqual(['timeout']);
    expect(paths({ interval: '1m', timeout: '2m' })).toEqual(['timeout']);
  });

  it('refuses a posted interval that is no Prometheus duration, naming the field', () => {
    const r = parseProbe({ service: 'web', kind: 'dns', target: 'localhost', interval: '30 seconds' }, policy);
    expect('issues' in r && r.issues.map((i) => [i.path, i.message])).toEqual([['interval', 'must be a duration like 15s, 1m']]);
  });
});
