import { formatPanelValue } from './format.js';
import type { PanelModule, PanelProps } from './types.js';

/** Instant values as rows: one column per label (as the series have them), then the value per query. */
function TablePanel({ panel, results }: PanelProps) {
  const o = panel.options;
  const rows = new Map<string, { labels: Record<string, string>; values: (number | null)[] }>();
  const labelNames = new Set<string>();
  results.forEach((r, qi) => {
    for (const s of r.series) {
      const { __name__: _n, ...labels } = s.metric;
      for (const k of Object.keys(labels)) labelNames.add(k);
      const key = JSON.stringify(Object.entries(labels).sort());
      const row = rows.get(key) ?? { labels, values: results.map(() => null) };
      const last = s.values[s.values.length - 1];
      row.values[qi] = last ? Number(last[1]) : null;
      rows.set(key, row);
    }
  });
  const cols = (o.columns as string[] | undefined)?.filter((c) => labelNames.has(c)) ?? [...labelNames].sort();
  if (!rows.size) return <div class="subtle">No data.</div>;
  return (
    <div class="dash-table-wrap">
      <table class="dash-table">
        <thead>
          <tr>
            {cols.map((c) => (
              <th key={c}>{c}</th>
            ))}
            {results.map((r, i) => (
              <th key={`q${i}`}>{r.legend || (results.length > 1 ? `Value #${String.fromCharCode(65 + i)}` : 'Value')}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {[...rows.values()].slice(0, 500).map((row, i) => (
            <tr key={i}>
              {cols.map((c) => (
                <td key={c}>{row.labels[c] ?? ''}</td>
              ))}
              {row.values.map((v, j) => (
                <td key={`v${j}`} class="num">
                  {formatPanelValue(v, o)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export const table: PanelModule = { data: 'instant', Component: TablePanel };
