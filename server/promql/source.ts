/**
 * Where the evaluator's leaves get their data: runs the SQL of sql.ts on the store and turns
 * rows into step matrices with labels. Enforces MAX_SERIES per selector.
 */
import { MetronomeError } from '../errors.js';
import type { Store } from '../store/index.js';
import { UNMETERED, type Meter } from './budget.js';
import { chFloat, cleanLabels, newSeries, sortByLabelOrder, type SampleSeries, type StepSeries } from './matrix.js';
import type { Matcher } from './selector.js';
import { chooseResolution, type PlanOptions } from './plan.js';
import {
  aggregateShape,
  aggregateSql,
  endsSpanSql,
  isGridForm,
  gridSql,
  QUERY_SETTINGS,
  samplesSql,
  seriesCountSql,
  seriesRowsSql,
  seriesSql,
  staleMarksSql,
  stepCount,
  type AggregatePlan,
  type GridPlan,
  type LeafShape,
  type Selection,
  unionLeavesSql,
} from './sql.js';
import type { Sql } from '../store/index.js';
import type { Head } from '../store/head.js';
import { headGrid, headSamples } from './head-leaf.js';
import { LAST_SEEN_MARGIN_MS } from '../series/lookup.js';
import { doneHoursOf } from '../rollups/sql.js';
import type { Labels } from './types.js';

/** The leaf operations the evaluator needs. */
export interface DataSource {
  /** One grid function per series: values at start, start+step, ..., end. */
  grid(plan: GridPlan): Promise<StepSeries[]>;
  /**
   * The leaf aggregated by label groups (the first aggregation pushed down); null when it must
   * be evaluated series by series instead (staleness markers in range).
   */
  aggregate(plan: GridPlan, agg: AggregatePlan): Promise<StepSeries[] | null>;
  /** Raw samples of each matching series in (from, to]. */
  samples(sel: Selection): Promise<SampleSeries[]>;
}

export interface SourceOptions extends PlanOptions {
  signal?: AbortSignal;
  maxSeries: number;
  /** Most step values and samples this query's leaves may load (MAX_QUERY_SAMPLES). */
  maxSamples: number;
  /** Called with each leaf's resolution (tests and the bench look at what the planner chose). */
  onPlan?: (plan: GridPlan) => void;
  /** The query's budget: loops over rows count their work and yield to the event loop (budget.ts). */
  meter?: Meter;
}

/** Reads raw points from the store. */
export class StoreSource implements DataSource {
  constructor(
    readonly store: Store,
    readonly opts: SourceOptions,
  ) {}

  /** Step values and samples loaded so far by this query. */
  #loaded = 0;

