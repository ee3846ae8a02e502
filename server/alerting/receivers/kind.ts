/** What every receiver integration is made of (see registry.ts for the table of them). */
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Integration, Notification } from '../receivers.js';
import { NotifyTemplates } from '../notify-templates.js';
import { parsePromDuration } from '../../time.js';
import { httpConfigSchema } from './http.js';

export interface IntegrationContext {
  log: Logger;
}

/** A problem found after the schema passed: where (relative to the config entry) and what. */
export type CheckIssue = [path: (string | number)[], message: string, severity?: 'warning'];

export interface ReceiverKind<C = unknown> {
  /** The receiver field, e.g. "slack_configs". */
  key: string;
  /** The integration's name in logs, metrics and the notification log, e.g. "slack". */
  name: string;
  /** send_resolved when the config does not say (each Alertmanager integration has its own). */
  sendResolved: boolean;
  /** Fields defaulted from `global:` (global key -> field of this config). */
  globals?: Record<string, string>;
  schema: z.ZodType<C>;
  check?(cfg: C): CheckIssue[];
  create(cfg: C, ctx: IntegrationContext): Integration;
}

/** Define a kind with its config type inferred from the schema. */
export function defineReceiver<S extends z.ZodType>(k: Omit<ReceiverKind<z.infer<S>>, 'schema'> & { schema: S }): ReceiverKind {
  return k as unknown as ReceiverKind;
}

/** Fields every integration has. */
export const commonFields = {
  send_resolved: z.boolean().optional(),
  http_config: httpConfigSchema.optional(),
};

/** A Prometheus duration ("10s", "1m") as milliseconds (server/time.ts parses it). */
export const durationMs = z.string().transform((s, ctx) => {
  const ms = parsePromDuration(s);
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(s)}: use a duration like 10s, 1m or 1h30m` });
    return z.NEVER;
  }
  return ms;
});


/**
 * A text field of a message: the configured text (a Go template when it holds `{{`, expanded
 * with the notification's data and the config's templates), or the default content.
 */
export function textField(value: string | undefined, def: (n: Notification) => string, html = false): (n: Notification) => string {
  if (value === undefined) return def;
  if (!value.includes('{{')) return () => value;
  return (n) => (n.templates ? n.templates.expand(value, n, html) : def(n));
}

/** Expand one configured value (no default: empty when unset). */
export const expandValue = (value: string | undefined, n: Notification, html = false): string => textField(value, () => '', html)(n);

/** Syntax errors of the fields that are Go templates (checked when the config is loaded). */
export function templateErrors(cfg: Record<string, unknown>, fields: string[]): CheckIssue[] {
  const out: CheckIssue[] = [];
  const check = (path: (string | number)[], v: unknown) => {
    if (typeof v !== 'string' || !v.includes('{{')) return;
    const problem = NotifyTemplates.check(v);
    if (problem) out.push([path, `invalid template: ${problem}`]);
  };
  for (const f of fields) {
    const v = cfg[f];
    if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) check([f, k], x);
    else check([f], v);
  }
  return out;
}

/** Truncate to at most n characters, marking the cut with "…" as Alertmanager does. */
export function truncate(s: string, n: number): string {
  const chars = [...s];
  return chars.length <= n ? s : `${chars.slice(0, n - 1).join('')}…`;
}
