/**
 * Leaves computed over the store's head of recent points (server/store/head.ts) instead of in
 * ClickHouse: the same answers as the grid functions of sql.ts, from the range functions
 * Prometheus' engine uses (function-table.ts), over each series' samples in memory. source.ts
 * calls these when the head covers a leaf's whole span and the series are known in process.
 */
import type { Head, HeadSpan } from '../store/head.js';
import type { Meter } from './budget.js';
import { functionDef } from './function-table.js';
import { cleanLabels, newSeries, type SampleSeries, type StepSeries } from './matrix.js';
import { stepCount, type GridPlan, type Selection } from './sql.js';
import type { Labels } from './types.js';

/** A series the selection reads, as source.ts knows it from the series cache. */
export interface KnownSeries {
  id: string;
  name: string;
  tags: Record<string, string>;
}

/** The head's key of a series id (unsigned decimal): the same 64 bits as a signed BigInt. */
function headKey(id: string): bigint {
  return BigInt.asIntN(64, BigInt(id));
}

function labelsOf(s: KnownSeries): Labels {
  // Fresh objects: the evaluator may change a series' labels in place.
  return cleanLabels({ __name__: s.name, ...s.tags });
}

/**
 * One leaf function per series at start, start + step, ..., end. For instant-vector selection
 * (`sample`, `timestamp`), `times` receives each series' selected sample times (seconds) for
 * the staleness check of source.ts.
 */
export async function headGrid(
  plan: GridPlan,
  series: readonly KnownSeries[],
  head: Head,
  m: Meter,
  times?: Map<string, StepSeries>,
): Promise<{ id: string; s: StepSeries }[]> {
  const n = stepCount(plan);
  const selection = plan.fn === 'sample' || plan.fn === 'timestamp';
  const fn = selection ? undefined : functionDef(plan.fn)?.range;
  if (!selection && !fn) throw new Error(`no range function ${plan.fn}`);
  const arg = plan.arg ?? NaN;
  // Take every span before yielding: an append may replace a series' arrays meanwhile.
  const spans: [KnownSeries, HeadSpan][] = [];
  for (const s of series) {
    const span = head.span(headKey(s.id), plan.start - plan.window, plan.end);
    if (span) spans.push([s, span]);
  }
  const out: { id: string; s: StepSeries }[] = [];
  for (const [known, { t, v }] of spans) {
    const r = newSeries(labelsOf(known), n);
    const at = selection && times ? newSeries({}, n) : null;
    let any = false;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < n; i++) {
      const end = plan.start + i * plan.step;
      const start = end - plan.window;
      while (hi < t.length && t[hi] <= end) hi++;
      while (lo < hi && t[lo] <= start) lo++;
      // A window's function reads its samples once: count them, and yield when the meter says.
      if (m.tick(4 + (fn ? hi - lo : 0))) await m.pause();
      let x: number | undefined;
      if (fn) x = fn({ t, v, lo, hi, rangeStart: start, rangeEnd: end, evalT: end }, arg, NaN);
      else if (hi > lo) {
        x = plan.fn === 'timestamp' ? t[hi - 1] / 1000 : v[hi - 1];
        if (at) {
          at.v[i] = t[hi - 1] / 1000;
          at.has[i] = 1;
        }
      }
      if (x === undefined) continue;
      r.v[i] = x;
      r.has[i] = 1;
      any = true;
    }
    if (!any) continue;
    out.push({ id: known.id, s: r });
    if (at) times!.set(known.id, at);
  }
  return out;
}

/** Raw samples of each series in (from, to]. */
export async function headSamples(sel: Selection, series: readonly KnownSeries[], head: Head, m: Meter): Promise<SampleSeries[]> {
  const spans: [KnownSeries, HeadSpan][] = [];
  for (const s of series) {
    const span = head.span(headKey(s.id), sel.from, sel.to);
    if (span) spans.push([s, span]);
  }
  const out: SampleSeries[] = [];
  for (const [known, span] of spans) {
    if (m.tick(2 * span.t.length)) await m.pause();
    out.push({ labels: labelsOf(known), t: Array.from(span.t), v: Array.from(span.v) });
  }
  return out;
}
