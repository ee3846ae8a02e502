import { describe, expect, it } from 'vitest';
import type { AlertingRule } from './rules.js';
import { restoreAlerts, RuleAlerts, RESOLVED_RETENTION_MS, type RuleResult } from './state.js';

const rule = (over: Partial<AlertingRule> = {}): AlertingRule => ({
  kind: 'alert',
  id: 'r1',
  name: 'HighErrors',
  expr: 'errors > 1',
  forMs: 60_000,
  keepFiringForMs: 0,
  labels: { severity: 'page' },
  annotations: { summary: '{{ $labels.instance }} at {{ $value }}' },
  noData: 'ok',
  onError: 'keep_last',
  ...over,
});

const hit = (v = 5, instance = 'a'): RuleResult => ({ ok: true, samples: [{ labels: { __name__: 'errors', instance }, t: 0, v }] });
const none: RuleResult = { ok: true, samples: [] };
const T = 1_700_000_000_000;

describe('alert state machine', () => {
  it('goes pending, then firing once `for` has elapsed, then resolved', () => {
    const st = new RuleAlerts(rule());
    let o = st.eval(T, hit());
    expect(o.transitions.map((t) => [t.from, t.to])).toEqual([['inactive', 'pending']]);
    const [a] = st.list();
    expect(a.labels).toEqual({ instance: 'a', severity: 'page', alertname: 'HighErrors' });
    expect(a.annotations.summary).toBe('a at 5');
    expect(st.eval(T + 30_000, hit()).transitions).toEqual([]);
    o = st.eval(T + 60_000, hit(7));
    expect(o.transitions.map((t) => t.to)).toEqual(['firing']);
    expect(st.list()[0]).toMatchObject({ state: 'firing', activeAt: T, firedAt: T + 60_000, value: 7 });
    o = st.eval(T + 90_000, none);
    expect(o.transitions.map((t) => [t.from, t.to])).toEqual([['firing', 'resolved']]);
    expect(st.toNotify()).toHaveLength(1);
    // Kept for the resolved retention, then forgotten.
    st.eval(T + 90_000 + RESOLVED_RETENTION_MS, none);
    expect(st.list()).toHaveLength(1);
    o = st.eval(T + 91_000 + RESOLVED_RETENTION_MS, none);
    expect(o.dropped).toHaveLength(1);
    expect(st.list()).toHaveLength(0);
  });

  it('does not fire when the condition flaps inside `for`', () => {
    const st = new RuleAlerts(rule());
    for (let i = 0; i < 10; i++) {
      const o = st.eval(T + i * 30_000, i % 2 === 0 ? hit() : none);
      expect(o.transitions.every((t) => t.to !== 'firing')).toBe(true);
    }
    expect(st.list()).toHaveLength(0);
  });

  it('fires on the first evaluation when `for` is zero', () => {
    const st = new RuleAlerts(rule({ forMs: 0 }));
    expect(st.eval(T, hit()).transitions.map((t) => t.to)).toEqual(['pending', 'firing']);
  });

  it('keeps firing for keep_firing_for after the condition clears, and resets when it returns', () => {
    const st = new RuleAlerts(rule({ forMs: 0, keepFiringForMs: 120_000 }));
    st.eval(T, hit());
    expect(st.eval(T + 30_000, none).transitions).toEqual([]);
    expect(st.list()[0]).toMatchObject({ state: 'firing', keepFiringSince: T + 30_000 });
    st.eval(T + 60_000, hit());
    expect(st.list()[0].keepFiringSince).toBe(0);
    st.eval(T + 90_000, none);
    expect(st.eval(T + 180_000, none).transitions).toEqual([]);
    expect(st.eval(T + 210_000, none).transitions.map((t) => t.to)).toEqual(['resolved']);
  });

  it('makes one alert per label set and rejects duplicates after labelling', () => {
    const st = new RuleAlerts(rule({ forMs: 0 }));
    st.eval(T, { ok: true, samples: [{ labels: { instance: 'a' }, t: 0, v: 2 }, { labels: { instance: 'b' }, t: 0, v: 3 }] });
    expect(st.list().map((a) => a.labels.instance).sort()).toEqual(['a', 'b']);
    const dup = new RuleAlerts(rule({ labels: { instance: 'x' } }));
    const o = dup.eval(T, { ok: true, samples: [{ labels: { instance: 'a' }, t: 0, v: 2 }, { labels: { instance: 'b' }, t: 0, v: 3 }] });
    expect(o.error).toMatch(/same labelset/);
  });

  it('applies the no-data outcome', () => {
    const nodata = new RuleAlerts(rule({ forMs: 30_000, noData: 'nodata' }));
    expect(nodata.eval(T, none).transitions.map((t) => t.to)).toEqual(['pending']);
    expect(nodata.eval(T + 30_000, none).transitions.map((t) => t.to)).toEqual(['nodata']);
    expect(nodata.list()[0].labels).toMatchObject({ alertname: 'DatasourceNoData', rulename: 'HighErrors', severity: 'page' });
    // Data returns: the synthetic alert resolves.
    expect(nodata.eval(T + 60_000, hit()).transitions.map((t) => `${t.labels.alertname}:${t.to}`).sort()).toEqual(['DatasourceNoData:resolved', 'HighErrors:pending']);

    const alerting = new RuleAlerts(rule({ forMs: 0, noData: 'alerting' }));
    alerting.eval(T, none);
    expect(alerting.list()[0]).toMatchObject({ state: 'firing', labels: { alertname: 'HighErrors', severity: 'page' } });

    const keep = new RuleAlerts(rule({ forMs: 0, noData: 'keep_last' }));
    keep.eval(T, hit());
    expect(keep.eval(T + 30_000, none).transitions).toEqual([]);
    expect(keep.list()[0].state).toBe('firing');
  });

  it('applies the error outcome', () => {
    const err: RuleResult = { ok: false, error: 'query timed out' };
    const keep = new RuleAlerts(rule({ forMs: 0 }));
    keep.eval(T, hit());
    const o = keep.eval(T + 30_000, err);
    expect(o.error).toBe('query timed out');
    expect(keep.list()[0].state).toBe('firing');

    const ok = new RuleAlerts(rule({ forMs: 0, onError: 'ok' }));
    ok.eval(T, hit());
    expect(ok.eval(T + 30_000, err).transitions.map((t) => t.to)).toEqual(['resolved']);

    const error = new RuleAlerts(rule({ forMs: 0, onError: 'error' }));
    error.eval(T, hit());
    const e = error.eval(T + 30_000, err);
    expect(e.transitions.map((t) => `${t.labels.alertname}:${t.to}`)).toEqual(['DatasourceError:pending', 'DatasourceError:error']);
    // The rule's real alert is left as it was.
    expect(error.list().find((a) => a.labels.alertname === 'HighErrors')?.state).toBe('firing');
    expect(error.list().find((a) => a.reason === 'error')?.annotations.Error).toBe('query timed out');
  });

  it('drops every alert of a rule over its group limit', () => {
    const st = new RuleAlerts(rule({ forMs: 0 }));
    const o = st.eval(T, { ok: true, samples: ['a', 'b', 'c'].map((i) => ({ labels: { instance: i }, t: 0, v: 1 })) }, { limit: 2 });
    expect(o.error).toBe('exceeded limit of 2 with 3 alerts');
    expect(st.list()).toHaveLength(0);
  });
});

