import { z } from 'zod';

/**
 * Panel kinds: one entry each, with the options it accepts (zod, strict, so a typo is named) and
 * the Grafana panel types it converts from and to. Adding a kind touches this table and one UI
 * module (web/src/panels/<kind>.tsx); the dashboard schema and the Grafana converter loop over it.
 */

const threshold = z.object({ value: z.number().nullable(), color: z.string().min(1).max(64) }).strict();

/** Options every kind that draws numbers shares. */
const numeric = {
  /** Grafana unit id (bytes, s, percent, percentunit, reqps, short, ...). */
  unit: z.string().max(64).optional(),
  decimals: z.number().int().min(0).max(10).optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  /** Steps from low to high; the first has value null (the base colour). */
  thresholds: z.array(threshold).max(20).optional(),
};

export const PANEL_KINDS = {
  timeseries: {
    grafana: ['timeseries', 'graph'],
    options: z
      .object({
        ...numeric,
        stacking: z.enum(['none', 'normal', 'percent']).optional(),
        /** Fixed colours by series name (legend text), e.g. from Grafana byName overrides. */
        seriesColors: z.record(z.string().max(500), z.string().max(64)).optional(),
        fillOpacity: z.number().min(0).max(100).optional(),
        lineWidth: z.number().min(0).max(10).optional(),
        legend: z.enum(['list', 'table', 'hidden']).optional(),
      })
      .strict(),
  },
  stat: {
    grafana: ['stat', 'singlestat'],
    options: z.object({ ...numeric, reduce: z.enum(['last', 'mean', 'max', 'min', 'sum']).optional(), sparkline: z.boolean().optional() }).strict(),
  },
  gauge: {
    grafana: ['gauge'],
    options: z.object({ ...numeric, reduce: z.enum(['last', 'mean', 'max', 'min', 'sum']).optional() }).strict(),
  },
  bargauge: {
    grafana: ['bargauge'],
    options: z
      .object({ ...numeric, reduce: z.enum(['last', 'mean', 'max', 'min', 'sum']).optional(), orientation: z.enum(['horizontal', 'vertical']).optional() })
      .strict(),
  },
  table: {
    grafana: ['table', 'table-old'],
    options: z.object({ ...numeric, columns: z.array(z.string().max(200)).max(100).optional() }).strict(),
  },
  heatmap: {
    grafana: ['heatmap'],
    /** Queries return Prometheus histogram buckets (one series per `le`), drawn as cells. */
    options: z.object({ unit: z.string().max(64).optional(), scheme: z.enum(['blues', 'oranges', 'spectral']).optional() }).strict(),
  },
  /** A full-width header; panels below it (up to the next row) belong to it. */
  row: {
    grafana: ['row'],
    options: z.object({ collapsed: z.boolean().optional() }).strict(),
  },
  text: {
    grafana: ['text'],
    options: z.object({ mode: z.enum(['markdown', 'html', 'plain']).default('markdown'), content: z.string().max(100_000).default('') }).strict(),
  },
} as const;

export type PanelKind = keyof typeof PANEL_KINDS;
export const PANEL_KIND_NAMES = Object.keys(PANEL_KINDS) as [PanelKind, ...PanelKind[]];

/** Our kind for a Grafana panel type, or undefined when none converts. */
export function kindForGrafana(type: string): PanelKind | undefined {
  return PANEL_KIND_NAMES.find((k) => (PANEL_KINDS[k].grafana as readonly string[]).includes(type));
}

/** The Grafana panel type a kind exports as. */
export function grafanaTypeOf(kind: PanelKind): string {
  return PANEL_KINDS[kind].grafana[0];
}
