import { z } from 'zod';
import { PANEL_KINDS, PANEL_KIND_NAMES } from './panel-kinds.js';

/**
 * The dashboard document of the library (/api/v1/dashboards), also what DASHBOARDS_DIR files
 * hold and what Grafana JSON imports to. The grid has 24 columns, as Grafana's.
 */

export const DASHBOARD_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.:-]{0,127}$/;
const VAR_NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/;
const DURATION = /^(\d+(ms|s|m|h|d|w))+$/;

const common = {
  name: z.string().regex(VAR_NAME, 'must be an identifier (letters, digits, _), used as $name in queries'),
  label: z.string().max(200).optional(),
  /** The value(s) selected when the URL names none. */
  current: z.array(z.string().max(1000)).max(1000).optional(),
  hide: z.boolean().optional(),
};
const choice = { multi: z.boolean().optional(), includeAll: z.boolean().optional(), allValue: z.string().max(1000).optional() };

const variableSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('query'),
      ...common,
      ...choice,
      /** label_values(label) or label_values(<series selector>, label); may use other $variables. */
      query: z.string().regex(/^\s*label_values\(\s*(.+,\s*)?[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$/, 'must be label_values(label) or label_values(selector, label)'),
      /** Keep only values this regex (JavaScript syntax) matches. */
      regex: z.string().max(1000).optional(),
    })
    .strict(),
  z.object({ type: z.literal('custom'), ...common, ...choice, options: z.array(z.string().max(1000)).min(1).max(1000) }).strict(),
  z
    .object({
      type: z.literal('interval'),
      ...common,
      options: z.array(z.string().regex(DURATION, 'must be a duration like 1m or 1h')).min(1).max(50),
    })
    .strict(),
  z.object({ type: z.literal('text'), ...common }).strict(),
]);

export type Variable = z.infer<typeof variableSchema>;

const querySchema = z
  .object({
    expr: z.string().min(1).max(10_000),
    /** Legend template, e.g. "{{route}} {{code}}". */
    legend: z.string().max(256).optional(),
    refId: z.string().max(32).optional(),
    /** Kept but not run (Grafana's disabled queries). */
    hide: z.boolean().optional(),
  })
  .strict();

const gridPos = z
  .object({
    x: z.number().int().min(0).max(23),
    y: z.number().int().min(0).max(100_000),
    w: z.number().int().min(1).max(24),
    h: z.number().int().min(1).max(100),
  })
  .strict()
  .refine((g) => g.w > 24 || g.x + g.w <= 24, { message: 'x + w must be at most 24 (the grid has 24 columns)', path: ['w'] });

const panelSchema = z
  .object({
    id: z.string().regex(/^[a-zA-Z0-9_.-]{1,128}$/).optional(),
    kind: z.enum(PANEL_KIND_NAMES),
    title: z.string().max(200).default(''),
    description: z.string().max(4000).optional(),
    queries: z.array(querySchema).max(26).default([]),
    options: z.record(z.string(), z.unknown()).default({}),
    gridPos,
  })
  .strict()
  .superRefine((p, ctx) => {
    // Each kind owns its options schema; issues point at panels.N.options.<field>.
    const r = PANEL_KINDS[p.kind].options.safeParse(p.options);
    if (!r.success) for (const i of r.error.issues) ctx.addIssue({ code: 'custom', message: i.message, path: ['options', ...i.path.map((x) => (typeof x === 'symbol' ? String(x) : x))] });
    else p.options = r.data as Record<string, unknown>;
    if (p.kind !== 'text' && p.kind !== 'row' && p.queries.length === 0) ctx.addIssue({ code: 'custom', message: `a ${p.kind} panel needs at least one query`, path: ['queries'] });
  });

export type DashboardPanel = z.infer<typeof panelSchema>;

export const dashboardDocSchema = z
  .object({
    id: z.string().regex(DASHBOARD_ID, 'must start with a letter or digit and hold only letters, digits, _ . : - (at most 128)').optional(),
    title: z.string().trim().min(1, 'must not be empty').max(200),
    folder: z.string().trim().min(1).max(200).default('General'),
    tags: z.array(z.string().trim().min(1).max(64)).max(50).default([]),
    description: z.string().max(4000).optional(),
    variables: z
      .array(variableSchema)
      .max(50)
      .default([])
      .superRefine((vs, ctx) => {
        const seen = new Set<string>();
        vs.forEach((v, i) => {
          if (seen.has(v.name)) ctx.addIssue({ code: 'custom', message: `variable ${v.name} is defined twice`, path: [i, 'name'] });
          seen.add(v.name);
        });
      }),
    panels: z.array(panelSchema).max(500).default([]),
    /** Which derived annotations the dashboard draws, and for which service. */
    annotations: z
      .object({ alerts: z.boolean().default(true), deploys: z.boolean().default(true), manual: z.boolean().default(true), service: z.string().max(128).optional() })
      .strict()
      .default({ alerts: true, deploys: true, manual: true }),
    /** Default time range, e.g. {from: 'now-6h', to: 'now'}. */
    time: z.object({ from: z.string().max(64), to: z.string().max(64) }).strict().optional(),
    refresh: z.string().max(16).optional(),
  })
  .strict();

export type DashboardDoc = z.infer<typeof dashboardDocSchema>;

/** A dashboard as the API serves it. */
export interface StoredDashboard extends DashboardDoc {
  id: string;
  /** library: stored by the API; file: provisioned from DASHBOARDS_DIR (read-only); generated: a service's. */
  source: 'library' | 'file' | 'generated';
  updatedAt?: number;
  /** file: the path it was read from. */
  file?: string;
}
