/** Pure helpers of the alerts pages (filtering alerts, reading silence matchers); validation wording is in wording.ts. */

/** Whether an alert's labels contain every `name=value` (or bare word) of the filter text. */
export function alertMatchesFilter(labels: Record<string, string>, filter: string): boolean {
  for (const term of filter.split(/[\s,]+/).filter(Boolean)) {
    const eq = term.indexOf('=');
    if (eq > 0) {
      const v = labels[term.slice(0, eq)];
      if (v === undefined || !v.toLowerCase().includes(term.slice(eq + 1).replace(/^"|"$/g, '').toLowerCase())) return false;
    } else if (!Object.values(labels).some((v) => v.toLowerCase().includes(term.toLowerCase()))) return false;
  }
  return true;
}

/** Split the matchers field on commas outside quotes. */
export function splitMatchers(text: string): string[] {
  return text
    .split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/)
    .map((m) => m.trim())
    .filter(Boolean);
}
