import { groupFamilies, namespaceOf, rateUnitOf, titleOf, unitOf, type Family, type MetricInfo } from './families.js';
import type { Dashboard, Panel, PanelQuery, Row, Slo, Threshold, Unit } from './model.js';
import { findTraffic, quote, selector, trafficQueries, type Traffic } from './signals.js';

/**
 * The dashboard generator: a service's metric families in, a dashboard document out. Pure: the
 * caller reads the families from the series table (registry.ts). Sections, in order:
 *   SLO (when the service has one) -> HTTP or RPC traffic -> runtime/process -> one row per
 *   namespace of the remaining families (gauges as values, counters as rates, histograms as
 *   quantiles, summaries as their quantiles).
 * `$__rate_interval` in queries is expanded by the client from the query step (as Grafana does),
 * so rates stay smooth at any zoom.
 */

export interface GenerateInput {
  service: string;
  /** The label that names the service on its series: `service` or Prometheus' `job`. */
  label: string;
  metrics: readonly MetricInfo[];
  slo?: Slo;
}

const RI = '$__rate_interval';

/** Matchers selecting the service's series. */
export function serviceMatchers(label: string, service: string): string[] {
  return [`${label}=${quote(service)}`];
}

export function generateDashboard(input: GenerateInput): Dashboard {
  const families = groupFamilies(input.metrics);
  const sel = serviceMatchers(input.label, input.service);
  const used = new Set<string>();
  const rows: Row[] = [];
  const traffic = findTraffic(families);

  if (input.slo) {
    const r = sloRow(traffic, sel, input.slo);
    if (r) rows.push(r);
  }
  if (traffic) {
    rows.push(trafficRow(traffic, sel, input.slo));
    for (const f of traffic.families) used.add(f);
  }
  const probes = probeRow(families, sel);
  if (probes) {
    rows.push(probes.row);
    for (const f of probes.used) used.add(f);
  }
  const runtime = runtimeRows(families, sel);
  for (const f of runtime.used) used.add(f);
  rows.push(...runtime.rows);

  const rest = families.filter((f) => !used.has(f.name));
  const groups = new Map<string, Family[]>();
  for (const f of rest) {
    const ns = namespaceOf(f.name);
    groups.set(ns, [...(groups.get(ns) ?? []), f]);
  }
  let shown = 0;
  for (const [ns, fs] of [...groups].sort((a, b) => a[0].localeCompare(b[0]))) {
    const panels = fs.flatMap((f) => familyPanels(f, sel));
    // Many families: later sections start collapsed, so opening the page does not run hundreds of queries.
    rows.push({ title: `${ns} metrics`, panels, ...(shown > 24 ? { collapsed: true } : {}) });
    shown += panels.length;
  }
  if (rows.length === 0) {
    rows.push({
      title: 'No metrics yet',
      panels: [
        {
          id: 'series-count',
          title: 'Series received',
          kind: 'stat',
          queries: [{ expr: `count({${sel.join(',')}})` }],
          unit: 'short',
          width: 4,
        },
      ],
    });
  }
  return {
    version: 1,
    service: input.service,
    title: input.service,
    families: families.map((f) => f.name),
    rows: dedupeIds(rows),
  };
}

function panel(p: Omit<Panel, 'kind' | 'width' | 'unit'> & Partial<Pick<Panel, 'kind' | 'width' | 'unit'>>): Panel {
  return { kind: 'timeseries', width: 6, unit: 'short', ...p };
}

function q(expr: string | null, legend?: string): PanelQuery[] {
  return expr ? [{ expr, ...(legend ? { legend } : {}) }] : [];
}

function slug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 100);
}

function dedupeIds(rows: Row[]): Row[] {
  const seen = new Set<string>();
  for (const r of rows) {
    for (const p of r.panels) {
      let id = p.id;
      for (let i = 2; seen.has(id); i++) id = `${p.id}-${i}`;
      p.id = id;
      seen.add(id);
    }
  }
  return rows;
}

