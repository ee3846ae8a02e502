/**
 * Warnings and infos a query's evaluation raises, in the form Prometheus' HTTP API answers them
 * (`warnings` and `infos` next to `data`): "PromQL warning: <text> (line:column)", the position
 * being where the offending argument starts in the query text. Grafana shows them under a panel.
 */
export class Annotations {
  readonly warnings = new Set<string>();
  readonly infos = new Set<string>();

  constructor(readonly query: string) {}

  warn(text: string, pos: number): void {
    this.warnings.add(`PromQL warning: ${text} (${this.where(pos)})`);
  }

  info(text: string, pos: number): void {
    this.infos.add(`PromQL info: ${text} (${this.where(pos)})`);
  }

  /** 1-based line and column of a 0-based offset into the query. */
  where(pos: number): string {
    const before = this.query.slice(0, Math.max(0, pos));
    const line = before.split('\n').length;
    return `${line}:${pos - before.lastIndexOf('\n')}`;
  }
}

/** Go's `%g` for the numbers annotations quote (quantiles, ratios). */
export function formatG(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const exp = Math.floor(Math.log10(Math.abs(x)));
  if (exp < -4 || exp >= 21) return x.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  return String(x);
}
