/**
 * Time ranges as the URL holds them ("now-6h" .. "now", or absolute unix milliseconds), the
 * query step for a range, and the dashboard variables ($__rate_interval) expanded from it.
 */

export interface RangeSpec {
  from: string;
  to: string;
}

export interface Resolved {
  /** Unix milliseconds. */
  start: number;
  end: number;
}

export const PRESETS: { from: string; label: string }[] = [
  { from: 'now-15m', label: 'Last 15 minutes' },
  { from: 'now-1h', label: 'Last 1 hour' },
  { from: 'now-3h', label: 'Last 3 hours' },
  { from: 'now-6h', label: 'Last 6 hours' },
  { from: 'now-12h', label: 'Last 12 hours' },
  { from: 'now-24h', label: 'Last 24 hours' },
  { from: 'now-2d', label: 'Last 2 days' },
  { from: 'now-7d', label: 'Last 7 days' },
  { from: 'now-30d', label: 'Last 30 days' },
];

export const DEFAULT_RANGE: RangeSpec = { from: 'now-1h', to: 'now' };

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parse "now", "now-15m", "now-2d", unix ms digits or an ISO date; null when none of these. */
export function parseTimeSpec(s: string, now: number): number | null {
  const v = s.trim();
  if (v === 'now') return now;
  const rel = /^now-(\d+)([smhdw])$/.exec(v);
  if (rel) return now - Number(rel[1]) * UNIT_MS[rel[2]];
  if (/^\d{10,14}$/.test(v)) return Number(v);
  if (/^\d{4}-\d{2}-\d{2}/.test(v)) {
    const t = Date.parse(v);
    return Number.isFinite(t) ? t : null;
  }
  return null;
}

/** Resolve a range against `now`; an unreadable or inverted range falls back to the last hour. */
export function resolveRange(spec: RangeSpec, now: number): Resolved {
  const start = parseTimeSpec(spec.from, now);
  const end = parseTimeSpec(spec.to, now);
  if (start === null || end === null || start >= end) return { start: now - 3_600_000, end: now };
  return { start, end };
}

/** True when the range follows the clock (auto-refresh makes sense). */
export function isRelative(spec: RangeSpec): boolean {
  return spec.to === 'now' && spec.from.startsWith('now');
}

const NICE_STEPS = [10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

/**
 * A query step (seconds) giving about `points` samples over the range, rounded up to a nice
 * value and never below `minStep` (the scrape interval: finer steps only repeat samples).
 */
export function chooseStep(startMs: number, endMs: number, points = 400, minStep = 10): number {
  const raw = Math.max((endMs - startMs) / 1000 / Math.max(points, 1), minStep);
  return NICE_STEPS.find((s) => s >= raw) ?? Math.ceil(raw / 86400) * 86400;
}

/**
 * The grid a range query is asked on: start aligned down to a multiple of the step, so that a
 * refresh lands on the same timestamps and lines do not shimmer.
 */
export function queryGrid(r: Resolved, step: number): { start: number; end: number; step: number } {
  const start = Math.floor(r.start / 1000 / step) * step;
  const end = Math.floor(r.end / 1000);
  return { start, end: Math.max(end, start), step };
}

/** Grafana's $__rate_interval: long enough for a rate to see several samples at any step. */
export function rateInterval(step: number, scrape = 15): number {
  return Math.max(step + scrape, 4 * scrape);
}

/** Expand the dashboard variables in a PromQL expression. */
export function expandVariables(expr: string, vars: { step: number; rangeSec: number }): string {
  return expr
    .replaceAll('$__rate_interval', `${rateInterval(vars.step)}s`)
    .replaceAll('$__interval', `${vars.step}s`)
    .replaceAll('$__range', `${Math.max(1, Math.round(vars.rangeSec))}s`);
}

/** A label for the picker button: the preset's name or the absolute span. */
export function describeRange(spec: RangeSpec, now = Date.now()): string {
  if (spec.to === 'now') {
    const p = PRESETS.find((x) => x.from === spec.from);
    if (p) return p.label;
    const m = /^now-(\d+)([smhdw])$/.exec(spec.from);
    if (m) return `Last ${m[1]}${m[2]}`;
  }
  const r = resolveRange(spec, now);
  return `${formatDateTime(r.start)} → ${formatDateTime(r.end)}`;
}

/** Local "YYYY-MM-DD HH:MM" for a unix ms time. */
export function formatDateTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** A zoomed selection (seconds) as an absolute range spec. */
export function zoomSpec(minSec: number, maxSec: number): RangeSpec {
  return { from: String(Math.round(minSec * 1000)), to: String(Math.round(maxSec * 1000)) };
}