/** Thresholds for an error ratio: the SLO's error budget rate when there is one. */
function errorThresholds(slo?: Slo): Threshold[] {
  if (slo) {
    const budget = +(1 - slo.objective).toPrecision(6);
    return [
      { value: budget, severity: 'warning', direction: 'above' },
      { value: Math.min(budget * 10, 0.5), severity: 'critical', direction: 'above' },
    ];
  }
  return [
    { value: 0.01, severity: 'warning', direction: 'above' },
    { value: 0.05, severity: 'critical', direction: 'above' },
  ];
}

function trafficRow(t: Traffic, sel: string[], slo?: Slo): Row {
  const tq = trafficQueries(t, sel);
  const kind = t.kind === 'http' ? 'HTTP' : 'RPC';
  const latUnit: Unit = t.latency?.unit ?? 'seconds';
  const panels: Panel[] = [];
  panels.push(
    panel({
      id: 'traffic-rate',
      title: t.route ? `Request rate by ${t.route}` : 'Request rate',
      queries: q(tq.rate(RI, [t.route]), t.route ? `{{${t.route}}}` : 'requests'),
      unit: 'reqps',
      stacked: true,
      min: 0,
    }),
  );
  if (t.status) {
    panels.push(
      panel({
        id: 'traffic-status',
        title: `Requests by ${t.status.label}`,
        queries: q(tq.rate(RI, [t.status.label]), `{{${t.status.label}}}`),
        unit: 'reqps',
        stacked: true,
        min: 0,
      }),
    );
    panels.push(
      panel({
        id: 'traffic-errors',
        title: 'Error ratio',
        description: `Share of requests answered with a server error (${t.status.label}=~"${t.status.errors}").`,
        queries: [...q(tq.errorRatio(RI), 'errors'), ...(t.route ? q(tq.errorRatioBy(RI, t.route), `{{${t.route}}}`) : [])],
        unit: 'percentunit',
        thresholds: errorThresholds(slo),
        min: 0,
      }),
    );
  }
  if (t.latency) {
    const latThresholds: Threshold[] =
      slo?.indicator === 'latency' && slo.latencyThreshold !== undefined
        ? [{ value: latUnit === 'milliseconds' ? slo.latencyThreshold * 1000 : slo.latencyThreshold, severity: 'critical', direction: 'above' }]
        : [];
    panels.push(
      panel({
        id: 'traffic-latency',
        title: 'Latency p50 / p90 / p99',
        queries: [...q(tq.quantile(0.5, RI), 'p50'), ...q(tq.quantile(0.9, RI), 'p90'), ...q(tq.quantile(0.99, RI), 'p99')],
        unit: latUnit,
        ...(latThresholds.length ? { thresholds: latThresholds } : {}),
        min: 0,
      }),
    );
    if (t.route) {
      panels.push(
        panel({
          id: 'traffic-latency-route',
          title: `p99 latency by ${t.route}`,
          queries: q(tq.quantile(0.99, RI, [t.route]), `{{${t.route}}}`),
          unit: latUnit,
          min: 0,
        }),
      );
    }
  }
  return { title: `${kind} server`, panels };
}

function sloRow(t: Traffic | null, sel: string[], slo: Slo): Row | null {
  if (!t) return null;
  const tq = trafficQueries(t, sel);
  const bad = (w: string) => (slo.indicator === 'latency' ? tq.slowRatio(slo.latencyThreshold!, w) : tq.errorRatio(w));
  const win = slo.window;
  const badWin = bad(win);
  if (!badWin) return null;
  const budget = +(1 - slo.objective).toPrecision(6);
  const budgetText = `${+(budget * 100).toPrecision(3)}%`;
  const what = slo.indicator === 'latency' ? `requests faster than ${slo.latencyThreshold} s` : 'requests without a server error';
  return {
    title: `SLO: ${+(slo.objective * 100).toPrecision(6)}% of ${what} over ${win}`,
    panels: [
      panel({
        id: 'slo-compliance',
        title: `Good events (${win})`,
        kind: 'stat',
        queries: q(`1 - (${badWin})`),
        unit: 'percentunit',
        thresholds: [{ value: slo.objective, severity: 'critical', direction: 'below' }],
        width: 3,
      }),
      panel({
        id: 'slo-budget',
        title: `Error budget remaining (${win})`,
        description: `The budget is ${budgetText} of events over ${win}.`,
        kind: 'stat',
        queries: q(`1 - (${badWin}) / ${budget}`),
        unit: 'percentunit',
        thresholds: [
          { value: 0.25, severity: 'warning', direction: 'below' },
          { value: 0, severity: 'critical', direction: 'below' },
        ],
        width: 3,
      }),
      panel({
        id: 'slo-burn',
        title: 'Burn rate',
        description: 'How fast the error budget is spent: 1 uses it up exactly over the window; 14.4 over 1 h pages (Google SRE workbook).',
        queries: [...q(`(${bad('1h')}) / ${budget}`, '1h'), ...q(`(${bad('6h')}) / ${budget}`, '6h')],
        unit: 'short',
        thresholds: [
          { value: 6, severity: 'warning', direction: 'above' },
          { value: 14.4, severity: 'critical', direction: 'above' },
        ],
        min: 0,
      }),
    ],
  };
}

