/**
 * SLOs as rules: for an objective over a compliance window and an SLI (errors/total or
 * good/total), generate the recording rules and the multiwindow, multi-burn-rate alerts of the
 * Google SRE workbook (chapter 5, "Alerting on SLOs", approach 6):
 *   page:   burn rate 14.4 over 1h and 5m, or 6 over 6h and 30m
 *   ticket: burn rate 3 over 1d and 2h, or 1 over 3d and 6h
 * plus the error budget remaining over the window as a series. A burn rate of 1 spends exactly
 * the budget over the window; the short window makes the alert stop soon after the burn stops.
 */
import { z } from 'zod';
import type { Issue } from '../errors.js';
import type { Labels } from './labels.js';
import { engineCheck, type PromqlCheck } from './promql-check.js';
import { parseRuleDuration, stableId, type Rule, type RuleGroup } from './rules.js';
import { WORDING } from './wording.js';

/** [severity, long window, short window, burn rate] as the workbook tabulates them. */
const BURN_WINDOWS: readonly [string, string, string, number][] = [
  ['page', '1h', '5m', 14.4],
  ['page', '6h', '30m', 6],
  ['ticket', '1d', '2h', 3],
  ['ticket', '3d', '6h', 1],
];

const RATE_WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'];
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

const sloSchema = z
  .object({
    /** Identifies the SLO; the `slo` label of every generated series and alert. */
    name: z.string().regex(NAME, 'must start with a letter or digit and hold only letters, digits, _ . - (at most 128)'),
    service: z.string().min(1).max(256),
    /** Target fraction of good events, e.g. 0.9995 for 99.95 %. */
    objective: z.number().gt(0, 'must be a fraction above 0, e.g. 0.999').lt(1, 'must be a fraction below 1, e.g. 0.999'),
    /** Compliance window for the error budget. */
    window: z.string().default('30d'),
    /**
     * The SLI. Each is a counter selector (wrapped as sum(rate(X[w]))) or a PromQL expression
     * using `$window` where the range goes. Default: the service's http_requests_total, 5xx as errors.
     */
    sli: z
      .object({ errors: z.string().min(1).optional(), good: z.string().min(1).optional(), total: z.string().min(1) })
      .strict()
      .optional(),
    /** Evaluation interval of the generated rules. */
    interval: z.union([z.string(), z.number()]).optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .strict();

export type SloSpec = z.output<typeof sloSchema>;

/** A counter selector is wrapped in sum(rate(...)); an expression with $window is used as given. */
function windowed(expr: string, w: string): string {
  if (expr.includes('$window')) return expr.replaceAll('$window', w);
  return `sum(rate(${expr}[${w}]))`;
}

function quote(v: string): string {
  return JSON.stringify(v);
}

/** The SLI's error ratio over a window, as PromQL. */
function errorRatioExpr(spec: SloSpec, w: string): string {
  const sli = spec.sli ?? {
    errors: `http_requests_total{service=${quote(spec.service)},code=~"5.."}`,
    total: `http_requests_total{service=${quote(spec.service)}}`,
  };
  const total = windowed(sli.total, w);
  // No error series yet means no errors, not no data.
  if (sli.errors) return `(${windowed(sli.errors, w)} or vector(0)) / ${total}`;
  return `1 - (${windowed(sli.good!, w)} / ${total})`;
}

/** Check an SLO; every problem at once. */
export function validateSlo(body: unknown, check: PromqlCheck = engineCheck): { ok: true; spec: SloSpec } | { ok: false; issues: Issue[] } {
  const parsed = sloSchema.safeParse(body, WORDING);
  if (!parsed.success) {
    return { ok: false, issues: parsed.error.issues.map((i) => ({ code: 'MTR_SLO_SHAPE', path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)), message: i.message })) };
  }
  const spec = parsed.data;
  const issues: Issue[] = [];
  const win = parseRuleDuration(spec.window);
  if (win === null || win < 3_600_000) issues.push({ code: 'MTR_SLO_WINDOW', path: ['window'], message: `invalid window ${JSON.stringify(spec.window)}: a duration of at least 1h, like 30d or 4w` });
  if (spec.sli && (spec.sli.errors === undefined) === (spec.sli.good === undefined)) {
    issues.push({ code: 'MTR_SLO_SLI', path: ['sli'], message: 'give exactly one of sli.errors or sli.good, with sli.total' });
  }
  if (spec.interval !== undefined) {
    const iv = parseRuleDuration(spec.interval);
    if (iv === null || iv < 1000) issues.push({ code: 'MTR_SLO_INTERVAL', path: ['interval'], message: 'interval must be a duration of at least 1s' });
  }
  if (issues.length === 0 && spec.sli) {
    for (const k of ['errors', 'good', 'total'] as const) {
      const e = spec.sli[k];
      if (e === undefined) continue;
      const p = check(windowed(e, '5m'));
      if (p) issues.push({ code: 'MTR_SLO_SLI', path: ['sli', k], message: p.message, position: e.includes('$window') ? p.position : Math.max(0, p.position - 'sum(rate('.length) });
    }
  }
  return issues.length ? { ok: false, issues } : { ok: true, spec };
}