  /** Count what a leaf loads; refuse past MAX_QUERY_SAMPLES (Prometheus' --query.max-samples). */
  charge(n: number): void {
    this.#loaded += n;
    if (this.#loaded > this.opts.maxSamples) throw new MetronomeError('MTR_QUERY_TOO_MANY_SAMPLES', [this.opts.maxSamples]);
  }

  async query<T>(q: Parameters<Store['query']>[0]): Promise<T[]> {
    // Binary rows: a leaf's values are most of what a query moves (bench/query-profile.ts).
    return this.store.query<T>(q, { signal: this.opts.signal, settings: QUERY_SETTINGS, binary: true });
  }

  /** Leaves asked for in the same turn of the event loop, sent as one statement (unionLeavesSql). */
  #batch: { sql: Sql; shape: LeafShape; resolve: (rows: unknown[]) => void; reject: (e: unknown) => void }[] | null = null;

  /**
   * A leaf's rows. The leaves of one expression (both sides of `a / b`) are asked for in the same
   * turn; they go to ClickHouse as one UNION ALL statement instead of one after another (chdb
   * runs a process's parameterized queries one at a time). Alone, a leaf runs as it is.
   */
  #leafQuery<T>(q: Sql, shape: LeafShape): Promise<T[]> {
    return new Promise<T[]>((resolve, reject) => {
      if (!this.#batch) {
        this.#batch = [];
        setImmediate(() => void this.#flush());
      }
      this.#batch.push({ sql: q, shape, resolve: resolve as (rows: unknown[]) => void, reject });
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#batch ?? [];
    this.#batch = null;
    if (batch.length === 1) {
      const [one] = batch;
      return this.query(one.sql).then(one.resolve, one.reject);
    }
    try {
      const rows = await this.query<{ q: number; id: string; k: number; v: unknown[]; pts: [string, unknown][]; reset: number }>(unionLeavesSql(batch));
      const out: Record<string, unknown>[][] = batch.map(() => []);
      // Back in each leaf's own shape: toSeries reads `v` when present.
      for (const r of rows) {
        const shape = batch[r.q].shape;
        const row: Record<string, unknown> = { reset: r.reset };
        if (shape.key === 'id') row.id = r.id;
        else row.k = r.k;
        if (shape.values === 'v') row.v = r.v;
        else row.pts = r.pts;
        out[r.q].push(row);
      }
      batch.forEach((b, i) => b.resolve(out[i]));
    } catch (e) {
      for (const b of batch) b.reject(e);
    }
  }

  /**
   * The series a selection reads, from the store's series cache (series-cache.ts): the rows of
   * every series the matchers match at any time are read once and kept until a series row is
   * written, and the time filter of seriesWhere is applied here. Null where the store keeps no
   * cache (a remote ClickHouse other nodes write to) or the matchers match more rows than it
   * holds: then the leaf looks the series up itself. Throws past MAX_SERIES.
   */
  async resolve(matchers: Matcher[], from: number, to: number): Promise<Resolved | null> {
    const cache = this.store.seriesCache;
    if (!cache) return null;
    const key = JSON.stringify(matchers.map((m) => [m.name, m.op, m.value]).sort());
    let all = cache.get<CachedSeries[] | 'too many'>(key);
    if (all === undefined) {
      const generation = cache.generation;
      const cap = cache.limits.maxRows;
      const rows = await this.query<{ id: string; key: string; tags: Record<string, string>; f: string; l: string }>(seriesRowsSql(matchers, cap + 1));
      if (rows.length > cap) all = 'too many';
      else {
        const byId = new Map<string, CachedSeries>();
        for (const r of rows) {
          let s = byId.get(r.id);
          if (!s) byId.set(r.id, (s = { id: r.id, name: r.key, tags: r.tags, spans: [] }));
          s.spans.push(Number(r.f), Number(r.l));
        }
        all = [...byId.values()];
      }
      cache.set(key, all, all === 'too many' ? 1 : rows.length, generation);
    }
    if (all === 'too many') return null;
    // seriesWhere's time filter: some row of the series was last seen at or after the start
    // (less the margin) and first seen at or before the end.
    const lo = Math.floor(from - LAST_SEEN_MARGIN_MS);
    const hi = Math.ceil(to);
    const out: CachedSeries[] = [];
    for (const s of all) {
      for (let i = 0; i < s.spans.length; i += 2) {
        if (s.spans[i + 1] >= lo && s.spans[i] <= hi) {
          out.push(s);
          break;
        }
      }
    }
    if (out.length > this.opts.maxSeries) throw new MetronomeError('MTR_QUERY_TOO_MANY_SERIES', [this.opts.maxSeries]);
    return { series: out, ids: out.map((s) => s.id) };
  }

  /** Labels by series id, for the series a selection reads; throws when there are too many. */
  async labels(matchers: Matcher[], from: number, to: number, resolved?: Resolved | null): Promise<Map<string, Labels>> {
    if (resolved) {
      // Fresh objects: the evaluator may change a series' labels in place.
      return new Map(resolved.series.map((s) => [s.id, cleanLabels({ __name__: s.name, ...s.tags })]));
    }
    const rows = await this.query<{ id: string; key: string; tags: Record<string, string> }>(
      seriesSql({ matchers, from, to }, this.opts.maxSeries + 1),
    );
    if (rows.length > this.opts.maxSeries) throw new MetronomeError('MTR_QUERY_TOO_MANY_SERIES', [this.opts.maxSeries]);
    const out = new Map<string, Labels>();
    const m = this.opts.meter ?? UNMETERED;
    for (const r of rows) {
      if (m.tick(16)) await m.pause();
      out.set(r.id, cleanLabels({ __name__: r.key, ...r.tags }));
    }
    return out;
  }

  /** Plan a leaf, run it, and re-run it from raw points if a rollup window held a counter reset. */
  async #leaf<T extends { reset: number | string }>(plan: GridPlan, run: (p: GridPlan) => Promise<T[]>): Promise<T[]> {
    const chosen = chooseResolution(plan, this.opts);
    // Which hours the rollup job has done, when the store knows in process (rollups/sql.ts).
    const planned = chosen.resolution === 'raw' ? chosen : { ...chosen, hours: doneHoursOf(this.store, chosen.start - chosen.window, chosen.end) };
    this.opts.onPlan?.(planned);
    const rows = await run(planned);
    if (planned.resolution === 'raw' || !rows.some((r) => Number(r.reset) === 1)) return rows;
    const again = chooseResolution(plan, { ...this.opts, raw: true });
    this.opts.onPlan?.(again);
    return run(again);
  }

  /** The store's head when it holds every sample after `from` (head.ts), else null. */
  #head(from: number): Head | null {
    const head = this.store.head;
    return head?.covers(from) ? head : null;
  }

  async grid(plan0: GridPlan): Promise<StepSeries[]> {
    const n = stepCount(plan0);
    const resolved = await this.resolve(plan0.matchers, plan0.start - plan0.window, plan0.end);
    if (resolved?.ids.length === 0) return [];
    const head = this.#head(plan0.start - plan0.window);
    if (resolved && head) return this.#headGrid({ ...plan0, ids: resolved.ids }, resolved, head, n);
    const plan = resolved ? { ...plan0, ids: resolved.ids } : plan0;
    const stale = isSelection(plan) ? this.staleMarks(plan) : Promise.resolve(new Map<string, number[]>());
    const [labels, rows0, marks] = await Promise.all([
      this.labels(plan.matchers, plan.start - plan.window, plan.end, resolved),
      this.#leaf(plan, (p) => this.#leafQuery<LeafRow & { id: string }>(gridSql(p), { values: isGridForm(p) ? 'v' : 'pts', key: 'id' })),
      stale,
    ]);
    let rows = rows0;
    let sampleTimes: Map<string, LeafRow> | null = null;
    if (marks.size > 0) {
      // Series that ended: recompute from raw points, with the time of each selected sample.
      const raw = { ...plan, resolution: 'raw' as const, form: 'grid' as const };
      const [values, times] = await Promise.all([
        this.query<LeafRow & { id: string }>(gridSql(raw)),
        this.query<LeafRow & { id: string }>(gridSql({ ...raw, fn: 'timestamp' })),
      ]);
      rows = values;
      sampleTimes = new Map(times.map((r) => [r.id, r]));
    }
    this.charge(rows.length * n);
    const m = this.opts.meter ?? UNMETERED;
    const out: StepSeries[] = [];
    for (const r of rows) {
      if (m.tick(n)) await m.pause();
      const l = labels.get(r.id);
      if (!l) continue;
      const s = toSeries(l, r, n);
      if (!s) continue;
      const ends = marks.get(r.id);
      if (ends && sampleTimes) hideStale(s, toSeries({}, sampleTimes.get(r.id) ?? { reset: 0 }, n), ends, plan);
      if (s.has.some((x) => x)) out.push(s);
    }
    // Prometheus hands series on in label order; ties in topk/bottomk depend on it.
    return sortByLabelOrder(out, m);
  }

  /** grid() over the head's samples: no ClickHouse read but the staleness markers' (mostly skipped). */
  async #headGrid(plan: GridPlan, resolved: Resolved, head: Head, n: number): Promise<StepSeries[]> {
    const marks = isSelection(plan) ? await this.staleMarks(plan) : new Map<string, number[]>();
    const m = this.opts.meter ?? UNMETERED;
    const times = marks.size > 0 ? new Map<string, StepSeries>() : undefined;
    const rows = await headGrid(plan, resolved.series, head, m, times);
    this.charge(rows.length * n);
    const out: StepSeries[] = [];
    for (const { id, s } of rows) {
      const ends = marks.get(id);
      if (ends && times) hideStale(s, times.get(id) ?? null, ends, plan);
      if (s.has.some((x) => x)) out.push(s);
    }
    return sortByLabelOrder(out, m);
  }

