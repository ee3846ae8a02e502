/**
 * Dashboard variables in the browser: their values from the URL (`var-<name>`, repeated for
 * multi-value, as Grafana links them), and `$name` / `${name}` replaced in queries. Pure; the
 * page only fetches label values.
 */

export type Variable =
  | { type: 'query'; name: string; label?: string; query: string; multi?: boolean; includeAll?: boolean; allValue?: string; regex?: string; current?: string[]; hide?: boolean }
  | { type: 'custom'; name: string; label?: string; options: string[]; multi?: boolean; includeAll?: boolean; allValue?: string; current?: string[]; hide?: boolean }
  | { type: 'interval'; name: string; label?: string; options: string[]; current?: string[]; hide?: boolean }
  | { type: 'text'; name: string; label?: string; current?: string[]; hide?: boolean };

/** Grafana's marker for "All"; it is what the URL holds when All is chosen. */
export const ALL = '$__all';

/** `label_values(label)` or `label_values(selector, label)` as its parts. */
export function parseLabelValues(q: string): { selector?: string; label: string } | null {
  const m = /^\s*label_values\(\s*(?:(.+?)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/.exec(q);
  return m ? { ...(m[1] ? { selector: m[1] } : {}), label: m[2] } : null;
}

/** Escape a value for a PromQL regex matcher (values of multi-value variables are alternated). */
function escapeRegex(v: string): string {
  return v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The values a variable has now: the URL's, else the saved current, else the first option. */
export function selectedValues(v: Variable, fromUrl: string[], options: readonly string[]): string[] {
  if (fromUrl.length) return v.type === 'text' || ('multi' in v && v.multi) ? fromUrl : fromUrl.slice(0, 1);
  if (v.current?.length) return v.current;
  if (v.type === 'text') return [''];
  if ('includeAll' in v && v.includeAll) return [ALL];
  return options.length ? [options[0]] : [];
}

/**
 * What `$name` becomes in a query. One value: itself. Several, or All: a regex alternation of
 * the escaped values (queries use them with =~), or allValue when All is chosen and one is set.
 */
export function renderValue(v: Variable, values: readonly string[], options: readonly string[]): string {
  if (values.includes(ALL)) {
    if ('allValue' in v && v.allValue) return v.allValue;
    return options.length ? `(${options.map(escapeRegex).join('|')})` : '.*';
  }
  if (values.length === 1) return v.type === 'query' || v.type === 'custom' ? ('multi' in v && v.multi ? escapeRegex(values[0]) : values[0]) : values[0];
  if (values.length === 0) return '';
  return `(${values.map(escapeRegex).join('|')})`;
}

/**
 * Replace `$name` and `${name}` (also `${name:raw}` style formats, taken as plain) for every
 * variable given. Longer names win over their prefixes ($instance before $inst); Grafana's own
 * `$__...` variables are left for expandVariables.
 */
export function interpolate(expr: string, rendered: Readonly<Record<string, string>>): string {
  return expr.replace(/\$\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[a-z]+)?\}|\$([a-zA-Z_][a-zA-Z0-9_]*)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare!;
    if (name.startsWith('__')) return whole;
    return Object.prototype.hasOwnProperty.call(rendered, name) ? rendered[name] : whole;
  });
}

/** URL parameter of a variable. */
export const urlKey = (name: string) => `var-${name}`;
