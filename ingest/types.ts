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
  /**
   * The decoder's cache entry for this series (same key and tags every time it is handed out),
   * on which the later stages note what they computed: a series seen before costs no string
   * work after decoding (issue 11: per-series id hashing and validation were a third of the
   * remote-write CPU). Absent where a decoder has no series cache (OTLP; Heroic msgpack and
   * JSON bodies off the fast path of decode-heroic-json.ts).
   */
  memo?: SeriesMemo;
}

/**
 * What the write path learns about a cached series, kept with the decoder's cache entry. Its
 * key and tags must never change while the entry lives (nothing downstream mutates tags).
 */
export interface SeriesMemo {
  /** The series id's words, valid once `idSet`. */
  hi: number;
  lo: number;
  idSet: boolean;
  /** The limits object the key and tags last passed validation under (null: not yet). */
  validFor: object | null;
  /** The writer that recorded this series (server/writer.ts), and its slot there. */
  seenBy?: object;
  seenSlot?: number;
}

export interface WriteBatch {
  series: SeriesSamples[];
  /** Total number of samples across series, counted by the decoder. */
  points: number;
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