  /** Staleness markers (series_ends) of the selection in the lookback of the grid, per series id. */
  async staleMarks(plan: GridPlan): Promise<Map<string, number[]>> {
    const from = plan.start - plan.window;
    if (!(await this.#endsMayOverlap(from, plan.end))) return new Map();
    const rows = await this.query<{ id: string; t: number[] }>(staleMarksSql({ matchers: plan.matchers, ids: plan.ids, from, to: plan.end }));
    return new Map(rows.map((r) => [r.id, r.t.map(Number)]));
  }

  /**
   * Whether series_ends may hold a row in (from, to]: the store's cache knows where its rows lie
   * (read once, then kept from the store's own writes), so most leaves skip the staleness query.
   */
  async #endsMayOverlap(from: number, to: number): Promise<boolean> {
    const cache = this.store.seriesCache;
    if (!cache) return true;
    let may = cache.endsMayOverlap(from, to);
    if (may === undefined) {
      const generation = cache.endsGeneration;
      const [r] = await this.query<{ min: string; max: string; n: string }>(endsSpanSql());
      const count = Number(r?.n ?? 0);
      cache.setEnds(count ? { min: Number(r.min), max: Number(r.max), count } : { min: Infinity, max: -Infinity, count: 0 }, generation);
      may = count > 0 && Number(r.max) > from && Number(r.min) <= to;
    }
    return may;
  }

  async aggregate(plan0: GridPlan, agg: AggregatePlan): Promise<StepSeries[] | null> {
    const n = stepCount(plan0);
    const resolved = await this.resolve(plan0.matchers, plan0.start - plan0.window, plan0.end);
    // Over the head, the evaluator aggregates grid()'s series itself: cheaper than any statement.
    if (resolved && this.#head(plan0.start - plan0.window)) return null;
    if (resolved) return this.#aggregateResolved({ ...plan0, ids: resolved.ids }, agg, resolved, n);
    const plan = plan0;
    const sel = { matchers: plan.matchers, from: plan.start - plan.window, to: plan.end };
    const [count, rows, marks] = await Promise.all([
      this.query<{ n: string }>(seriesCountSql(sel, this.opts.maxSeries + 1)),
      this.#leaf(plan, (p) => this.query<LeafRow & { k: string[] | [string, string][] }>(aggregateSql(p, agg))),
      isSelection(plan) ? this.staleMarks(plan) : Promise.resolve(new Map<string, number[]>()),
    ]);
    if (Number(count[0]?.n ?? 0) > this.opts.maxSeries) throw new MetronomeError('MTR_QUERY_TOO_MANY_SERIES', [this.opts.maxSeries]);
    if (marks.size > 0) return null;
    this.charge(rows.length * n);
    const m = this.opts.meter ?? UNMETERED;
    const out: StepSeries[] = [];
    for (const r of rows) {
      if (m.tick(n)) await m.pause();
      const labels: Labels = {};
      if (agg.without) for (const [k, v] of r.k as [string, string][]) labels[k] = v;
      else agg.grouping.forEach((name, i) => (labels[name] = (r.k as string[])[i]));
      const s = toSeries(cleanLabels(labels), r, n);
      if (s) out.push(s);
    }
    return sortByLabelOrder(out, m);
  }

  /**
   * aggregate() over series known in process: each series' group is computed here from its
   * labels and handed to ClickHouse by id, so the leaf needs no join with the series table.
   */
  async #aggregateResolved(plan: GridPlan & { ids: readonly string[] }, agg: AggregatePlan, resolved: Resolved, n: number): Promise<StepSeries[] | null> {
    if (resolved.ids.length === 0) return [];
    const groups: Labels[] = [];
    const byKey = new Map<string, number>();
    const group: number[] = [];
    const names = new Set(agg.grouping);
    for (const s of resolved.series) {
      // The labels aggregateSql's join computes: `by` values in order (the name only while the
      // leaf keeps it), or for `without` the non-empty tags not named.
      const labels: Labels = {};
      if (agg.without) {
        for (const k of Object.keys(s.tags).sort()) if (s.tags[k] !== '' && !names.has(k)) labels[k] = s.tags[k];
      } else {
        for (const l of agg.grouping) labels[l] = l === '__name__' ? (agg.keepsName ? s.name : '') : (s.tags[l] ?? '');
      }
      const clean = cleanLabels(labels);
      const key = JSON.stringify(agg.without ? Object.entries(clean) : agg.grouping.map((l) => labels[l]));
      let g = byKey.get(key);
      if (g === undefined) {
        byKey.set(key, (g = groups.length));
        groups.push(clean);
      }
      group.push(g);
    }
    const [rows, marks] = await Promise.all([
      this.#leaf(plan, (p) => this.#leafQuery<LeafRow & { k: number }>(aggregateSql(p, agg, { ids: resolved.ids, group }), { values: aggregateShape(p, agg), key: 'k' })),
      isSelection(plan) ? this.staleMarks(plan) : Promise.resolve(new Map<string, number[]>()),
    ]);
    if (marks.size > 0) return null;
    this.charge(rows.length * n);
    const m = this.opts.meter ?? UNMETERED;
    const out: StepSeries[] = [];
    for (const r of rows) {
      if (m.tick(n)) await m.pause();
      const s = toSeries({ ...groups[Number(r.k)] }, r, n);
      if (s) out.push(s);
    }
    return sortByLabelOrder(out, m);
  }

  async samples(sel0: Selection): Promise<SampleSeries[]> {
    const resolved = await this.resolve(sel0.matchers, sel0.from, sel0.to);
    if (resolved?.ids.length === 0) return [];
    const head = this.#head(sel0.from);
    if (resolved && head) {
      const m = this.opts.meter ?? UNMETERED;
      const out = await headSamples(sel0, resolved.series, head, m);
      this.charge(out.reduce((sum, r) => sum + r.t.length, 0));
      return sortByLabelOrder(out, m);
    }
    const sel = resolved ? { ...sel0, ids: resolved.ids } : sel0;
    const [labels, rows] = await Promise.all([
      this.labels(sel.matchers, sel.from, sel.to, resolved),
      this.query<{ id: string; pts: [number, unknown][] }>(samplesSql(sel)),
    ]);
    this.charge(rows.reduce((sum, r) => sum + r.pts.length, 0));
    const m = this.opts.meter ?? UNMETERED;
    const out: SampleSeries[] = [];
    for (const r of rows) {
      if (m.tick(2 * r.pts.length)) await m.pause();
      const l = labels.get(r.id);
      if (!l || r.pts.length === 0) continue;
      out.push({ labels: l, t: r.pts.map((p) => Number(p[0])), v: r.pts.map((p) => chFloat(p[1])) });
    }
    return sortByLabelOrder(out, m);
  }
}

/** A series as the store's series cache keeps it: name, tags, and its rows' [first, last seen] (ms) in pairs. */
interface CachedSeries {
  id: string;
  name: string;
  tags: Record<string, string>;
  spans: number[];
}

/** The series a selection reads, known in process. */
export interface Resolved {
  series: readonly CachedSeries[];
  ids: readonly string[];
}

/** A leaf row: a value per step (`v`), or [step, value] pairs (`pts`). */
interface LeafRow {
  v?: unknown[];
  pts?: [number | string, unknown][];
  reset: number | string;
}

/** A row's values as a step series; null when it has no value at any step. */
function toSeries(labels: Labels, row: LeafRow, n: number): StepSeries | null {
  const s = newSeries(labels, n);
  let any = false;
  const set = (i: number, x: unknown) => {
    if (x === null || x === undefined || !(i >= 0 && i < n)) return;
    s.v[i] = chFloat(x);
    s.has[i] = 1;
    any = true;
  };
  if (row.v) for (let i = 0; i < n && i < row.v.length; i++) set(i, row.v[i]);
  else for (const [i, x] of row.pts ?? []) set(Number(i), x);
  return any ? s : null;
}

/** Instant-vector selection, where Prometheus' staleness markers apply. */
function isSelection(plan: GridPlan): boolean {
  return plan.fn === 'sample' || plan.fn === 'timestamp';
}

/**
 * Prometheus staleness: a series that ended at m is absent at any step t >= m whose selected
 * sample is not newer than m. `times` holds the selected sample's time (seconds) per step.
 */
function hideStale(s: StepSeries, times: StepSeries | null, marks: number[], plan: GridPlan): void {
  let k = -1;
  for (let i = 0; i < s.has.length; i++) {
    if (!s.has[i]) continue;
    const t = plan.start + i * plan.step;
    while (k + 1 < marks.length && marks[k + 1] <= t) k++;
    if (k < 0) continue;
    const sampleMs = times && times.has[i] ? times.v[i] * 1000 : -Infinity;
    if (marks[k] >= sampleMs) s.has[i] = 0;
  }
}
