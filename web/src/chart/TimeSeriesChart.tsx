import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { cssVar, onThemeChange } from '../theme.js';
import { measure, mutate } from './frame.js';
import { lastValue, type Columns } from './columns.js';
import { withAlpha } from './palette.js';
import { stackColumns } from './stack.js';
import { formatTick, formatValue } from './units.js';

/**
 * A time-series chart: uPlot for drawing (synced crosshair, drag to zoom), and a legend in the
 * DOM (series toggles, values at the cursor or the latest ones). The chart draws exactly the
 * columns it is given: no aggregation or resampling happens here.
 */

interface ChartSeries {
  label: string;
  color: string;
}

interface ChartThreshold {
  value: number;
  severity: 'warning' | 'critical';
}

export interface ChartProps {
  data: Columns;
  series: ChartSeries[];
  unit: string;
  thresholds?: ChartThreshold[];
  stacked?: boolean;
  min?: number;
  max?: number;
  height?: number;
  /** Charts with the same key share the crosshair. */
  syncKey?: string;
  /** The x range to show (unix seconds), so an empty tail still spans the requested range. */
  xRange?: [number, number];
  /** Drag-selected range, unix seconds. */
  onZoom?: (min: number, max: number) => void;
  /** Called once per (re)build, after the first draw, with the milliseconds spent building and drawing. */
  onRender?: (ms: number) => void;
  /** Accessible name of the chart. */
  title: string;
  /** Extra uPlot plugins (annotations, tooltip); pass a stable array: a new one rebuilds the chart. */
  plugins?: uPlot.Plugin[];
}

/** Legend entries shown before "+N more": a long legend costs DOM and tells little. */
const LEGEND_ITEMS = 24;

function thresholdPlugin(thresholds: ChartThreshold[]): uPlot.Plugin {
  return {
    hooks: {
      draw: (u) => {
        const ctx = u.ctx;
        for (const t of thresholds) {
          const y = u.valToPos(t.value, 'y', true);
          if (!Number.isFinite(y) || y < u.bbox.top || y > u.bbox.top + u.bbox.height) continue;
          ctx.save();
          ctx.strokeStyle = cssVar(t.severity === 'critical' ? '--critical' : '--warning');
          ctx.lineWidth = Math.max(1, devicePixelRatio);
          ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
          ctx.beginPath();
          ctx.moveTo(u.bbox.left, y);
          ctx.lineTo(u.bbox.left + u.bbox.width, y);
          ctx.stroke();
          ctx.restore();
        }
      },
    },
  };
}

/** Width of the y axis from its longest label, so long units are not cut off. */
function axisSize(u: uPlot, values: string[] | null, axisIdx: number): number {
  const longest = (values ?? []).reduce((m, v) => Math.max(m, String(v).length), 0);
  const font = u.axes[axisIdx].font;
  const px = Array.isArray(font) ? Number(/(\d+)px/.exec(String(font[0]))?.[1] ?? 12) : 12;
  return Math.ceil(longest * px * 0.62) + 18;
}

