import type { MatrixSeries, VectorSample } from '../chart/columns.js';
import { ApiError, getJSON } from './client.js';

/**
 * A dashboard sends many queries at once; when the engine's queue is full it answers 503
 * (MTR_QUERY_OVERLOADED). Retry those a few times with a growing, jittered delay.
 */
async function withRetry<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      const overloaded = e instanceof ApiError && e.status === 503 && e.code !== 'MTR_QUERY_TIMEOUT';
      if (!overloaded || attempt >= 3 || signal?.aborted) throw e;
      await new Promise((r) => setTimeout(r, 300 * 2 ** attempt + Math.random() * 200));
    }
  }
}

/** The Prometheus HTTP API as Metronome serves it (/api/v1/query, query_range, labels...). */

interface PromResponse<T> {
  status: 'success';
  data: T;
  warnings?: string[];
}

export type InstantResult =
  | { resultType: 'vector'; result: VectorSample[] }
  | { resultType: 'matrix'; result: MatrixSeries[] }
  | { resultType: 'scalar'; result: [number, string] }
  | { resultType: 'string'; result: [number, string] };

export interface RangeResult {
  series: MatrixSeries[];
  warnings: string[];
  /** Wall time of the request, ms. */
  ms: number;
}

/** Range query: start/end in unix seconds, step in seconds. */
export async function queryRange(expr: string, start: number, end: number, step: number, signal?: AbortSignal): Promise<RangeResult> {
  const t0 = performance.now();
  const r = await withRetry(
    () => getJSON<PromResponse<{ resultType: string; result: MatrixSeries[] | [number, string] }>>('/api/v1/query_range', { query: expr, start, end, step }, signal),
    signal,
  );
  // A scalar expression (e.g. "1") comes back as a matrix too; accept a bare scalar defensively.
  const series = r.data.resultType === 'matrix' ? (r.data.result as MatrixSeries[]) : [];
  return { series, warnings: r.warnings ?? [], ms: performance.now() - t0 };
}

export async function queryInstant(expr: string, time?: number, signal?: AbortSignal): Promise<{ data: InstantResult; warnings: string[] }> {
  const r = await withRetry(() => getJSON<PromResponse<InstantResult>>('/api/v1/query', { query: expr, time }, signal), signal);
  return { data: r.data, warnings: r.warnings ?? [] };
}

export async function labelNames(match?: string, signal?: AbortSignal): Promise<string[]> {
  return (await getJSON<PromResponse<string[]>>('/api/v1/labels', { 'match[]': match ? [match] : undefined }, signal)).data;
}

export async function labelValues(name: string, match?: string, signal?: AbortSignal): Promise<string[]> {
  return (await getJSON<PromResponse<string[]>>(`/api/v1/label/${encodeURIComponent(name)}/values`, { 'match[]': match ? [match] : undefined }, signal)).data;
}
