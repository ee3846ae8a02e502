import { formatValue } from '../chart/units.js';

/** Grafana unit ids (what imported panels carry) onto the UI's units; others format as numbers. */
const GRAFANA_UNITS: Record<string, string> = { s: 'seconds', ms: 'milliseconds', Bps: 'bytesps', decbytes: 'bytes', bits: 'short', none: 'short', 'reqps': 'reqps', 'ops': 'ops', percent: 'percent', percentunit: 'percentunit', bytes: 'bytes', short: 'short', seconds: 'seconds', milliseconds: 'milliseconds', bytesps: 'bytesps', cores: 'cores' };

export function uiUnit(unit: string | undefined): string {
  return (unit && GRAFANA_UNITS[unit]) || 'short';
}

export function formatPanelValue(v: number | null, options: { unit?: string; decimals?: number }): string {
  if (v !== null && options.decimals !== undefined && uiUnit(options.unit) === 'short') return v.toFixed(options.decimals);
  return formatValue(v, uiUnit(options.unit));
}

/** The colour of the highest threshold step at or below v (steps ascend; the first is the base). */
export function thresholdColor(v: number | null, steps: { value: number | null; color: string }[] | undefined): string | undefined {
  if (v === null || !steps?.length) return undefined;
  let c: string | undefined;
  for (const s of steps) if (s.value === null || v >= s.value) c = s.color;
  return c;
}

/** One number from a series' values (unix-second pairs as strings), by the panel's reducer. */
export function reduceValues(values: readonly [number, string][], how: string | undefined): number | null {
  const xs = values.map((v) => Number(v[1])).filter((x) => Number.isFinite(x));
  if (!xs.length) return null;
  switch (how) {
    case 'mean':
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    case 'max':
      return Math.max(...xs);
    case 'min':
      return Math.min(...xs);
    case 'sum':
      return xs.reduce((a, b) => a + b, 0);
    default:
      return xs[xs.length - 1];
  }
}
