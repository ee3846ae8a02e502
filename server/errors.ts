/**
 * The error catalogue: every error a client can receive from Metronome, with a stable code and
 * an HTTP status. Tests assert codes, never messages. Retired codes are never reused.
 *
 * Modules add their codes here (one line each) rather than inventing statuses at the route; a
 * validation's issue codes go in ISSUES below. test/error-catalogue.test.ts checks that every
 * `MTR_` literal in the tree is catalogued, every catalogued code is used, and the README's
 * table of codes lists exactly these, with these statuses.
 */
import { WRITE_ISSUES, type Issue as IssueOf } from '../ingest/issues.js';

export const ERRORS = {
  // Write path
  MTR_WRITE_INVALID: { status: 400, message: 'the request has %d invalid item(s); nothing was stored' },
  MTR_WRITE_BODY: { status: 400, message: 'the body could not be decoded: %s' },
  MTR_WRITE_TOO_LARGE: { status: 413, message: 'the body is larger than %d bytes' },
  MTR_WRITE_CONTENT_TYPE: { status: 415, message: 'unsupported content type %s; send %s' },
  MTR_WRITE_ENCODING: { status: 415, message: 'unsupported content encoding %s; send gzip or identity' },
  MTR_WRITE_BACKPRESSURE: { status: 429, message: 'the write buffer is full (%d points buffered); retry later' },
  MTR_WRITE_STORE_FAILED: { status: 503, message: 'the points could not be committed to storage; retry' },
  MTR_STORE_UNAVAILABLE: { status: 503, message: 'the storage engine is not answering; retry later' },
  MTR_WRITE_SHUTTING_DOWN: { status: 503, message: 'the server is shutting down; retry on another instance' },
  // Write protocols (remote write, Influx, OTLP)
  MTR_WRITE_BAD_PARAM: { status: 400, message: 'invalid parameter %s: %s' },
  MTR_WRITE_UNSUPPORTED: { status: 400, message: '%s' },
  MTR_WRITE_PROTOCOL_ENCODING: { status: 415, message: 'unsupported content encoding %s for %s; send %s' },
  // Limits checked while decoding (ingest/decode-limits.ts): 413 for a request too big as a whole, 400 for one item
  MTR_WRITE_TOO_MANY_SERIES: { status: 413, message: 'the request holds more than %d series (MAX_SERIES_PER_REQUEST), past %s; split it into smaller requests; nothing was stored' },
  MTR_WRITE_TOO_MANY_SAMPLES: { status: 413, message: 'the request holds more than %d samples (MAX_SAMPLES_PER_REQUEST), past %s; split it into smaller requests; nothing was stored' },
  MTR_WRITE_TOO_MANY_LABELS: { status: 400, message: 'a series has more than %d labels (MAX_LABELS_PER_SERIES) at %s; nothing was stored' },
  MTR_WRITE_TOO_MANY_BUCKETS: { status: 400, message: 'a histogram has more than %d buckets (MAX_BUCKETS_PER_HISTOGRAM) at %s; nothing was stored' },
  // Read path (foundation)
  // Worded as Prometheus words a bad parameter (and as MTR_QUERY_BAD_PARAM): invalid parameter "start": cannot parse ...
  MTR_READ_BAD_PARAM: { status: 400, message: 'invalid parameter "%s": %s' },
  // Query engine (PromQL)
  MTR_QUERY_PARSE: { status: 400, message: '%s' },
  MTR_QUERY_BAD_PARAM: { status: 400, message: 'invalid parameter "%s": %s' },
  MTR_QUERY_EXEC: { status: 422, message: '%s' },
  MTR_QUERY_TIMEOUT: { status: 503, message: 'query timed out after %d ms (QUERY_TIMEOUT_MS)' },
  // nginx's 499: nobody reads the answer, and nothing went wrong here.
  MTR_CLIENT_CLOSED: { status: 499, message: 'the client closed the connection before the answer' },
  MTR_QUERY_TOO_MANY_SERIES: { status: 422, message: 'a selector matched more than %d series (MAX_SERIES); narrow it with more label matchers' },
  MTR_QUERY_TOO_MANY_POINTS: { status: 400, message: 'exceeded maximum resolution of %d points per timeseries (would be %d); try decreasing the query resolution (?step=XX)' },
  MTR_QUERY_OVERLOADED: { status: 503, message: 'too many concurrent queries (%s=%d) and none finished within %d ms; retry later' },
  MTR_QUERY_TOO_MANY_SAMPLES: { status: 422, message: 'query processing would load more than %d samples into memory (MAX_QUERY_SAMPLES); use a larger step, a shorter range or fewer series' },
  MTR_QUERY_TOO_MANY_BYTES: { status: 422, message: 'query processing would hold more than %d bytes in memory (MAX_QUERY_BYTES); use a larger step, a shorter range, fewer series or shorter labels' },
  MTR_QUERY_RESULT_TOO_LARGE: { status: 422, message: 'the answer would be larger than %d bytes (MAX_RESULT_BYTES); use a larger step, a shorter range or fewer series' },
  MTR_QUERY_LABEL_TOO_LONG: { status: 422, message: '%s would make a label value of more than %d bytes (MAX_QUERY_LABEL_BYTES)' },
  MTR_QUERY_MEMORY_FULL: { status: 503, message: 'the queries running now hold %d bytes between them (QUERY_MEMORY_BYTES); retry later' },
  MTR_METADATA_BAD_REQUEST: { status: 400, message: 'invalid %s: %s' },
  MTR_HEROIC_BAD_REQUEST: { status: 400, message: 'invalid %s: %s' },
  // Services and dashboards
  MTR_SERVICE_INVALID: { status: 400, message: 'the service definition is invalid: %s' },
  MTR_SERVICE_NOT_FOUND: { status: 404, message: 'no service named %s (neither registered nor sending metrics)' },
  MTR_DASHBOARD_INVALID: { status: 400, message: 'the dashboard is invalid: %s' },
  MTR_SERVICE_ALERTING: { status: 503, message: 'alerting could not take the rules: %s' },
  // Probes
  MTR_PROBE_INVALID: { status: 400, message: 'the probe is invalid: %s' },
  MTR_PROBE_NOT_FOUND: { status: 404, message: 'no probe named %s' },
  MTR_PROBE_DERIVED: { status: 409, message: "probe %s follows service %s's health link: change or remove the link (POST /api/v1/services), or create a probe with this name to override it" },
  MTR_DASHBOARD_NOT_FOUND: { status: 404, message: 'no dashboard with id %s' },
  MTR_DASHBOARD_EXISTS: { status: 409, message: 'a dashboard with id %s exists; PUT /api/v1/dashboards/<id> to replace it (import: ?overwrite=1)' },
  MTR_DASHBOARD_READ_ONLY: { status: 409, message: 'dashboard %s is provisioned from %s; change the file' },
  MTR_DASHBOARD_IMPORT: { status: 400, message: 'cannot import: %s' },
  MTR_ANNOTATION_INVALID: { status: 400, message: 'the annotation is invalid: %s' },
  // Alerting
  MTR_ALERT_RULE_INVALID: { status: 400, message: 'the rule is invalid: %s' },
  MTR_ALERT_RULE_NOT_FOUND: { status: 404, message: 'no alerting or recording rule with id %s' },
  MTR_ALERT_RULE_READ_ONLY: { status: 409, message: 'rule %s comes from %s; change it there' },
  MTR_ALERT_GROUP_INTERVAL: { status: 409, message: 'rule group %s evaluates every %ss; a rule in it cannot set interval %ss (omit interval or use another group)' },
  MTR_SLO_INVALID: { status: 400, message: 'the SLO is invalid: %s' },
  MTR_SLO_NOT_FOUND: { status: 404, message: 'no SLO with id %s' },
  MTR_SILENCE_INVALID: { status: 400, message: 'the silence is invalid: %s' },
  MTR_SILENCE_NOT_FOUND: { status: 404, message: 'no silence with id %s' },
  MTR_SILENCE_EXPIRED: { status: 409, message: 'silence %s has expired; create a new one' },
  MTR_NOTIFY_CONFIG_INVALID: { status: 400, message: 'the notification config is invalid: %s' },
  MTR_RECEIVER_NOT_FOUND: { status: 404, message: 'no receiver named %s in the notification config' },
  MTR_ALERTS_INVALID: { status: 400, message: 'the alerts are invalid: %s' },
  MTR_AM_BAD_PARAM: { status: 400, message: 'invalid parameter %s: %s' },
  // Cluster mode (server/cluster)
  MTR_CLUSTER_NOT_LEADER: { status: 503, message: 'this node is not the leader (the leader is %s): post alerts to the leader; nothing was accepted' },
  MTR_ALERTING_UNAVAILABLE: { status: 503, message: 'alerting is not running on this server' },
  // Access control (server/auth)
  MTR_AUTH_REQUIRED: { status: 401, message: 'a token is required for %s %s; send Authorization: Bearer <token>' },
  MTR_AUTH_INVALID: { status: 401, message: 'the token is not valid' },
  MTR_AUTH_FORBIDDEN: { status: 403, message: 'token %s lacks the %s scope that %s %s needs' },
  MTR_HOST_NOT_ALLOWED: { status: 421, message: 'Host %s is not served here: without tokens Metronome answers loopback names only; add the name to ALLOWED_HOSTS' },
  MTR_CROSS_SITE: { status: 403, message: '%s %s from another site is refused (%s): a browser page elsewhere may not change anything here' },
  MTR_AUTH_SERVICE_FORBIDDEN: { status: 403, message: 'token %s may write only to service(s) %s; %s (%s) belongs to service %s (a series belongs to the services its service and job labels name)' },
  // Limits (server/limits)
  MTR_LIMIT_SERIES_PER_SERVICE: { status: 400, message: 'service %s would exceed MAX_SERIES_PER_SERVICE=%d new series today (%d so far, %d more in this request); nothing was stored' },
  MTR_LIMIT_SERIES_PER_KEY: { status: 400, message: 'metric %s would exceed MAX_SERIES_PER_KEY=%d new series today (%d so far, %d more in this request); nothing was stored' },
  MTR_RATE_LIMIT_REQUESTS: { status: 429, message: 'token %s exceeds %s requests per second (RATE_LIMIT_REQUESTS); retry after %d s' },
  MTR_RATE_LIMIT_POINTS: { status: 429, message: 'token %s exceeds %s points per second (RATE_LIMIT_POINTS); retry after %d s' },
  // Bad input caught below the routes
  MTR_VALUE_OUT_OF_RANGE: { status: 400, message: 'a time, duration or number in the request is out of range (%s); use values within years 1900-2299' },
  MTR_INPUT_TOO_DEEP: { status: 400, message: 'the input is nested too deeply or too large to process' },
  MTR_INVALID_REGEX: { status: 400, message: 'invalid regular expression (RE2 syntax): %s' },
  // Generic
  MTR_BAD_REQUEST: { status: 400, message: 'bad request: %s' },
  MTR_NOT_FOUND: { status: 404, message: 'no route for %s %s' },
  MTR_INTERNAL: { status: 500, message: 'internal error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/**
 * Issue codes: what an entry of a refusal's `issues` list may carry (inside a 400 such as
 * MTR_WRITE_INVALID or MTR_ALERT_RULE_INVALID), never an answer's own code. One line each: what
 * the code means. The write path's come from ingest/issues.ts.
 */
export const ISSUES = {
  ...WRITE_ISSUES,
  // Alerting and recording rules, over the API and in rule files (alerting/rules.ts, rule-files.ts)
  MTR_RULE_SHAPE: 'a field of the rule has the wrong type, is missing or is out of bounds',
  MTR_RULE_PROMQL: 'the expression is not valid PromQL',
  MTR_RULE_TEMPLATE: 'a label or annotation template does not parse, or a recording rule templates a label',
  MTR_RULE_LABEL_NAME: 'a label or annotation name is not [a-zA-Z_][a-zA-Z0-9_]* or starts with __',
  MTR_RULE_NAME: 'not exactly one of alert and record, or record is not a metric name',
  MTR_RULE_DURATION: 'a duration (for, keep_firing_for, interval, query_offset) is not valid or too short',
  MTR_RULE_FIELD: 'an unknown field, or one that does not apply to this kind of rule',
  MTR_RULE_FILE_YAML: 'a rule file is not valid YAML',
  MTR_RULE_FILE_MISSING: 'RULE_FILES names a path or glob that matches no file, or a file that cannot be read',
  MTR_RULE_GROUP_DUPLICATE: 'two groups of one rule file have the same name',
  // SLOs (alerting/slo.ts)
  MTR_SLO_SHAPE: 'a field of the SLO has the wrong type or is missing',
  MTR_SLO_WINDOW: 'the window is not a duration of at least 1h',
  MTR_SLO_SLI: 'the SLI gives not exactly one of errors or good (with total), or one of its queries is not valid PromQL',
  MTR_SLO_INTERVAL: 'the interval is not a duration of at least 1s',
} as const satisfies Record<string, string>;

export type IssueCode = keyof typeof ISSUES;

/** One problem found in input (see ingest/issues.ts): every validation reports these. */
export type Issue = IssueOf<IssueCode>;

/** Issues as one line of text, `path: message; ...` (an empty path reads as `empty`). */
export function issuesText(issues: readonly Issue[], empty = ''): string {
  return issues.map((i) => `${(Array.isArray(i.path) ? i.path.join('.') : i.path) || empty}: ${i.message}`).join('; ');
}

/** A refusal listing every issue (400 MTR_*_INVALID): the message joins them, `details.issues` has them. */
export function invalid(code: ErrorCode, issues: Issue[], empty = ''): MetronomeError {
  return new MetronomeError(code, [issuesText(issues, empty)], { details: { issues } });
}

/** An error with a catalogue code. `details` is sent to the client alongside code and message. */
export class MetronomeError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: Record<string, unknown>;
  readonly headers?: Record<string, string>;

  constructor(
    code: ErrorCode,
    args: readonly (string | number)[] = [],
    opts: { details?: Record<string, unknown>; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    const entry = ERRORS[code];
    let i = 0;
    super(entry.message.replace(/%[sd]/g, () => String(args[i++] ?? '')), { cause: opts.cause });
    this.name = 'MetronomeError';
    this.code = code;
    this.status = entry.status;
    this.details = opts.details;
    this.headers = opts.headers;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.details };
  }
}

export function isMetronomeError(e: unknown): e is MetronomeError {
  return e instanceof MetronomeError;
}