// ---- Black-box probes (server/probes) ----

/** The probe families Metronome writes; their row replaces a generic "probe metrics" section. */
const PROBE_FAMILIES = ['probe_success', 'probe_duration_seconds', 'probe_http_status_code', 'probe_ssl_earliest_cert_expiry'];

function probeRow(families: readonly Family[], sel: string[]): { row: Row; used: string[] } | null {
  const have = new Set(families.map((f) => f.name));
  if (!have.has('probe_success')) return null;
  const s = (m: string) => selector(m, sel);
  const panels: Panel[] = [
    panel({
      id: 'probe-availability',
      title: 'Probe availability (24 h)',
      description: 'Share of probe runs that succeeded over the last day, across all probes of the service.',
      kind: 'stat',
      queries: q(`avg(avg_over_time(${s('probe_success')}[1d]))`),
      unit: 'percentunit',
      thresholds: [
        { value: 0.999, severity: 'warning', direction: 'below' },
        { value: 0.99, severity: 'critical', direction: 'below' },
      ],
      width: 3,
    }),
    panel({
      id: 'probe-success',
      title: 'Probe success',
      description: 'Black-box probes (GET /api/v1/probes): the share of runs that succeeded in each step.',
      queries: q(`avg by (probe) (avg_over_time(${s('probe_success')}[${RI}]))`, '{{probe}}'),
      unit: 'percentunit',
      thresholds: [{ value: 1, severity: 'critical', direction: 'below' }],
      min: 0,
      max: 1,
      width: 5,
    }),
  ];
  if (have.has('probe_duration_seconds')) {
    panels.push(panel({ id: 'probe-duration', title: 'Probe duration', queries: q(`max by (probe) (${s('probe_duration_seconds')})`, '{{probe}}'), unit: 'seconds', min: 0, width: 4 }));
  }
  if (have.has('probe_http_status_code')) {
    panels.push(panel({ id: 'probe-http-status', title: 'Probe HTTP status', description: '0: no answer.', queries: q(`max by (probe) (${s('probe_http_status_code')})`, '{{probe}}'), unit: 'short', width: 6 }));
  }
  if (have.has('probe_ssl_earliest_cert_expiry')) {
    panels.push(
      panel({
        id: 'probe-cert-expiry',
        title: 'Certificate expires in',
        queries: q(`min by (probe) (${s('probe_ssl_earliest_cert_expiry')}) - time()`, '{{probe}}'),
        unit: 'seconds',
        thresholds: [
          { value: 14 * 86_400, severity: 'warning', direction: 'below' },
          { value: 3 * 86_400, severity: 'critical', direction: 'below' },
        ],
        width: 6,
      }),
    );
  }
  return { row: { title: 'Probes', panels }, used: PROBE_FAMILIES.filter((f) => have.has(f)) };
}

// ---- Runtime and process ----

interface RuntimeQuery {
  family: string;
  /** Builds the query from the matchers; `m` is the member to select. */
  expr: (sel: string[]) => string;
  legend: string;
}

