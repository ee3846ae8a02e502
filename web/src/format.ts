/** "12 s ago", "3 min ago", "2 h ago", "4 d ago". */
export function ago(ms: number | null | undefined, now = Date.now()): string {
  if (ms === null || ms === undefined) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** Local date and time with seconds. */
export function dateTime(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { hour12: false });
}