describe('restoring alerts after a restart', () => {
  const opts = { forGracePeriodMs: 60_000, outageToleranceMs: 3_600_000 };

  it('shifts a pending alert by the downtime, as Prometheus restores `for`', () => {
    const before = new RuleAlerts(rule({ forMs: 600_000 }));
    before.eval(T, hit());
    before.eval(T + 240_000, hit());
    const after = new RuleAlerts(rule({ forMs: 600_000 }));
    // Down at T+240s, back at T+300s: 60 s of downtime do not count toward `for`.
    restoreAlerts(after, before.list(), T + 240_000, T + 300_000, opts);
    expect(after.list()[0].activeAt).toBe(T + 60_000);
    expect(after.eval(T + 630_000, hit()).transitions).toEqual([]);
    expect(after.eval(T + 660_000, hit()).transitions.map((t) => t.to)).toEqual(['firing']);
  });

  it('gives an alert close to firing at least the grace period', () => {
    const before = new RuleAlerts(rule({ forMs: 600_000 }));
    before.eval(T, hit());
    const after = new RuleAlerts(rule({ forMs: 600_000 }));
    restoreAlerts(after, before.list(), T + 590_000, T + 590_000, opts);
    expect(after.list()[0].activeAt).toBe(T + 590_000 + 60_000 - 600_000);
  });

  it('forgets pending alerts after a long outage or when `for` is below the grace period', () => {
    const before = new RuleAlerts(rule({ forMs: 600_000 }));
    before.eval(T, hit());
    const long = new RuleAlerts(rule({ forMs: 600_000 }));
    restoreAlerts(long, before.list(), T, T + 2 * 3_600_000, opts);
    expect(long.list()).toHaveLength(0);
    const short = new RuleAlerts(rule({ forMs: 30_000 }));
    restoreAlerts(short, before.list(), T, T + 1000, opts);
    expect(short.list()).toHaveLength(0);
  });

  it('brings back firing alerts as firing, so they are not announced as new', () => {
    const before = new RuleAlerts(rule({ forMs: 0 }));
    before.eval(T, hit());
    const after = new RuleAlerts(rule({ forMs: 0 }));
    restoreAlerts(after, before.list(), T, T + 5000, opts);
    expect(after.eval(T + 5000, hit()).transitions).toEqual([]);
    expect(after.eval(T + 10_000, none).transitions.map((t) => t.to)).toEqual(['resolved']);
  });
});
