import { z } from 'zod';
import type { Issue } from '../errors.js';

/**
 * The service and dashboard documents: what POST /api/v1/services and PUT .../dashboard accept,
 * and what the generator produces. The web UI keeps a copy of these types (web/src/api/services.ts).
 */

export const SERVICE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const DURATION = /^\d+[mhdw]$/;

const sloSchema = z
  .object({
    /** Target fraction of good events, e.g. 0.999. */
    objective: z.number().gt(0, 'must be a fraction above 0, e.g. 0.999').lt(1, 'must be a fraction below 1, e.g. 0.999'),
    /** Compliance window as a PromQL duration in minutes, hours, days or weeks. */
    window: z.string().regex(DURATION, 'must be a duration like 30d, 4w or 24h').default('30d'),
    /** availability: good = not a server error; latency: good = faster than latencyThreshold. */
    indicator: z.enum(['availability', 'latency']).default('availability'),
    /** Seconds; must be a histogram bucket boundary (le) of the latency histogram. */
    latencyThreshold: z.number().positive().optional(),
  })
  .strict()
  .refine((s) => s.indicator !== 'latency' || s.latencyThreshold !== undefined, {
    message: 'latencyThreshold (seconds) is required for a latency SLO',
    path: ['latencyThreshold'],
  });

export type Slo = z.infer<typeof sloSchema>;

export const serviceSchema = z
  .object({
    name: z.string().regex(SERVICE_NAME, 'must start with a letter or digit and hold only letters, digits, _ . - (at most 128)'),
    owner: z
      .object({
        team: z.string().trim().min(1, 'must not be empty').max(128),
        /** How to reach them: an e-mail, a chat channel, a pager rotation. */
        contact: z.string().trim().max(256).optional(),
      })
      .strict()
      .optional(),
    description: z.string().max(2000).optional(),
    tier: z.enum(['critical', 'high', 'medium', 'low']).optional(),
    /** Named links, e.g. {"runbook": "https://...", "repository": "https://..."}. */
    links: z
      .record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9_ -]{0,63}$/, 'link names are short words'), z.string().url().max(2048))
      .refine((r) => Object.keys(r).length <= 20, 'at most 20 links')
      .optional(),
    slo: sloSchema.optional(),
  })
  .strict();

export type ServiceDef = z.infer<typeof serviceSchema>;

// ---- Dashboards ----

const UNITS = ['short', 'reqps', 'ops', 'percentunit', 'percent', 'seconds', 'milliseconds', 'bytes', 'bytesps', 'cores'] as const;
export type Unit = (typeof UNITS)[number];

const thresholdSchema = z
  .object({
    value: z.number(),
    severity: z.enum(['warning', 'critical']),
    /** Which side is bad: above (default) or below the value. */
    direction: z.enum(['above', 'below']).default('above'),
  })
  .strict();

export type Threshold = z.infer<typeof thresholdSchema>;

const querySchema = z
  .object({
    expr: z.string().min(1).max(10_000),
    /** Legend template, e.g. "{{route}} {{code}}". */
    legend: z.string().max(256).optional(),
  })
  .strict();

export type PanelQuery = z.infer<typeof querySchema>;

const panelSchema = z
  .object({
    id: z.string().regex(/^[a-zA-Z0-9_.-]{1,128}$/),
    title: z.string().min(1).max(200),
    description: z.string().max(2000).optional(),
    /** timeseries: a graph over the range; stat: one big number at the end of the range. */
    kind: z.enum(['timeseries', 'stat']).default('timeseries'),
    queries: z.array(querySchema).min(1).max(20),
    unit: z.enum(UNITS).default('short'),
    thresholds: z.array(thresholdSchema).max(10).optional(),
    /** Grid columns out of 12. */
    width: z.number().int().min(1).max(12).default(6),
    stacked: z.boolean().optional(),
    min: z.number().optional(),
    max: z.number().optional(),
  })
  .strict();

export type Panel = z.infer<typeof panelSchema>;

const rowSchema = z
  .object({
    title: z.string().min(1).max(200),
    collapsed: z.boolean().optional(),
    panels: z.array(panelSchema).max(100),
  })
  .strict();

export type Row = z.infer<typeof rowSchema>;

export const dashboardSchema = z
  .object({
    version: z.literal(1).default(1),
    service: z.string(),
    title: z.string().min(1).max(200),
    /** Metric families the dashboard was built from (lets a saved copy see what is new). */
    families: z.array(z.string()).max(5000).default([]),
    rows: z.array(rowSchema).min(1).max(50),
  })
  .strip();

export type Dashboard = z.infer<typeof dashboardSchema>;

/** A dashboard as served: the document plus where it came from. */
export interface ServedDashboard extends Dashboard {
  source: 'generated' | 'saved';
  /** When saved: families the service sends now that the saved copy does not cover. */
  newFamilies?: string[];
  updatedAt?: number;
}

/** zod issues as catalogue issues, the path as text (`panels.0.query`, `(body)`), as these APIs have always sent it. */
export function issuesOf(err: z.ZodError): Issue[] {
  return err.issues.map((i) => ({ path: i.path.map(String).join('.') || '(body)', message: i.message }));
}
