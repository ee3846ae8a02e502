import { Packr } from 'msgpackr';

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
};
