import { getJSON } from './client.js';

/** GET /api/v1/status (server/services/status.ts). */
export interface ServerStatus {
  build: { version: string; node: string; platform: string; store: string; startedAt: number; uptimeSec: number };
  ingest: { pointsPerSec: number | null; windowSec: number; pointsAccepted: number; pointsRejected: number; buffered: number };
  series: { count: number; services: number };
  storage: { bytes: number; uncompressedBytes: number; tables: { table: string; bytes: number; uncompressedBytes: number; rows: number; parts: number }[] };
  queries: { count: number; perSec: number | null; meanSec: number | null; p50Sec: number | null; p99Sec: number | null };
  alerting: { firing: number; pending: number } | null;
  config: { retentionDays: number; demo: string };
}

export const getStatus = (signal?: AbortSignal) => getJSON<{ data: ServerStatus }>('/api/v1/status', undefined, signal).then((r) => r.data);

/** GET /api/v1/status/cardinality (server/limits): series per service and metric, top offenders first. */
export interface CardinalityRow {
  name: string;
  series: number;
  newToday: number;
  limit: number;
}
export interface Cardinality {
  day: string;
  limits: { MAX_SERIES_PER_SERVICE: number; MAX_SERIES_PER_KEY: number };
  services: CardinalityRow[];
  keys: CardinalityRow[];
}

export const getCardinality = (signal?: AbortSignal) =>
  getJSON<{ data: Cardinality }>('/api/v1/status/cardinality', { limit: 8 }, signal).then((r) => r.data);