/**
 * The rule group of one SLO: error-ratio recording rules per window, objective and budget
 * series, then the page and ticket burn-rate alerts (they read the recordings, so the evaluator
 * runs them after).
 */
export function sloRuleGroup(id: string, spec: SloSpec, defaultIntervalMs: number): RuleGroup {
  const labels: Labels = { ...(spec.labels ?? {}), slo: spec.name, service: spec.service };
  const budget = +(1 - spec.objective).toPrecision(12);
  const sel = `{slo=${quote(spec.name)},service=${quote(spec.service)}}`;
  const ratio = (w: string) => `slo:sli_error:ratio_rate${w}`;
  const rid = (...p: string[]) => stableId('slo', id, ...p);
  const rules: Rule[] = [];
  const windows = [...new Set([...RATE_WINDOWS, spec.window])];
  for (const w of windows) rules.push({ kind: 'record', id: rid('ratio', w), name: ratio(w), expr: errorRatioExpr(spec, w), labels });
  rules.push({ kind: 'record', id: rid('objective'), name: 'slo:objective:ratio', expr: `vector(${spec.objective})`, labels });
  rules.push({
    kind: 'record',
    id: rid('budget'),
    name: 'slo:error_budget_remaining:ratio',
    expr: `1 - (${ratio(spec.window)}${sel} / ${budget})`,
    labels,
  });
  for (const severity of ['page', 'ticket']) {
    const conds = BURN_WINDOWS.filter(([s]) => s === severity).map(([, long, short, burn]) => {
      const limit = +(burn * budget).toPrecision(12);
      return `(${ratio(long)}${sel} > ${limit} and ${ratio(short)}${sel} > ${limit})`;
    });
    const pairs = BURN_WINDOWS.filter(([s]) => s === severity)
      .map(([, l, s, b]) => `${b}x over ${l} and ${s}`)
      .join(', or ');
    rules.push({
      kind: 'alert',
      id: rid('alert', severity),
      name: 'SLOErrorBudgetBurn',
      expr: conds.join(' or '),
      forMs: 0,
      keepFiringForMs: 0,
      labels: { ...labels, severity },
      annotations: {
        summary: `${spec.service}: SLO ${spec.name} burns its error budget too fast`,
        description: `The error ratio is {{ $value | humanizePercentage }}, more than the ${severity} threshold (burn rate ${pairs}) for a ${(spec.objective * 100).toPrecision(6).replace(/\.?0+$/, '')}% objective over ${spec.window}.`,
        ...(spec.annotations ?? {}),
      },
      noData: 'ok',
      onError: 'keep_last',
    });
  }
  const iv = spec.interval === undefined ? defaultIntervalMs : (parseRuleDuration(spec.interval) ?? defaultIntervalMs);
  return { key: `slo/${id}`, name: `slo:${spec.name}`, file: 'slo', source: 'slo', intervalMs: iv, limit: 0, queryOffsetMs: 0, rules };
}
