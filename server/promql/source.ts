/**
 * Where the evaluator's leaves get their data: runs the SQL of sql.ts on the store and turns
 * rows into step matrices with labels. Enforces MAX_SERIES per selector.
 */
import { MetronomeError } from '../errors.js';
import type { Store } from '../store/index.js';
import { chFloat, cleanLabels, compareLabels, newSeries, type SampleSeries, type StepSeries } from './matrix.js';
import type { Matcher } from './selector.js';
import { gridSql, QUERY_SETTINGS, samplesSql, seriesSql, type GridPlan, type Selection } from './sql.js';
import type { Labels } from './types.js';

/** The leaf operations the evaluator needs. */
export interface DataSource {
  /** One grid function per series: values at start, start+step, ..., end. */
  grid(plan: GridPlan): Promise<StepSeries[]>;
  /** Raw samples of each matching series in (from, to]. */
  samples(sel: Selection): Promise<SampleSeries[]>;
}

export interface SourceOptions {
  signal?: AbortSignal;
  maxSeries: number;
}

/** Reads raw points from the store. */
export class StoreSource implements DataSource {
  constructor(
    readonly store: Store,
    readonly opts: SourceOptions,
  ) {}

  async query<T>(q: Parameters<Store['query']>[0]): Promise<T[]> {
    return this.store.query<T>(q, { signal: this.opts.signal, settings: QUERY_SETTINGS });
  }

  /** Labels by series id, for the series a selection reads; throws when there are too many. */
  async labels(matchers: Matcher[], from: number, to: number): Promise<Map<string, Labels>> {
    const rows = await this.query<{ id: string; key: string; tags: Record<string, string> }>(
      seriesSql({ matchers, from, to }, this.opts.maxSeries + 1),
    );
    if (rows.length > this.opts.maxSeries) throw new MetronomeError('MTR_QUERY_TOO_MANY_SERIES', [this.opts.maxSeries]);
    const out = new Map<string, Labels>();
    for (const r of rows) out.set(r.id, cleanLabels({ __name__: r.key, ...r.tags }));
    return out;
  }

  async grid(plan: GridPlan): Promise<StepSeries[]> {
    const n = Math.round((plan.end - plan.start) / plan.step) + 1;
    const [labels, rows] = await Promise.all([
      this.labels(plan.matchers, plan.start - plan.window, plan.end),
      this.query<{ id: string; v: unknown[] }>(gridSql(plan)),
    ]);
    const out: StepSeries[] = [];
    for (const r of rows) {
      const l = labels.get(r.id);
      if (!l) continue;
      const s = newSeries(l, n);
      let any = false;
      for (let i = 0; i < n && i < r.v.length; i++) {
        const x = r.v[i];
        if (x === null || x === undefined) continue;
        s.v[i] = chFloat(x);
        s.has[i] = 1;
        any = true;
      }
      if (any) out.push(s);
    }
    // Prometheus hands series on in label order; ties in topk/bottomk depend on it.
    return out.sort((a, b) => compareLabels(a.labels, b.labels));
  }

  async samples(sel: Selection): Promise<SampleSeries[]> {
    const [labels, rows] = await Promise.all([
      this.labels(sel.matchers, sel.from, sel.to),
      this.query<{ id: string; t: number[]; v: unknown[] }>(samplesSql(sel)),
    ]);
    const out: SampleSeries[] = [];
    for (const r of rows) {
      const l = labels.get(r.id);
      if (!l || r.t.length === 0) continue;
      out.push({ labels: l, t: r.t.map(Number), v: r.v.map(chFloat) });
    }
    return out.sort((a, b) => compareLabels(a.labels, b.labels));
  }
}
