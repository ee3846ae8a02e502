/**
 * Shared by the query engine's tests: load hand-made series straight into the real store
 * (any timestamps inside retention, no write-path validation in the way) and query the
 * Prometheus API of a running server.
 */
import { seriesId } from '../ingest/series-id.js';
import type { Store } from '../server/store/index.js';

export interface TestSeries {
  /** Labels including __name__. */
  labels: Record<string, string>;
  /** [unix ms, value] pairs. */
  samples: [number, number][];
}

let token = 0;

/** Insert series and their samples through Store.insertSeries / insertPoints. */
export async function loadSeries(store: Store, series: TestSeries[]): Promise<void> {
  const rows = [];
  let n = 0;
  for (const s of series) n += s.samples.length;
  const cols = { length: n, seriesId: new BigInt64Array(n), ts: new Float64Array(n), value: new Float64Array(n) };
  let i = 0;
  for (const s of series) {
    const { __name__: key, ...tags } = s.labels;
    const id = seriesId(key, tags);
    const ts = s.samples.map(([t]) => t);
    rows.push({ seriesId: id, key, tags, service: tags.service ?? '', firstSeen: Math.min(...ts), lastSeen: Math.max(...ts) });
    for (const [t, v] of s.samples) {
      cols.seriesId[i] = BigInt.asIntN(64, BigInt(id));
      cols.ts[i] = t;
      cols.value[i] = v;
      i++;
    }
  }
  await store.insertSeries(rows);
  await store.insertPoints(cols, `promql-test-${process.pid}-${++token}`);
}

/** A regular sample train: values[i] at start + i * intervalMs. */
export function samples(start: number, intervalMs: number, values: number[]): [number, number][] {
  return values.map((v, i) => [start + i * intervalMs, v]);
}

/** GET a Prometheus API path with query parameters; returns status and parsed JSON. */
export async function promGet(base: string, path: string, params: Record<string, string | number>) {
  const qs = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
  const res = await fetch(`${base}${path}?${qs}`);
  return { status: res.status, body: (await res.json()) as any };
}

/** POST a form to a Prometheus API path. */
export async function promPost(base: string, path: string, params: Record<string, string | number>) {
  const body = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  return { status: res.status, body: (await res.json()) as any };
}

/** A time well inside retention, aligned to the hour, so test grids are easy to reason about. */
export function baseTime(hoursAgo = 6): number {
  return Math.floor(Date.now() / 3_600_000) * 3_600_000 - hoursAgo * 3_600_000;
}