const gauge = (family: string, agg: string, legend: string): RuntimeQuery => ({
  family,
  expr: (sel) => `${agg} by (instance) (${selector(family, sel)})`,
  legend,
});
const perSec = (family: string, metric: string, by: string, legend: string): RuntimeQuery => ({
  family,
  expr: (sel) => `sum by (${by}) (rate(${selector(metric, sel)}[${RI}]))`,
  legend,
});

const RUNTIME: { id: string; title: string; unit: Unit; queries: RuntimeQuery[]; description?: string }[] = [
  {
    id: 'runtime-cpu',
    title: 'CPU',
    unit: 'cores',
    queries: [perSec('process_cpu_seconds_total', 'process_cpu_seconds_total', 'instance', '{{instance}}')],
  },
  {
    id: 'runtime-cpu-util',
    title: 'CPU utilisation',
    unit: 'percentunit',
    queries: [gauge('jvm_cpu_recent_utilization_ratio', 'avg', '{{instance}}'), gauge('process_cpu_usage', 'avg', '{{instance}}')],
  },
  {
    id: 'runtime-memory',
    title: 'Memory',
    unit: 'bytes',
    queries: [
      gauge('process_resident_memory_bytes', 'sum', 'rss {{instance}}'),
      gauge('nodejs_heap_size_used_bytes', 'sum', 'heap used {{instance}}'),
      gauge('go_memstats_heap_alloc_bytes', 'sum', 'heap {{instance}}'),
      {
        family: 'jvm_memory_used_bytes',
        expr: (sel) => `sum by (instance, jvm_memory_type) (${selector('jvm_memory_used_bytes', sel)})`,
        legend: '{{jvm_memory_type}} {{instance}}',
      },
    ],
  },
  {
    id: 'runtime-gc',
    title: 'Time in GC',
    description: 'Share of wall time spent in garbage collection.',
    unit: 'percentunit',
    queries: [
      perSec('go_gc_duration_seconds', 'go_gc_duration_seconds_sum', 'instance', '{{instance}}'),
      perSec('nodejs_gc_duration_seconds', 'nodejs_gc_duration_seconds_sum', 'instance, kind', '{{kind}} {{instance}}'),
      perSec('jvm_gc_duration_seconds', 'jvm_gc_duration_seconds_sum', 'instance, jvm_gc_name', '{{jvm_gc_name}} {{instance}}'),
    ],
  },
  {
    id: 'runtime-eventloop',
    title: 'Event-loop lag',
    unit: 'seconds',
    queries: [gauge('nodejs_eventloop_lag_seconds', 'max', '{{instance}}'), gauge('nodejs_eventloop_lag_p99_seconds', 'max', 'p99 {{instance}}')],
  },
  {
    id: 'runtime-threads',
    title: 'Threads',
    unit: 'short',
    queries: [
      gauge('go_goroutines', 'sum', 'goroutines {{instance}}'),
      gauge('go_threads', 'sum', 'threads {{instance}}'),
      gauge('jvm_thread_count', 'sum', 'threads {{instance}}'),
      gauge('jvm_threads_live_threads', 'sum', 'threads {{instance}}'),
      gauge('process_num_threads', 'sum', 'threads {{instance}}'),
      gauge('nodejs_active_handles', 'sum', 'handles {{instance}}'),
    ],
  },
  {
    id: 'runtime-fds',
    title: 'Open file descriptors',
    unit: 'short',
    queries: [gauge('process_open_fds', 'sum', '{{instance}}')],
  },
];

/** Ids of the runtime panels (runtime-cpu, runtime-memory...) these families fill. */
export function runtimePanelsOf(families: readonly Family[]): string[] {
  const have = new Set(families.map((f) => f.name));
  return RUNTIME.filter((spec) => spec.queries.some((x) => have.has(x.family))).map((spec) => spec.id);
}

/** Families of runtimes whose leftovers go to a collapsed section instead of one section each. */
const RUNTIME_NAMESPACES = new Set(['process', 'go', 'nodejs', 'jvm', 'python', 'dotnet', 'runtime', 'system']);

