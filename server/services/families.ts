import type { Unit } from './model.js';

/**
 * Metric families from raw metric names: the `_bucket`/`_sum`/`_count` series of a histogram,
 * the `quantile` series of a summary, `_total` counters, and gauges for the rest, following the
 * Prometheus and OpenMetrics naming conventions. A declared type (from metadata) wins.
 */

type FamilyType = 'counter' | 'gauge' | 'histogram' | 'summary';

/** One metric name a service sends, with the label names seen on it. */
export interface MetricInfo {
  name: string;
  labels: string[];
  /** Type declared by the client (# TYPE), when known. */
  type?: FamilyType;
  help?: string;
}

export interface Family {
  /** Family name: the histogram/summary base name, or the counter/gauge name itself. */
  name: string;
  type: FamilyType;
  /** Label names that split the family, without le, quantile and the identity labels. */
  labels: string[];
  /** Every metric name belonging to the family. */
  members: string[];
  help?: string;
}

/** Labels that identify where a series comes from rather than what it measures. */
const IDENTITY_LABELS = new Set(['service', 'job', 'instance', 'le', 'quantile', 'pod', 'host', 'namespace', 'service_name', 'service_instance_id']);

/** Group metric names into families. Sorted by name. */
export function groupFamilies(metrics: readonly MetricInfo[]): Family[] {
  const byName = new Map(metrics.map((m) => [m.name, m]));
  const taken = new Set<string>();
  const out: Family[] = [];
  const dims = (names: string[]) => {
    const s = new Set<string>();
    for (const n of names) for (const l of byName.get(n)?.labels ?? []) if (!IDENTITY_LABELS.has(l)) s.add(l);
    return [...s].sort();
  };
  const add = (name: string, type: FamilyType, members: string[]) => {
    const present = members.filter((m) => byName.has(m));
    for (const m of present) taken.add(m);
    const help = present.map((m) => byName.get(m)?.help).find(Boolean);
    out.push({ name, type, labels: dims(present), members: present, ...(help ? { help } : {}) });
  };

  // Histograms: NAME_bucket carrying an `le` label.
  for (const m of metrics) {
    if (m.name.endsWith('_bucket') && m.labels.includes('le')) {
      const base = m.name.slice(0, -'_bucket'.length);
      add(base, 'histogram', [`${base}_bucket`, `${base}_sum`, `${base}_count`, `${base}_created`]);
    }
  }
  // Summaries: NAME carrying a `quantile` label (or declared as one).
  for (const m of metrics) {
    if (taken.has(m.name)) continue;
    if (m.labels.includes('quantile') || m.type === 'summary') {
      add(m.name, 'summary', [m.name, `${m.name}_sum`, `${m.name}_count`, `${m.name}_created`]);
    }
  }
  for (const m of metrics) {
    if (taken.has(m.name)) continue;
    // OpenMetrics' NAME_created companions of counters carry no signal worth a panel.
    if (m.name.endsWith('_created') && byName.has(m.name.slice(0, -'_created'.length) + '_total')) {
      taken.add(m.name);
      continue;
    }
    const declared = m.type === 'counter' || m.type === 'gauge' ? m.type : undefined;
    const type: FamilyType = declared ?? (m.name.endsWith('_total') ? 'counter' : 'gauge');
    add(m.name, type, [m.name]);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** The unit a value of this family is measured in, from the name's suffix. */
export function unitOf(name: string): Unit {
  const base = name.replace(/_(total|count|sum|bucket)$/, '');
  if (/_seconds$/.test(base)) return 'seconds';
  if (/_(milliseconds|ms)$/.test(base)) return 'milliseconds';
  if (/_bytes$/.test(base)) return 'bytes';
  if (/_ratio$/.test(base)) return 'percentunit';
  if (/_percent$/.test(base)) return 'percent';
  return 'short';
}

/** The unit of rate(counter): per second of whatever the counter counts. */
export function rateUnitOf(name: string): Unit {
  const u = unitOf(name);
  if (u === 'bytes') return 'bytesps';
  // seconds per second (busy time) reads best as a plain number.
  if (u === 'seconds' || u === 'milliseconds') return 'short';
  return 'ops';
}

/** A readable title from a metric name: "db_query_duration_seconds" -> "Db query duration". */
export function titleOf(name: string): string {
  const words = name
    .replace(/_(total|seconds|milliseconds|bytes|ratio|percent|count|sum|bucket)$/g, '')
    .replace(/_(seconds|milliseconds|bytes|ratio|percent)$/g, '')
    .split(/[_.]+/)
    .filter(Boolean);
  if (words.length === 0) return name;
  const s = words.join(' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** The namespace a family belongs to, for grouping: its first name component. */
export function namespaceOf(name: string): string {
  const i = name.search(/[_.]/);
  return i > 0 ? name.slice(0, i) : name;
}
