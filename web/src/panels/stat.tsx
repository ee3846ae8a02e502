import { seriesLegends } from '../chart/legend.js';
import { formatPanelValue, reduceValues, thresholdColor } from './format.js';
import type { PanelModule, PanelProps } from './types.js';

/** One big number per series, reduced over the range; coloured by the thresholds. */
function StatPanel({ panel, results }: PanelProps) {
  const o = panel.options;
  const names = seriesLegends(results, { title: panel.title });
  const items = results.flatMap((r, qi) => r.series.map((s, si) => ({ label: names[qi][si], v: reduceValues(s.values, o.reduce) })));
  if (!items.length) return <div class="stat" data-stat-value>—</div>;
  return (
    <div class="dash-stats">
      {items.slice(0, 12).map((it, i) => (
        <div key={i} class="dash-stat">
          <div class="stat" data-stat-value style={{ color: thresholdColor(it.v, o.thresholds) }}>
            {formatPanelValue(it.v, o)}
          </div>
          {items.length > 1 && it.label ? <div class="subtle">{it.label}</div> : null}
        </div>
      ))}
    </div>
  );
}

export const stat: PanelModule = { data: 'range', Component: StatPanel };
