/**
 * The rule model: alerting and recording rules in groups, as Prometheus defines them, plus the
 * outcomes Metronome adds for no data and query errors. One validation (zod for shape, then
 * PromQL, templates and label names) serves the REST API and rule files, so a rule is accepted
 * or rejected the same way wherever it comes from.
 */
import { createHash } from 'node:crypto';
import { LABEL_NAME, METRIC_NAME } from '../../ingest/names.js';
import { z } from 'zod';
import type { Issue, IssueCode } from '../errors.js';
import { parsePromDuration } from '../time.js';
import type { Labels } from './labels.js';
import { engineCheck, type PromqlCheck } from './promql-check.js';
import { compileTemplate, TemplateError } from './template.js';
import { WORDING } from './wording.js';

/** What a rule does when its query returns nothing. `ok` is Prometheus' behaviour: alerts resolve. */
const NO_DATA_OUTCOMES = ['ok', 'alerting', 'nodata', 'keep_last'] as const;
/** What a rule does when its query fails. `keep_last` is Prometheus' behaviour: alerts stay as they were. */
const ERROR_OUTCOMES = ['ok', 'alerting', 'error', 'keep_last'] as const;
type NoDataOutcome = (typeof NO_DATA_OUTCOMES)[number];
type ErrorOutcome = (typeof ERROR_OUTCOMES)[number];

export interface AlertingRule {
  kind: 'alert';
  /** Stable identity: alert state is persisted under it. */
  id: string;
  name: string;
  expr: string;
  forMs: number;
  keepFiringForMs: number;
  labels: Labels;
  annotations: Labels;
  noData: NoDataOutcome;
  onError: ErrorOutcome;
}

export interface RecordingRule {
  kind: 'record';
  id: string;
  name: string;
  expr: string;
  labels: Labels;
}

export type Rule = AlertingRule | RecordingRule;

type RuleSource = 'api' | 'file' | 'slo';

export interface RuleGroup {
  /** Unique across sources: the state and the schedule offset hang on it. */
  key: string;
  name: string;
  /** Prometheus' `file` field: the rule file path, or "api" / "slo" for generated groups. */
  file: string;
  source: RuleSource;
  intervalMs: number;
  /** Alerts (or series) a rule may produce per evaluation; 0 = no limit. */
  limit: number;
  /** Evaluate at t - queryOffset, for late-arriving data. */
  queryOffsetMs: number;
  rules: Rule[];
}


/** A Prometheus duration (`5m`, `1h30m`, `0`) or a number of seconds, as milliseconds. */
export function parseRuleDuration(v: string | number): number | null {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.round(v * 1000) : null;
  return parsePromDuration(v.trim(), { zero: true });
}

