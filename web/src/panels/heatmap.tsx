import { useEffect, useMemo, useRef } from 'preact/hooks';
import { bucketsToHeatmap } from '../dashboards/heatmap.js';
import { formatValue } from '../chart/units.js';
import { uiUnit } from './format.js';
import type { PanelModule, PanelProps } from './types.js';

const SCHEMES: Record<string, [number, number]> = { blues: [210, 80], oranges: [28, 90], spectral: [260, 70] };

/** Histogram buckets over time as cells: x time, y bucket (upper bound), colour the count. */
function HeatmapPanel({ panel, results, height }: PanelProps) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const h = useMemo(() => bucketsToHeatmap(results.flatMap((r) => r.series)), [results]);
  const [hue, sat] = SCHEMES[panel.options.scheme ?? 'blues'] ?? SCHEMES.blues;
  const unit = uiUnit(panel.options.unit ?? 's');
  const labelW = 56;
  useEffect(() => {
    const c = canvas.current;
    if (!c) return;
    const w = c.clientWidth || 300;
    const ht = Math.max(60, height - 24);
    c.width = w * devicePixelRatio;
    c.height = ht * devicePixelRatio;
    const ctx = c.getContext('2d');
    if (!ctx) return;
    ctx.scale(devicePixelRatio, devicePixelRatio);
    ctx.clearRect(0, 0, w, ht);
    const nb = h.bounds.length;
    const nt = h.times.length;
    if (!nb || !nt) return;
    const cw = (w - labelW) / nt;
    const ch = ht / nb;
    h.counts.forEach((row, b) => {
      row.forEach((v, t) => {
        if (v === null || v === 0) return;
        const f = Math.sqrt(v / (h.max || 1));
        ctx.fillStyle = `hsl(${hue} ${sat}% ${85 - f * 55}%)`;
        ctx.fillRect(labelW + t * cw, ht - (b + 1) * ch, Math.ceil(cw), Math.ceil(ch));
      });
    });
    ctx.fillStyle = getComputedStyle(c).color;
    ctx.font = '10px system-ui, sans-serif';
    const every = Math.max(1, Math.ceil(nb / Math.floor(ht / 14)));
    h.bounds.forEach((le, b) => {
      if (b % every) return;
      ctx.fillText(le === Infinity ? '+Inf' : formatValue(le, unit), 2, ht - b * ch - 2);
    });
  }, [h, height, hue, sat, unit]);
  return (
    <div>
      <canvas ref={canvas} class="dash-heatmap" style={{ width: '100%', height: `${Math.max(60, height - 24)}px` }} role="img" aria-label={`${panel.title}: heatmap of ${h.bounds.length} buckets`} data-heatmap-buckets={h.bounds.length} />
      {!h.bounds.length ? <div class="subtle">No histogram buckets (the query must return series with an le label).</div> : null}
    </div>
  );
}

export const heatmap: PanelModule = { data: 'range', Component: HeatmapPanel };
