import { seriesLegends } from '../chart/legend.js';
import { formatPanelValue, reduceValues, thresholdColor } from './format.js';
import type { PanelModule, PanelProps } from './types.js';

/** A half-circle gauge per series between min (0) and max (100 or the thresholds' top). */
function GaugePanel({ panel, results }: PanelProps) {
  const o = panel.options;
  const values = results.flatMap((r) => r.series.map((s) => reduceValues(s.values, o.reduce)));
  // Several gauges are named by their series' labels (chart/legend.ts), one needs no name.
  const names = values.length > 1 ? seriesLegends(results, { title: panel.title }).flat() : [];
  const min = o.min ?? 0;
  const max = o.max ?? (o.unit === 'percentunit' ? 1 : 100);
  if (!values.length) return <div class="stat">—</div>;
  return (
    <div class="dash-stats">
      {values.slice(0, 8).map((v, i) => {
        const frac = v === null ? 0 : Math.max(0, Math.min(1, (v - min) / (max - min || 1)));
        const a = Math.PI * (1 - frac);
        const x = 50 + 40 * Math.cos(a);
        const y = 50 - 40 * Math.sin(a);
        const color = thresholdColor(v, o.thresholds) ?? 'var(--accent)';
        return (
          <div key={i} class="dash-stat">
            <svg class="dash-gauge" viewBox="0 0 100 60" role="img" aria-label={`${names[i] ?? panel.title}: ${formatPanelValue(v, o)}`} data-gauge-fraction={frac.toFixed(3)}>
              <path d="M10 50 A40 40 0 0 1 90 50" fill="none" stroke="var(--grid)" stroke-width="8" />
              {frac > 0 ? <path d={`M10 50 A40 40 0 0 1 ${x.toFixed(2)} ${y.toFixed(2)}`} fill="none" stroke={color} stroke-width="8" /> : null}
              <text x="50" y="48" text-anchor="middle" font-size="14" fill="currentColor" data-stat-value>
                {formatPanelValue(v, o)}
              </text>
            </svg>
            {names[i] ? <div class="subtle">{names[i]}</div> : null}
          </div>
        );
      })}
    </div>
  );
}

export const gauge: PanelModule = { data: 'range', Component: GaugePanel };