export function TimeSeriesChart(props: ChartProps) {
  const { data, series, unit, stacked, thresholds, height = 200 } = props;
  const boxRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<uPlot | null>(null);
  const [visible, setVisible] = useState<boolean[]>(() => series.map(() => true));
  const [cursorIdx, setCursorIdx] = useState<number | null>(null);
  const [themeTick, setThemeTick] = useState(0);
  const propsRef = useRef(props);
  propsRef.current = props;

  // New series set: show all again.
  const seriesKey = series.map((s) => s.label).join('\u0000');
  useEffect(() => setVisible(series.map(() => true)), [seriesKey]);
  useEffect(() => onThemeChange(() => setThemeTick((t) => t + 1)), []);

  const drawn = useMemo(() => (stacked ? stackColumns(data, visible) : data), [data, stacked, stacked ? visible.join() : '']);

  useEffect(() => {
    const box = boxRef.current;
    if (!box) return;
    let plot: uPlot | null = null;
    let ro: ResizeObserver | null = null;
    let cancelWrite = () => {};
    const cancelRead = measure(() => {
      const width = Math.max(100, box.clientWidth);
      cancelWrite = mutate(() => {
        ({ plot, ro } = build(box, width));
      });
    });
    return () => {
      cancelRead();
      cancelWrite();
      ro?.disconnect();
      plot?.destroy();
      plotRef.current = null;
    };
    // Rebuilt when the drawn data, the series, the unit or the theme change; toggling a series of
    // an unstacked chart only flips its visibility (below).
  }, [drawn, seriesKey, unit, stacked, height, themeTick, thresholds, props.xRange?.[0], props.xRange?.[1], props.plugins]);

  /** Create the uPlot in `box` (write phase: no layout reads before this point). */
  function build(box: HTMLDivElement, width: number): { plot: uPlot; ro: ResizeObserver } {
    const t0 = performance.now();
    const axis = cssVar('--axis');
    const grid = cssVar('--grid');
    const font = '11px system-ui, sans-serif';
    let raf = 0;
    let reported = false;
    const opts: uPlot.Options = {
      width,
      height,
      legend: { show: false },
      cursor: {
        sync: props.syncKey ? { key: props.syncKey, setSeries: false } : undefined,
        drag: { x: true, y: false, setScale: false },
        focus: { prox: 16 },
        // A hover point is a DOM node per series: worth it for a few series, not for fifty.
        points: { size: 6, show: series.length <= 12 },
      },
      focus: { alpha: 0.3 },
      scales: {
        x: { time: true, ...(props.xRange ? { range: () => props.xRange as [number, number] } : {}) },
        y: {
          range: (_u, lo, hi) => {
            if (lo === null || hi === null || !Number.isFinite(lo) || !Number.isFinite(hi)) return [props.min ?? 0, props.max ?? 1];
            let a = props.min !== undefined ? Math.min(props.min, lo) : lo;
            let b = props.max !== undefined ? Math.max(props.max, hi) : hi;
            if (a === b) b = a === 0 ? 1 : a + Math.abs(a) * 0.1;
            const r = uPlot.rangeNum(a, b, 0.1, true);
            a = props.min !== undefined ? Math.max(props.min, r[0] ?? a) : (r[0] ?? a);
            b = props.max !== undefined ? Math.min(props.max, r[1] ?? b) : (r[1] ?? b);
            return [a, b];
          },
        },
      },
      axes: [
        { stroke: axis, font, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } },
        {
          stroke: axis,
          font,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          values: (_u, vals) => vals.map((v) => formatTick(v, unit)),
          size: axisSize,
        },
      ],
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.color,
          width: 1.5,
          show: visible[i] !== false,
          spanGaps: false,
          points: { show: false },
          ...(stacked ? { fill: withAlpha(s.color, 0.22) } : {}),
        })),
      ],
      // Stacked areas fill down to the visible series below them, not to zero.
      bands: stacked ? stackBands(series, visible) : undefined,
      plugins: [...(thresholds?.length ? [thresholdPlugin(thresholds)] : []), ...(props.plugins ?? [])],
      hooks: {
        // uPlot draws in a microtask after construction: time the build up to the first draw.
        draw: [
          () => {
            if (reported) return;
            reported = true;
            propsRef.current.onRender?.(performance.now() - t0);
          },
        ],
        setCursor: [
          (u) => {
            cancelAnimationFrame(raf);
            raf = requestAnimationFrame(() => setCursorIdx(u.cursor.idx ?? null));
          },
        ],
        setSelect: [
          (u) => {
            if (u.select.width > 4) {
              const a = u.posToVal(u.select.left, 'x');
              const b = u.posToVal(u.select.left + u.select.width, 'x');
              propsRef.current.onZoom?.(a, b);
            }
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          },
        ],
      },
    };
    const plot = new uPlot(opts, drawn as uPlot.AlignedData, box);
    plotRef.current = plot;
    plot.root.setAttribute('role', 'img');
    plot.root.setAttribute('aria-label', `${props.title}: chart of ${series.length} series`);
    const ro = new ResizeObserver((entries) => {
      const w = Math.max(100, Math.floor(entries[0]?.contentRect.width ?? box.clientWidth));
      if (Math.abs(w - plot.width) > 1) plot.setSize({ width: w, height });
    });
    ro.observe(box);
    const destroy = plot.destroy.bind(plot);
    plot.destroy = () => {
      cancelAnimationFrame(raf);
      destroy();
    };
    return { plot, ro };
  }

  const toggle = (i: number, e: MouseEvent) => {
    const isolate = e.ctrlKey || e.metaKey || e.shiftKey;
    const next = isolate ? series.map((_, j) => (visible[i] && visible.filter(Boolean).length === 1 ? true : j === i)) : visible.map((v, j) => (j === i ? !v : v));
    setVisible(next);
    const plot = plotRef.current;
    if (plot && !stacked) next.forEach((v, j) => plot.series[j + 1]?.show !== v && plot.setSeries(j + 1, { show: v }));
  };

  const values = useMemo(() => data.slice(1).map((col) => lastValue(col as (number | null)[])), [data]);
  const at = cursorIdx !== null && cursorIdx >= 0 ? cursorIdx : null;
  const [allLegend, setAllLegend] = useState(false);
  const shown = allLegend ? series.length : Math.min(series.length, LEGEND_ITEMS);

  return (
    <div>
      <div class="chart-box" ref={boxRef} style={{ height: `${height}px` }} />
      {series.length > 0 ? (
        <div class="legend" role="group" aria-label={`${props.title} legend`}>
          {series.slice(0, shown).map((s, i) => {
            const v = at !== null ? ((data[i + 1] as (number | null)[])[at] ?? null) : values[i];
            return (
              <button
                key={s.label + i}
                type="button"
                aria-pressed={visible[i] !== false}
                title={`${s.label}\nClick to toggle, Ctrl/Shift-click to show only this series`}
                onClick={(e) => toggle(i, e)}
              >
                <span class="sw" style={{ background: s.color }} />
                <span class="lbl">{s.label}</span>
                <span class="v" data-legend-value>
                  {formatValue(v, unit)}
                </span>
              </button>
            );
          })}
          {shown < series.length ? (
            <button type="button" class="more" onClick={() => setAllLegend(true)}>
              +{series.length - shown} more
            </button>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}

function stackBands(series: ChartSeries[], visible: boolean[]): uPlot.Band[] {
  const bands: uPlot.Band[] = [];
  let below = -1;
  series.forEach((s, i) => {
    if (visible[i] === false) return;
    if (below >= 0) bands.push({ series: [i + 1, below + 1], fill: withAlpha(s.color, 0.22) });
    below = i;
  });
  return bands;
}
