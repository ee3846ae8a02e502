import type uPlot from 'uplot';
import type { Annotation } from '../api/dashboards.js';
import { formatDateTime } from '../chart/range.js';

/** uPlot plugins of the timeseries panel: annotation markers and a hover tooltip. */

const KIND_COLOR: Record<string, string> = { deploy: '#3b82f6', manual: '#8b5cf6' };

function annotationColor(a: Annotation): string {
  if (a.kind === 'alert') return a.state === 'firing' ? '#ef4444' : a.state === 'pending' ? '#f59e0b' : '#10b981';
  return KIND_COLOR[a.kind] ?? '#8b5cf6';
}

/**
 * A dashed vertical line per annotation, and a small marker at the bottom whose title is the
 * text (hover shows it; the browser tests count the markers).
 */
export function annotationsPlugin(annotations: readonly Annotation[]): uPlot.Plugin {
  let markers: HTMLElement[] = [];
  const place = (u: uPlot) => {
    for (const m of markers) m.remove();
    markers = [];
    for (const a of annotations) {
      const x = u.valToPos(a.time / 1000, 'x');
      if (!Number.isFinite(x) || x < 0 || x > u.over.clientWidth) continue;
      const m = document.createElement('div');
      m.className = 'annotation-marker';
      m.dataset.annotation = a.kind;
      m.title = `${formatDateTime(a.time)} ${a.text}`;
      m.style.left = `${x}px`;
      m.style.background = annotationColor(a);
      u.over.appendChild(m);
      markers.push(m);
    }
  };
  return {
    hooks: {
      draw: (u) => {
        const ctx = u.ctx;
        for (const a of annotations) {
          const x = u.valToPos(a.time / 1000, 'x', true);
          if (!Number.isFinite(x) || x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
          ctx.save();
          ctx.strokeStyle = annotationColor(a);
          ctx.lineWidth = Math.max(1, devicePixelRatio);
          ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.restore();
        }
        place(u);
      },
      destroy: () => {
        for (const m of markers) m.remove();
      },
    },
  };
}

/** A tooltip at the cursor: the time, then each visible series' value (largest first, at most 10). */
export function tooltipPlugin(format: (v: number | null) => string): uPlot.Plugin {
  let tip: HTMLDivElement | null = null;
  return {
    hooks: {
      init: (u) => {
        tip = document.createElement('div');
        tip.className = 'chart-tooltip';
        tip.setAttribute('role', 'tooltip');
        tip.style.display = 'none';
        u.over.appendChild(tip);
        u.over.addEventListener('mouseleave', () => tip && (tip.style.display = 'none'));
      },
      setCursor: (u) => {
        if (!tip) return;
        const i = u.cursor.idx;
        if (i === null || i === undefined || u.cursor.left === undefined || u.cursor.left < 0) {
          tip.style.display = 'none';
          return;
        }
        const t = u.data[0][i];
        const rows: { label: string; v: number | null; color: string }[] = [];
        for (let s = 1; s < u.series.length; s++) {
          if (!u.series[s].show) continue;
          const v = (u.data[s][i] as number | null | undefined) ?? null;
          rows.push({ label: String(u.series[s].label ?? ''), v, color: String(u.series[s].stroke ?? '') });
        }
        rows.sort((a, b) => (b.v ?? -Infinity) - (a.v ?? -Infinity));
        tip.replaceChildren();
        const head = document.createElement('div');
        head.className = 'chart-tooltip-time';
        head.textContent = formatDateTime(t * 1000);
        tip.appendChild(head);
        for (const r of rows.slice(0, 10)) {
          const row = document.createElement('div');
          const sw = document.createElement('span');
          sw.className = 'sw';
          sw.style.background = r.color;
          const label = document.createElement('span');
          label.className = 'lbl';
          label.textContent = r.label;
          const val = document.createElement('b');
          val.textContent = format(r.v);
          row.append(sw, label, val);
          tip.appendChild(row);
        }
        if (rows.length > 10) {
          const more = document.createElement('div');
          more.textContent = `+${rows.length - 10} more`;
          tip.appendChild(more);
        }
        tip.style.display = 'block';
        const left = u.cursor.left;
        const flip = left > u.over.clientWidth / 2;
        tip.style.left = flip ? '' : `${left + 12}px`;
        tip.style.right = flip ? `${u.over.clientWidth - left + 12}px` : '';
        tip.style.top = `${Math.max(0, (u.cursor.top ?? 0) - 10)}px`;
      },
    },
  };
}
