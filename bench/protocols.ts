import { Packr } from 'msgpackr';
import { encodeWriteRequest, lineProtocol, otlpProtobuf, otlpResourceMetrics, remoteWriteRequest } from './wire.js';

/** One series' samples as the bench generates them (timestamps in unix ms). */
export interface BenchSeries {
  key: string;
  tags: Record<string, string>;
  timestamps: number[];
  values: number[];
}

/** How one wire protocol sends a request body. */
export interface ProtocolEncoder {
  path: string;
  contentType: string;
  contentEncoding?: string;
  /** Status the server answers on success. */
  okStatus: number;
  encode(series: readonly BenchSeries[]): Buffer | string;
}

// Records make repeated object shapes (the sparse body: 5,000 series objects) cheap to decode.
const packr = new Packr({ useRecords: true });

function heroicBody(series: readonly BenchSeries[]) {
  return series.map((s) => ({
    series: { key: s.key, tags: s.tags },
    data: { type: 'points', data: s.timestamps.map((t, i) => [t, s.values[i]]) },
  }));
}

/** Encoders by protocol name; protocol engineers add theirs here. */
export const PROTOCOLS: Record<string, ProtocolEncoder> = {
  'heroic-json': {
    path: '/write',
    contentType: 'application/json',
    okStatus: 200,
    encode: (series) => JSON.stringify(heroicBody(series)),
  },
  msgpack: {
    path: '/write',
    contentType: 'application/msgpack',
    okStatus: 200,
    encode: (series) => packr.pack(heroicBody(series)),
  },
  // Fields of one host and timestamp share a line (cpu_usage_user -> cpu usage_user=...).
  influx: {
    path: '/influx/write',
    contentType: 'text/plain; charset=utf-8',
    okStatus: 204,
    encode: (series) => lineProtocol(series),
  },
  // As Prometheus' queue manager sends it: one TimeSeries (full label set) per sample.
  'prom-remote-write': {
    path: '/api/v1/write',
    contentType: 'application/x-protobuf',
    contentEncoding: 'snappy',
    okStatus: 204,
    encode: (series) => encodeWriteRequest(remoteWriteRequest(series, true)),
  },
  otlp: {
    path: '/v1/metrics',
    contentType: 'application/x-protobuf',
    okStatus: 200,
    encode: (series) => otlpProtobuf(otlpResourceMetrics(series)),
  },
};