const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = parseRuleDuration(v);
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(v)}: use a Prometheus duration like 30s, 5m, 1h30m`, params: { mtr: 'MTR_RULE_DURATION' } });
    return z.NEVER;
  }
  return ms;
});

const labelMap = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String));

/** A rule as written in a Prometheus rule file (plus Metronome's optional outcome keys). */
export const fileRuleSchema = z
  .object({
    alert: z.string().min(1).optional(),
    record: z.string().min(1).optional(),
    expr: z.union([z.string(), z.number()]).transform(String),
    for: duration.optional(),
    keep_firing_for: duration.optional(),
    labels: labelMap.optional(),
    annotations: labelMap.optional(),
    no_data_state: z.enum(NO_DATA_OUTCOMES).optional(),
    error_state: z.enum(ERROR_OUTCOMES).optional(),
  })
  .strict();

/** A rule as the REST API takes it: the file form plus its group and Metronome's conveniences. */
const apiRuleSchema = fileRuleSchema
  .extend({
    group: z.string().min(1).max(256).default('default'),
    /** The group's evaluation interval; every rule of a group must agree. */
    interval: duration.optional(),
    /** Shorthand for labels.severity. */
    severity: z.string().min(1).max(64).optional(),
    /** The service the rule belongs to; becomes labels.service. */
    service: z.string().min(1).max(256).optional(),
  })
  .strict();

export type ApiRuleSpec = z.output<typeof apiRuleSchema>;

export interface ValidateOptions {
  check?: PromqlCheck;
  /** Shortest accepted evaluation interval. */
  minIntervalMs?: number;
}

/** zod issues in our issue shape. */
export function zodIssues(err: z.ZodError, prefix: (string | number)[] = []): Issue[] {
  return err.issues.flatMap((i): Issue[] => {
    const custom = (i as { params?: { mtr?: IssueCode } }).params?.mtr;
    const path = [...prefix, ...i.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    if (i.code === 'unrecognized_keys') {
      return i.keys.map((k) => ({ code: 'MTR_RULE_FIELD', path: [...path, k], message: `unknown field ${JSON.stringify(k)}` }));
    }
    return [{ code: custom ?? 'MTR_RULE_SHAPE', path, message: i.message }];
  });
}

/**
 * Check what zod cannot: exactly one of alert/record, names, label names, PromQL, templates,
 * and fields that only alerting rules take. Returns every problem found.
 */
export function checkRule(r: z.output<typeof fileRuleSchema>, prefix: (string | number)[], opts: ValidateOptions = {}): Issue[] {
  const issues: Issue[] = [];
  const check = opts.check ?? engineCheck;
  const at = (...p: (string | number)[]) => [...prefix, ...p];
  if ((r.alert === undefined) === (r.record === undefined)) {
    issues.push({ code: 'MTR_RULE_NAME', path: prefix, message: 'a rule needs exactly one of "alert" (alerting rule) or "record" (recording rule)' });
  }
  if (r.record !== undefined && !METRIC_NAME.test(r.record)) {
    issues.push({ code: 'MTR_RULE_NAME', path: at('record'), message: `invalid metric name ${JSON.stringify(r.record)}: must match ${METRIC_NAME.source}` });
  }
  if (r.record !== undefined) {
    for (const k of ['for', 'keep_firing_for', 'annotations', 'no_data_state', 'error_state'] as const) {
      if (r[k] !== undefined) issues.push({ code: 'MTR_RULE_FIELD', path: at(k), message: `"${k}" applies to alerting rules only` });
    }
  }
  const p = check(r.expr);
  if (p) issues.push({ code: 'MTR_RULE_PROMQL', path: at('expr'), message: p.message, position: p.position });
  for (const [name, map] of [['labels', r.labels], ['annotations', r.annotations]] as const) {
    for (const [k, v] of Object.entries(map ?? {})) {
      if (!LABEL_NAME.test(k) || k.startsWith('__')) {
        issues.push({ code: 'MTR_RULE_LABEL_NAME', path: at(name, k), message: `invalid ${name === 'labels' ? 'label' : 'annotation'} name ${JSON.stringify(k)}: must match ${LABEL_NAME.source} and not start with "__"` });
      }
      if (r.alert !== undefined) {
        try {
          compileTemplate(v);
        } catch (e) {
          if (!(e instanceof TemplateError)) throw e;
          issues.push({ code: 'MTR_RULE_TEMPLATE', path: at(name, k), message: e.message, position: e.position });
        }
      } else if (v.includes('{{')) {
        issues.push({ code: 'MTR_RULE_TEMPLATE', path: at(name, k), message: 'recording rule labels are not templated' });
      }
    }
  }
  return issues;
}

/** A short stable id from parts (file rules and generated rules have no stored id). */
export function stableId(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 20);
}

/** A validated file-form rule as the evaluator's Rule. */
export function toRule(r: z.output<typeof fileRuleSchema>, id: string, extraLabels: Labels = {}): Rule {
  const labels = { ...extraLabels, ...(r.labels ?? {}) };
  if (r.record !== undefined) return { kind: 'record', id, name: r.record, expr: r.expr, labels };
  return {
    kind: 'alert',
    id,
    name: r.alert!,
    expr: r.expr,
    forMs: r.for ?? 0,
    keepFiringForMs: r.keep_firing_for ?? 0,
    labels,
    annotations: r.annotations ?? {},
    noData: r.no_data_state ?? 'ok',
    onError: r.error_state ?? 'keep_last',
  };
}

/** An API rule as the evaluator's Rule: severity and service become labels. */
export function apiToRule(spec: ApiRuleSpec, id: string): Rule {
  const extra: Labels = {};
  if (spec.severity) extra.severity = spec.severity;
  if (spec.service) extra.service = spec.service;
  return toRule(spec, id, extra);
}

/** Validate an API rule body. */
export function validateApiRule(body: unknown, opts: ValidateOptions = {}): { ok: true; spec: ApiRuleSpec } | { ok: false; issues: Issue[] } {
  const parsed = apiRuleSchema.safeParse(body, WORDING);
  if (!parsed.success) return { ok: false, issues: zodIssues(parsed.error) };
  const issues = checkRule(parsed.data, [], opts);
  const spec = parsed.data;
  if (spec.severity !== undefined && spec.labels?.severity !== undefined && spec.labels.severity !== spec.severity) {
    issues.push({ code: 'MTR_RULE_FIELD', path: ['severity'], message: 'severity and labels.severity disagree; give one' });
  }
  if (spec.record !== undefined && (spec.severity !== undefined)) {
    issues.push({ code: 'MTR_RULE_FIELD', path: ['severity'], message: '"severity" applies to alerting rules only' });
  }
  const min = opts.minIntervalMs ?? 1000;
  if (spec.interval !== undefined && spec.interval < min) {
    issues.push({ code: 'MTR_RULE_DURATION', path: ['interval'], message: `interval must be at least ${min / 1000}s` });
  }
  return issues.length ? { ok: false, issues } : { ok: true, spec };
}

/** The rule in the API's JSON shape (durations as Prometheus strings). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const units: [string, number][] = [['y', 31_536_000_000], ['w', 604_800_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]];
  let out = '';
  let rest = ms;
  for (const [u, n] of units) {
    if (rest >= n) {
      out += `${Math.floor(rest / n)}${u}`;
      rest %= n;
    }
  }
  return out;
}
