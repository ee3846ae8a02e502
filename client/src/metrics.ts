/**
 * The client's metric registry: counters, gauges and histograms with label values, kept as
 * cumulative numbers (Prometheus semantics) and read out as samples at each collection. Small on
 * purpose: a service using the client gets the metrics Metronome's dashboard generator knows, not
 * a general-purpose metrics library.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** One sample as it goes on the wire: the full label set (metric name in `__name__`) and a value. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface MetricMeta {
  name: string;
  type: MetricType;
  help: string;
  unit?: string;
}

/** The default latency buckets of the Prometheus clients, in seconds. */
export const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Label values beyond this many distinct sets per metric are folded into `other` (a runaway route label must not flood the server). */
const DEFAULT_MAX_LABEL_SETS = 500;

const keyOf = (values: readonly string[]) => values.join('\u0000');

abstract class Metric<V> {
  readonly #sets = new Map<string, { values: string[]; state: V }>();
  /** Label sets refused because the metric already had `maxLabelSets`; counted into `other`. */
  overflowed = 0;

  constructor(
    readonly meta: MetricMeta,
    readonly labelNames: readonly string[],
    readonly maxLabelSets: number,
  ) {}

  protected abstract fresh(): V;

  protected state(values: readonly string[]): V {
    let k = keyOf(values);
    let s = this.#sets.get(k);
    if (!s) {
      // Full: fold new label sets into one `other` set, which is always admitted, so a full metric keeps counting.
      if (this.#sets.size >= this.maxLabelSets) {
        this.overflowed++;
        values = this.labelNames.map(() => 'other');
        k = keyOf(values);
        s = this.#sets.get(k);
        if (s) return s.state;
      }
      s = { values: [...values], state: this.fresh() };
      this.#sets.set(k, s);
    }
    return s.state;
  }

  protected entries(): Iterable<{ values: string[]; state: V }> {
    return this.#sets.values();
  }

  protected labels(values: readonly string[], extra?: Record<string, string>): Record<string, string> {
    const out: Record<string, string> = {};
    for (let i = 0; i < this.labelNames.length; i++) out[this.labelNames[i]] = values[i];
    return extra ? Object.assign(out, extra) : out;
  }

  abstract collect(out: Sample[]): void;
}

export class Counter extends Metric<{ v: number }> {
  protected fresh() {
    return { v: 0 };
  }

  /** Add `by` (>= 0) to the counter of these label values (in labelNames order). */
  inc(values: readonly string[] = [], by = 1): void {
    if (!(by >= 0)) return;
    this.state(values).v += by;
  }

  /** Set the total from a source that is itself cumulative (process.cpuUsage); a lower value is ignored. */
  setTotal(values: readonly string[], total: number): void {
    const s = this.state(values);
    if (total > s.v) s.v = total;
  }

  collect(out: Sample[]): void {
    for (const e of this.entries()) out.push({ labels: { __name__: this.meta.name, ...this.labels(e.values) }, value: e.state.v });
  }
}

export class Gauge extends Metric<{ v: number }> {
  protected fresh() {
    return { v: 0 };
  }

  set(values: readonly string[], v: number): void {
    this.state(values).v = v;
  }

  collect(out: Sample[]): void {
    for (const e of this.entries()) out.push({ labels: { __name__: this.meta.name, ...this.labels(e.values) }, value: e.state.v });
  }
}

export class Histogram extends Metric<{ counts: Float64Array; sum: number; count: number }> {
  readonly bounds: readonly number[];

  constructor(meta: MetricMeta, labelNames: readonly string[], maxLabelSets: number, bounds: readonly number[] = DEFAULT_BUCKETS) {
    super(meta, labelNames, maxLabelSets);
    this.bounds = [...bounds].sort((a, b) => a - b);
  }

  protected fresh() {
    return { counts: new Float64Array(this.bounds.length), sum: 0, count: 0 };
  }

  /** Make the series of these label values exist with zero observations (a known dimension shows 0, not nothing). */
  touch(values: readonly string[]): void {
    this.state(values);
  }

  observe(values: readonly string[], v: number): void {
    if (!Number.isFinite(v)) return;
    const s = this.state(values);
    s.sum += v;
    s.count++;
    // Per-bucket counts; made cumulative when collected.
    for (let i = 0; i < this.bounds.length; i++) {
      if (v <= this.bounds[i]) {
        s.counts[i]++;
        break;
      }
    }
  }

  collect(out: Sample[]): void {
    const name = this.meta.name;
    for (const e of this.entries()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += e.state.counts[i];
        out.push({ labels: { __name__: `${name}_bucket`, ...this.labels(e.values, { le: String(this.bounds[i]) }) }, value: acc });
      }
      out.push({ labels: { __name__: `${name}_bucket`, ...this.labels(e.values, { le: '+Inf' }) }, value: e.state.count });
      out.push({ labels: { __name__: `${name}_sum`, ...this.labels(e.values) }, value: e.state.sum });
      out.push({ labels: { __name__: `${name}_count`, ...this.labels(e.values) }, value: e.state.count });
    }
  }
}

/** The metrics of one client, plus collectors that refresh gauges right before a collection. */
export class Registry {
  readonly metrics: Metric<unknown>[] = [];
  readonly #collectors: (() => void)[] = [];
  constructor(readonly maxLabelSets = DEFAULT_MAX_LABEL_SETS) {}

  counter(meta: Omit<MetricMeta, 'type'>, labelNames: readonly string[] = []): Counter {
    return this.#add(new Counter({ ...meta, type: 'counter' }, labelNames, this.maxLabelSets));
  }

  gauge(meta: Omit<MetricMeta, 'type'>, labelNames: readonly string[] = []): Gauge {
    return this.#add(new Gauge({ ...meta, type: 'gauge' }, labelNames, this.maxLabelSets));
  }

  histogram(meta: Omit<MetricMeta, 'type'>, labelNames: readonly string[] = [], bounds?: readonly number[]): Histogram {
    return this.#add(new Histogram({ ...meta, type: 'histogram' }, labelNames, this.maxLabelSets, bounds));
  }

  /** Run `fn` before every collection (runtime gauges read the process there). */
  onCollect(fn: () => void): void {
    this.#collectors.push(fn);
  }

  #add<M extends Metric<any>>(m: M): M {
    if (this.metrics.some((x) => x.meta.name === m.meta.name)) throw new Error(`metric ${m.meta.name} is registered twice`);
    this.metrics.push(m as unknown as Metric<unknown>);
    return m;
  }

  /** Every sample now, with `common` labels (service, instance) added to each. */
  collect(common: Record<string, string>): Sample[] {
    for (const fn of this.#collectors) {
      try {
        fn();
      } catch {
        // A collector that fails (a platform without some statistic) must not stop the others.
      }
    }
    const out: Sample[] = [];
    for (const m of this.metrics) m.collect(out);
    for (const s of out) Object.assign(s.labels, common);
    return out;
  }
}
