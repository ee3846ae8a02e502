import { seriesLegends } from '../chart/legend.js';
import { formatPanelValue, reduceValues, thresholdColor } from './format.js';
import type { PanelModule, PanelProps } from './types.js';

/** One bar per series, its length the value between min and max, largest first. */
function BarGaugePanel({ panel, results }: PanelProps) {
  const o = panel.options;
  const names = seriesLegends(results, { title: panel.title });
  const rows = results
    .flatMap((r, qi) => r.series.map((s, si) => ({ label: names[qi][si], v: reduceValues(s.values, o.reduce) })))
    .sort((a, b) => (b.v ?? -Infinity) - (a.v ?? -Infinity));
  const max = o.max ?? Math.max(1e-9, ...rows.map((r) => r.v ?? 0));
  const min = o.min ?? 0;
  return (
    <div class="dash-bars">
      {rows.slice(0, 30).map((r, i) => {
        const frac = r.v === null ? 0 : Math.max(0, Math.min(1, (r.v - min) / (max - min || 1)));
        return (
          <div key={i} class="dash-bar" data-bar>
            <span class="lbl" title={r.label}>
              {r.label}
            </span>
            <span class="track">
              <span class="fill" style={{ width: `${(frac * 100).toFixed(1)}%`, background: thresholdColor(r.v, o.thresholds) ?? 'var(--accent)' }} />
            </span>
            <b>{formatPanelValue(r.v, o)}</b>
          </div>
        );
      })}
    </div>
  );
}

export const bargauge: PanelModule = { data: 'range', Component: BarGaugePanel };
