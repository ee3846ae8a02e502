import { MetronomeError } from '../errors.js';

/**
 * The values a PromQL query produces, shared by the query API, alerting and dashboards.
 * Times are unix milliseconds; the Prometheus JSON format (seconds, values as strings) is
 * produced only at the HTTP edge (format.ts).
 */
export type { Labels } from '../../ingest/names.js';
import type { Labels } from '../../ingest/names.js';

export interface InstantSample {
  labels: Labels;
  t: number;
  v: number;
}

export interface RangeSeries {
  labels: Labels;
  t: number[];
  v: number[];
}

export type QueryValue = (
  | { type: 'scalar'; t: number; v: number }
  | { type: 'string'; t: number; v: string }
  | { type: 'vector'; samples: InstantSample[] }
  | { type: 'matrix'; series: RangeSeries[] }
) &
  QueryNotes;

/** Prometheus' annotations of an answer ("PromQL warning: ... (1:5)"); absent when there are none. */
interface QueryNotes {
  warnings?: string[];
  infos?: string[];
}

export interface QueryOptions {
  signal?: AbortSignal;
  /** Read raw points only, never rollups (for comparison and debugging). */
  raw?: boolean;
  /** A tighter timeout than the engine's QUERY_TIMEOUT_MS for this query (the API's `timeout`). */
  timeoutMs?: number;
  /**
   * Which slots the query runs in: 'rule' queries (alerting and recording rules) have
   * ALERT_MAX_CONCURRENT_QUERIES slots of their own that 'api' queries (the default: the query
   * API, dashboards, service health) can never take, so a busy dashboard cannot stall alerts.
   */
  priority?: QueryPriority;
}

export type QueryPriority = 'api' | 'rule';

/** A query as the Prometheus HTTP API states it (times in ms). */
export type QuerySpec =
  | { kind: 'instant'; expr: string; time: number }
  | { kind: 'range'; expr: string; start: number; end: number; step: number };

/**
 * The query engine as its consumers (HTTP API, alerting, dashboards) see it.
 * Implemented in engine.ts; AppContext carries one as `ctx.engine`.
 */
export interface QueryEngine {
  /** Evaluate at one instant. */
  instant(expr: string, timeMs: number, opts?: QueryOptions): Promise<QueryValue>;
  /** Evaluate at every step from start to end inclusive; the result is always a matrix (or scalar/string series as matrix). */
  range(expr: string, startMs: number, endMs: number, stepMs: number, opts?: QueryOptions): Promise<QueryValue>;
  /**
   * The Prometheus API's success body (`{"status":"success","data":...}`) as UTF-8 JSON, formatted
   * inside the query's slot, deadline and memory budget, and refused past MAX_RESULT_BYTES.
   */
  answer(q: QuerySpec, opts?: QueryOptions): Promise<Buffer>;
}

/**
 * A PromQL parse or type error, with the 0-based character position of the problem. It is a
 * catalogue error (MTR_QUERY_PARSE, 400), so any route that lets it through answers correctly.
 */
export class PromQLError extends MetronomeError {
  constructor(message: string, readonly position: number = 0) {
    super('MTR_QUERY_PARSE', [message], { details: { position } });
    this.name = 'PromQLError';
  }
}

/** An error while evaluating a well-formed query (MTR_QUERY_EXEC, 422), e.g. duplicate label sets. */
export class ExecError extends MetronomeError {
  constructor(message: string) {
    super('MTR_QUERY_EXEC', [message]);
    this.name = 'ExecError';
  }
}
