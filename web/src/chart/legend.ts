import { distinctLabelNames, legendLabel, type Labels } from './columns.js';

/**
 * Legend names for a panel's series, by their labels and never by the query text (issue 14: a
 * legend that reads `sum by (code) (rate(http_requests_total{...}[5m]))` tells a reader
 * nothing). In order: the query's `{{label}}` template (Grafana's legendFormat; `__auto` and
 * an empty result count as none); the labels that tell the query's series apart; all of a lone
 * series' labels; and for a series without labels the panel title (one query) or the metric
 * the query reads. Names that still collide across queries get the query's refId.
 */

export interface LegendQuery {
  expr: string;
  legend?: string;
  refId?: string;
  series: readonly { metric: Labels }[];
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless', 'inf', 'nan', 'atan2', 'start', 'end']);

/** The metric a PromQL expression reads first (`__name__="x"` or a selector's name), or null. */
export function exprMetricName(expr: string): string | null {
  const named = /__name__\s*=\s*"([^"]+)"/.exec(expr);
  if (named) return named[1];
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/#[^\n]*/g, '');
  const re = /(?<![\w:.])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()/g;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    if (!KEYWORDS.has(m[1].toLowerCase())) return m[1];
  }
  return null;
}

/** One name per series, per query: `names[q][s]`. */
export function seriesLegends(queries: readonly LegendQuery[], opts: { title?: string } = {}): string[][] {
  const names = queries.map((q) => {
    const template = q.legend && q.legend !== '__auto' ? q.legend : undefined;
    const metrics = q.series.map((s) => s.metric);
    const distinct = distinctLabelNames(metrics);
    const unlabelled = (queries.length === 1 && opts.title) || exprMetricName(q.expr) || opts.title || 'value';
    return q.series.map((s) => {
      // A lone series (or one the others share every label with) is named by all its labels.
      const keys = distinct.length ? distinct : Object.keys(s.metric).filter((k) => k !== '__name__').sort();
      return legendLabel(s.metric, { template, distinct: keys, fallback: unlabelled });
    });
  });
  const count = new Map<string, number>();
  for (const n of names.flat()) count.set(n, (count.get(n) ?? 0) + 1);
  if (queries.length > 1) {
    return names.map((ns, qi) => ns.map((n) => (count.get(n)! > 1 ? `${n} (${queries[qi].refId ?? String.fromCharCode(65 + (qi % 26))})` : n)));
  }
  return names;
}
