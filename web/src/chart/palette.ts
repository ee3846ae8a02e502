/**
 * Series colours: mid-saturation hues that keep contrast on both the light and the dark
 * background, ordered so that neighbours differ in hue.
 */
export const PALETTE = [
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
