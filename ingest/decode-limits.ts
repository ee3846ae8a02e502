/**
 * Per-request limits every decoder checks while it reads, before it pays for what it would
 * allocate (issue 11: one 32 MB OTLP request with a 4 M-bound histogram took 33 s and 4 GB
 * when limits were applied only after decoding). The counts are cheap integers bumped where the
 * decoder already is; the first one past its limit ends the decode with a DecodeLimitError,
 * which the route turns into a catalogue error naming the limit and the field.
 */
export interface DecodeLimits {
  /** Most series in one request: label sets (remote write, metadata entries included), Influx series-field pairs, Heroic items, OTLP data points (each its own entry of the batch). */
  maxSeries: number;
  /** Most samples (points, staleness markers, histogram and summary series points) in one request. */
  maxSamples: number;
  /** Most labels (tags, attributes; `__name__` included) on one series, counted before they are parsed. */
  maxLabels: number;
  /** Most buckets (explicit bounds + 1) of one histogram point. */
  maxBuckets: number;
}

export const NO_DECODE_LIMITS: DecodeLimits = Object.freeze({
  maxSeries: Infinity,
  maxSamples: Infinity,
  maxLabels: Infinity,
  maxBuckets: Infinity,
});

export type DecodeLimitName = keyof DecodeLimits;

/** A request past one of its DecodeLimits. `field` says where, in the protocol's own terms. */
export class DecodeLimitError extends Error {
  override name = 'DecodeLimitError';
  constructor(
    readonly limit: DecodeLimitName,
    readonly max: number,
    readonly field: string,
  ) {
    super(`${field}: more than ${max} (${limit})`);
  }
}

/** Running totals of one request, refusing as soon as one passes its limit. */
export class DecodeBudget {
  series = 0;
  samples = 0;
  constructor(readonly limits: DecodeLimits) {}

  addSeries(n: number, field: string): void {
    this.series += n;
    if (this.series > this.limits.maxSeries) throw new DecodeLimitError('maxSeries', this.limits.maxSeries, field);
  }

  addSamples(n: number, field: string): void {
    this.samples += n;
    if (this.samples > this.limits.maxSamples) throw new DecodeLimitError('maxSamples', this.limits.maxSamples, field);
  }

  labels(n: number, field: string): void {
    if (n > this.limits.maxLabels) throw new DecodeLimitError('maxLabels', this.limits.maxLabels, field);
  }

  buckets(n: number, field: string): void {
    if (n > this.limits.maxBuckets) throw new DecodeLimitError('maxBuckets', this.limits.maxBuckets, field);
  }
}
