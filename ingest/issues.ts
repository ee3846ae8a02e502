/**
 * The one shape of a validation issue, and the write path's issue codes. Both are part of the
 * error catalogue: `server/errors.ts` re-exports them (ingest imports nothing from server/).
 * Retired codes are never reused.
 */

/** Issue codes the write path reports, one line each: what the code means. */
export const WRITE_ISSUES = {
  // validate.ts and the decoders' shape checks
  MTR_WRITE_SHAPE: 'an item does not have the shape the protocol needs',
  MTR_WRITE_KEY_EMPTY: 'a metric name (key) is empty',
  MTR_WRITE_KEY_TOO_LONG: 'a metric name is longer than MAX_KEY_LENGTH characters',
  MTR_WRITE_TOO_MANY_TAGS: 'a series has more than MAX_TAGS_PER_SERIES tags',
  MTR_WRITE_TAG_NAME: 'a tag name is not [a-zA-Z_][a-zA-Z0-9_.]*',
  MTR_WRITE_TAG_NAME_TOO_LONG: 'a tag name is longer than MAX_TAG_NAME_LENGTH characters',
  MTR_WRITE_TAG_VALUE_TYPE: 'a tag value is not a string',
  MTR_WRITE_TAG_VALUE_TOO_LONG: 'a tag value is longer than MAX_TAG_VALUE_BYTES UTF-8 bytes',
  MTR_WRITE_TIMESTAMP_TYPE: 'a timestamp is not an integer number of milliseconds',
  MTR_WRITE_TIMESTAMP_RANGE: 'a timestamp is older than the retention window or too far in the future',
  MTR_WRITE_VALUE_TYPE: 'a value is not a number',
  MTR_WRITE_STRING_ENCODING: 'a name or value holds an unpaired UTF-16 surrogate',
  // decode-influx.ts
  MTR_WRITE_INFLUX_SYNTAX: 'a line is not line protocol',
  MTR_WRITE_INFLUX_STRING_FIELD: 'a field holds a string (Metronome stores numbers)',
  MTR_WRITE_INFLUX_FIELD_VALUE: 'a field value is not a number, integer or boolean',
  MTR_WRITE_INFLUX_TIMESTAMP: 'a line timestamp is not an integer at the precision',
  MTR_WRITE_INFLUX_TAG: 'a tag is malformed or repeated',
  // decode-otlp.ts
  MTR_WRITE_OTLP_HISTOGRAM_BUCKETS: "a histogram's bucket counts do not match its bounds",
  MTR_WRITE_OTLP_METRIC_NAME: 'a metric has no usable name',
} as const;

export type WriteIssueCode = keyof typeof WRITE_ISSUES;

/**
 * One problem found in input, like zod's issues: every validator in Metronome reports these and
 * every refusal lists them under `issues`, so a client learns every problem at once. Where the
 * problem is uses the fields that fit the input.
 */
export interface Issue<C extends string = WriteIssueCode> {
  /** The issue's code in the catalogue, where the check names one. */
  code?: C;
  message: string;
  /**
   * Where in a JSON or YAML document: keys and indexes as zod gives them. The notification
   * config and the dashboard and service APIs send it as text (`route.routes[0].receiver`,
   * `panels.0.query`), as their clients have always read it.
   */
  path?: (string | number)[] | string;
  /** Character position inside the field (a PromQL expression, a template, a matcher). */
  position?: number;
  /** The file the problem is in (rule files). */
  file?: string;
  /** Line (1-based) in a file or a line-oriented body, and column. */
  line?: number;
  column?: number;
  /** Write bodies: index of the series in the request. */
  series?: number;
  /** Write bodies: index of the point within that series. */
  point?: number;
  /** Write bodies: which field (key, tags.<name>, timestamp, value, body...). */
  field?: string;
}
