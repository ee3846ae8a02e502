import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers.js';
import { expandRuleFiles, loadRuleFiles, parseRuleFile, RuleFileError } from './rule-files.js';

const opts = { defaultIntervalMs: 30_000 };

// A rule file as Prometheus' documentation writes them.
const PROM_FILE = `
groups:
  - name: example
    interval: 15s
    rules:
      - record: code:prometheus_http_requests_total:sum
        expr: sum by (code) (prometheus_http_requests_total)
      - alert: HighRequestLatency
        expr: job:request_latency_seconds:mean5m{job="myjob"} > 0.5
        for: 10m
        keep_firing_for: 5m
        labels:
          severity: page
        annotations:
          summary: High request latency on {{ $labels.instance }}
          description: "{{ $value | humanizeDuration }} is too slow"
  - name: other
    rules:
      - alert: InstanceDown
        expr: up == 0
`;

describe('Prometheus rule files', () => {
  it('parses groups, intervals and rules unchanged', () => {
    const { groups, problems } = parseRuleFile('/etc/rules.yml', PROM_FILE, opts);
    expect(problems).toEqual([]);
    expect(groups.map((g) => [g.key, g.intervalMs, g.rules.length])).toEqual([
      ['/etc/rules.yml;example', 15_000, 2],
      ['/etc/rules.yml;other', 30_000, 1],
    ]);
    const [rec, alert] = groups[0].rules;
    expect(rec).toMatchObject({ kind: 'record', name: 'code:prometheus_http_requests_total:sum' });
    expect(alert).toMatchObject({ kind: 'alert', name: 'HighRequestLatency', forMs: 600_000, keepFiringForMs: 300_000, labels: { severity: 'page' }, noData: 'ok', onError: 'keep_last' });
    // Ids are stable across loads: alert state is persisted under them.
    expect(parseRuleFile('/etc/rules.yml', PROM_FILE, opts).groups[0].rules[1].id).toBe(alert.id);
  });

  it('reports every problem with its line and column', () => {
    const bad = `groups:
  - name: g
    interval: 5x
    rules:
      - alert: A
        expr: rate(x[5m)
      - record: bad name
        expr: up
      - alert: B
        expr: up
        for: 1m
        annotations:
          x: "{{ if $value }}"
        bogus: true
`;
    const { problems } = parseRuleFile('r.yml', bad, opts);
    const brief = problems.map((p) => [p.code, p.line]);
    expect(brief).toEqual([
      ['MTR_RULE_DURATION', 3],
      ['MTR_RULE_PROMQL', 6],
      ['MTR_RULE_NAME', 7],
      ['MTR_RULE_FIELD', 14],
    ]);
    expect(problems[1]).toMatchObject({ position: 9, column: 15 });
  });

  it('expands globs and fails the load listing all problems', () => {
    const dir = tempDir('metronome-rules-');
    mkdirSync(join(dir, 'team'));
    writeFileSync(join(dir, 'a.rules.yml'), PROM_FILE);
    writeFileSync(join(dir, 'team', 'b.rules.yml'), 'groups: []\n');
    writeFileSync(join(dir, 'team', 'notes.txt'), 'x');
    expect(expandRuleFiles(`${dir}/**/*.rules.yml`).files).toEqual([join(dir, 'a.rules.yml'), join(dir, 'team', 'b.rules.yml')]);
    expect(loadRuleFiles(`${dir}/*.rules.yml, ${dir}/team/b.rules.yml`, opts)).toHaveLength(2);
    writeFileSync(join(dir, 'team', 'c.rules.yml'), 'groups:\n  - name: x\n    rules:\n      - alert: A\n        expr: "up =="\n');
    let err: unknown;
    try {
      loadRuleFiles(`${dir}/team/*.yml,${dir}/missing.yml`, opts);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RuleFileError);
    expect((err as RuleFileError).message).toContain('c.rules.yml:5:15');
    expect((err as RuleFileError).problems.map((p) => p.code).sort()).toEqual(['MTR_RULE_FILE_MISSING', 'MTR_RULE_PROMQL']);
  });
});
