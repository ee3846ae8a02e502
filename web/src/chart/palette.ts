/**
 * Series colours: mid-saturation hues that keep contrast on both the light and the dark
 * background, ordered so that neighbours differ in hue.
 */
const PALETTE = [
  '#3b82f6',
  '#f59e0b',
  '#10b981',
  '#ef4444',
  '#8b5cf6',
  '#06b6d4',
  '#ec4899',
  '#84cc16',
  '#f97316',
  '#6366f1',
  '#14b8a6',
  '#eab308',
  '#a855f7',
  '#22c55e',
  '#0ea5e9',
  '#e11d48',
];

export function seriesColor(i: number): string {
  return PALETTE[i % PALETTE.length];
}

/** The colour with an alpha, for area fills. */
export function withAlpha(hex: string, alpha: number): string {
  const a = Math.round(Math.max(0, Math.min(1, alpha)) * 255)
    .toString(16)
    .padStart(2, '0');
  return `${hex}${a}`;
}

/**
 * A colour that means something for a series whose status label says how it went: 5xx and gRPC
 * server errors red, 4xx orange, 3xx blue, 2xx and gRPC OK green. Null when none applies, so
 * the series takes its place in the palette.
 */
export function semanticColor(metric: Readonly<Record<string, string>>): string | null {
  const code = metric.code ?? metric.status ?? metric.status_code ?? metric.http_status_code ?? metric.http_response_status_code ?? metric.grpc_code;
  if (code === undefined) return null;
  if (/^5\d\d$|^5xx$/i.test(code) || /^(Unknown|DeadlineExceeded|Unimplemented|Internal|Unavailable|DataLoss)$/.test(code)) return '#ef4444';
  if (/^4\d\d$|^4xx$/i.test(code)) return '#f59e0b';
  if (/^3\d\d$|^3xx$/i.test(code)) return '#3b82f6';
  if (/^2\d\d$|^2xx$/i.test(code) || code === 'OK') return '#10b981';
  return null;
}