function runtimeRows(families: readonly Family[], sel: string[]): { rows: Row[]; used: string[] } {
  const have = new Set(families.map((f) => f.name));
  const used: string[] = [];
  const panels: Panel[] = [];
  for (const spec of RUNTIME) {
    const qs = spec.queries.filter((x) => have.has(x.family));
    if (qs.length === 0) continue;
    used.push(...qs.map((x) => x.family));
    panels.push(
      panel({
        id: spec.id,
        title: spec.title,
        unit: spec.unit,
        queries: qs.map((x) => ({ expr: x.expr(sel), legend: x.legend })),
        min: 0,
        width: 4,
        ...(spec.description ? { description: spec.description } : {}),
      }),
    );
  }
  const rows: Row[] = [];
  if (panels.length) rows.push({ title: 'Runtime and process', panels });
  // Everything else a runtime exports (go_memstats_*, nodejs_*...) in one collapsed section.
  const more = families.filter((f) => !used.includes(f.name) && RUNTIME_NAMESPACES.has(namespaceOf(f.name)) && f.name !== 'process_start_time_seconds');
  if (more.length) {
    rows.push({ title: 'More runtime metrics', collapsed: true, panels: more.flatMap((f) => familyPanels(f, sel)) });
  }
  used.push(...more.map((f) => f.name), 'process_start_time_seconds');
  return { rows, used };
}

// ---- Any other family ----

/** Panels for one family: gauges as values, counters as rates, histograms and summaries as quantiles. */
function familyPanels(f: Family, sel: string[]): Panel[] {
  const dims = f.labels.slice(0, 2);
  const by = dims.length ? ` by (${dims.join(', ')})` : '';
  const legend = dims.length ? dims.map((d) => `{{${d}}}`).join(' ') : undefined;
  const id = slug(f.name);
  const base = { description: f.help ?? `${f.type} ${f.name}`, min: undefined as number | undefined };
  switch (f.type) {
    case 'counter':
      return [
        panel({
          id,
          title: `${titleOf(f.name)} /s`,
          description: base.description,
          queries: q(`sum${by} (rate(${selector(f.name, sel)}[${RI}]))`, legend),
          unit: rateUnitOf(f.name),
          min: 0,
        }),
      ];
    case 'gauge': {
      // Shares and durations average over instances; counts and sizes add up.
      const agg = ['percentunit', 'percent', 'seconds', 'milliseconds'].includes(unitOf(f.name)) ? 'avg' : 'sum';
      return [
        panel({
          id,
          title: titleOf(f.name),
          description: base.description,
          queries: q(`${agg}${by} (${selector(f.name, sel)})`, legend),
          unit: unitOf(f.name),
        }),
      ];
    }
    case 'histogram': {
      const bucket = selector(`${f.name}_bucket`, sel);
      const quant = (p: number, group: string[]) => `histogram_quantile(${p}, sum by (${['le', ...group].join(', ')}) (rate(${bucket}[${RI}])))`;
      const out = [
        panel({
          id,
          title: `${titleOf(f.name)} p50 / p90 / p99`,
          description: base.description,
          queries: [
            { expr: quant(0.5, []), legend: 'p50' },
            { expr: quant(0.9, []), legend: 'p90' },
            { expr: quant(0.99, []), legend: 'p99' },
          ],
          unit: unitOf(f.name),
          min: 0,
        }),
        panel({
          id: `${id}-rate`,
          title: `${titleOf(f.name)} events /s`,
          description: `Observations per second of ${f.name}.`,
          queries: q(`sum${by} (rate(${selector(`${f.name}_count`, sel)}[${RI}]))`, legend ?? 'events'),
          unit: 'ops',
          min: 0,
        }),
      ];
      if (dims.length) {
        out.splice(
          1,
          0,
          panel({
            id: `${id}-p99-by`,
            title: `${titleOf(f.name)} p99 by ${dims[0]}`,
            queries: q(quant(0.99, [dims[0]]), `{{${dims[0]}}}`),
            unit: unitOf(f.name),
            min: 0,
          }),
        );
      }
      return out;
    }
    case 'summary':
      return [
        panel({
          id,
          title: `${titleOf(f.name)} quantiles`,
          description: base.description,
          queries: q(`max by (quantile) (${selector(f.name, sel)})`, 'q{{quantile}}'),
          unit: unitOf(f.name),
          min: 0,
        }),
      ];
  }
}
