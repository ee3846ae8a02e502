/**
 * The plain data types that flow from the decoders to the store. Every wire format decodes into
 * a WriteBatch; validation, series ids and the batcher only ever see this shape.
 */

/** The samples of one series in one request. timestamps are unix milliseconds. */
export interface SeriesSamples {
  /** Metric name (Heroic "key", Prometheus __name__). */
  key: string;
  tags: Record<string, string>;
  timestamps: ArrayLike<number>;
  values: ArrayLike<number>;
}

export interface WriteBatch {
  series: SeriesSamples[];
  /** Total number of samples across series, counted by the decoder. */
  points: number;
}

/** A problem found in a request, keyed by a stable code and the place it was found. */
export interface WriteIssue {
  code: string;
  message: string;
  /** Index of the series in the request, when the problem belongs to one. */
  series?: number;
  /** Index of the point within that series. */
  point?: number;
  /** Line number (1-based) for line-oriented formats. */
  line?: number;
  /** Which field: key, tags.<name>, timestamp, value, body... */
  field?: string;
}

/**
 * Columnar points ready for the store. seriesId holds unsigned 64-bit ids in a signed array
 * (same bits); ts is unix ms as a float (exact for integers below 2^53).
 */
export interface PointColumns {
  length: number;
  seriesId: BigInt64Array;
  ts: Float64Array;
  value: Float64Array;
}

/** A series first seen by this process, to be recorded in the series table. */
export interface NewSeries {
  /** Unsigned decimal string of the 64-bit id. */
  seriesId: string;
  key: string;
  tags: Record<string, string>;
  service: string;
  /** First timestamp seen, unix ms. */
  firstSeen: number;
  lastSeen: number;
}
