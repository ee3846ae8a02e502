import { parsePromDuration } from './time.js';
import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * Every setting Metronome reads, with its default, in one place.
 * Parsed once at start-up from the environment and frozen; no other module reads process.env.
 */
const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const bool = (def: boolean) =>
  z
    .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'])
    .default(def ? '1' : '0')
    .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));

/** A Prometheus-style duration (30s, 5m, 1h30m) as milliseconds, at least `min`. */
const promDuration = (def: string, min: number) =>
  z
    .string()
    .default(def)
    .transform((v, ctx) => {
      const ms = parsePromDuration(v, { zero: true }) ?? NaN;
      if (!(ms >= min)) {
        ctx.addIssue({ code: 'custom', message: `must be a duration like 30s, 5m or 1h${min ? ` of at least ${min / 1000}s` : ''}` });
        return z.NEVER;
      }
      return ms;
    });

const configSchema = z.object({
  PORT: int(8080).pipe(z.number().max(65535)),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('./data'),
  /** A ClickHouse server's HTTP URL, or a comma-separated list of them to fail over through. */
  CLICKHOUSE_URL: z
    .string()
    .refine((v) => v.split(',').every((u) => URL.canParse(u.trim())), 'must be a URL or a comma-separated list of URLs')
    .optional(),
  CLICKHOUSE_USER: z.string().default('default'),
  CLICKHOUSE_PASSWORD: z.string().default(''),
  CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'must be a plain identifier')
    .default('metronome'),
  RETENTION_DAYS: int(15, 1),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Flush the write buffer when it holds this many points... */
  BATCH_POINTS: int(400_000, 1),
  /**
   * ...or when its oldest point has waited this long. Default 50 ms when writers wait for the
   * commit (WRITE_ACK=commit), 1,000 ms when they are answered from the write-ahead log (bigger
   * inserts cost ClickHouse less per point; a read flushes at once what it must see).
   */
  FLUSH_MS: z.coerce.number().int().min(1).optional(),
  /** Above this many points accepted but not yet committed, writes get 429. */
  MAX_BUFFERED_POINTS: int(2_000_000, 1),
  /** How many times a failed flush is retried (same deduplication token) before the writers get 503 (WRITE_ACK=commit). */
  FLUSH_RETRIES: int(3, 0),
  /**
   * When a write is answered: `wal`, once its points are in the write-ahead log under DATA_DIR
   * (committed to ClickHouse right after, replayed at start after a crash); `commit`, once
   * ClickHouse committed them. `auto`: `wal` on the embedded single node, `commit` with
   * CLICKHOUSE_URL or LEADER_ELECTION=keeper (stateless nodes keep nothing on their disk).
   */
  WRITE_ACK: z.enum(['auto', 'wal', 'commit']).default('auto'),
  /** Largest accepted request body, after decompression. */
  BODY_LIMIT_BYTES: int(32 * 1024 * 1024, 1024),
  /** How far in the future a point may be. */
  MAX_FUTURE_MS: int(10 * 60 * 1000, 0),
  /** Query engine: a query running longer is cancelled, ClickHouse query included. */
  QUERY_TIMEOUT_MS: int(30_000, 1),
  /** Most series one selector may read in a query. */
  MAX_SERIES: int(20_000, 1),
  /** Most steps (points per series) a range query may return (Prometheus: 11,000). */
  MAX_POINTS_PER_SERIES: int(11_000, 1),
  /** Queries evaluated at once; more wait QUERY_QUEUE_MS for a slot, then get 503. */
  MAX_CONCURRENT_QUERIES: int(8, 1),
  QUERY_QUEUE_MS: int(2_000, 0),
  /**
   * Prometheus 3's experimental PromQL that is on (comma-separated, or `none`), as its feature
   * flags: duration_expr (arithmetic, step(), range(), min_of/max_of in durations),
   * extended_range_selectors (anchored, smoothed), binop_fill_modifiers (fill, fill_left,
   * fill_right), experimental_functions (info, start, end, range, step, min_of, max_of).
   */
  PROMQL_EXPERIMENTAL: z
    .string()
    .default('duration_expr,extended_range_selectors,binop_fill_modifiers,experimental_functions')
    .transform((v, ctx) => {
      const names = v.trim() === 'none' ? [] : v.split(',').map((x) => x.trim()).filter(Boolean);
      const known = ['duration_expr', 'extended_range_selectors', 'binop_fill_modifiers', 'experimental_functions'];
      const bad = names.find((n) => !known.includes(n));
      if (bad) {
        ctx.addIssue({ code: 'custom', message: `unknown feature ${JSON.stringify(bad)}; known: ${known.join(', ')}` });
        return z.NEVER;
      }
      return names as ('duration_expr' | 'extended_range_selectors' | 'binop_fill_modifiers' | 'experimental_functions')[];
    }),
  /** Instant-vector lookback (Prometheus' --query.lookback-delta). */
  LOOKBACK_DELTA_MS: int(300_000, 1),
  /** Retention of the 1-minute and 1-hour rollups. */
  ROLLUP_1M_DAYS: int(90, 1),
  ROLLUP_1H_DAYS: int(730, 1),
  /** How often the rollup job aggregates closed hours (server/rollups/job.ts); 0 turns it off (reads then use raw points). */
  ROLLUP_INTERVAL: promDuration('1m', 0),
  /** An hour is aggregated this long after it ends; later samples mark it dirty and it is recomputed. */
  ROLLUP_LATE_ALLOWANCE: promDuration('5m', 0),
  /** Most step values (series x steps) and raw samples one query may hold in memory at once. */
  MAX_QUERY_SAMPLES: int(20_000_000, 1),
  /** Most bytes one query may hold at once (values, series, label strings, its answer; estimated, see server/promql/budget.ts). */
  MAX_QUERY_BYTES: int(1024 * 1024 * 1024, 1024),
  /** Most bytes all running queries may hold together; a query past it gets 503 (about half of Node's default 4 GB heap). */
  QUERY_MEMORY_BYTES: int(2 * 1024 * 1024 * 1024, 1024),
  /** Largest JSON answer of the query API. */
  MAX_RESULT_BYTES: int(64 * 1024 * 1024, 1024),
  /** Longest label value label_replace or label_join may make (written values: MAX_TAG_VALUE_BYTES); regex matching takes time in proportion. */
  MAX_QUERY_LABEL_BYTES: int(64 * 1024, 1),
  /** Range-query results kept for dashboard refreshes (server/promql/result-cache.ts); 0 turns the cache off. */
  QUERY_CACHE_BYTES: int(128 * 1024 * 1024, 0),
  /** Memory for recent raw points kept in process, read by queries instead of ClickHouse (server/store/head.ts; embedded engine only); 0 turns it off. */
  HEAD_BYTES: int(256 * 1024 * 1024, 0),
  /** How far back (data time) the head keeps points, at most: a duration such as 6h or 24h. */
  HEAD_WINDOW: promDuration('24h', 60_000),
  /** Steps newer than this are recomputed on every refresh; an older write invalidates what it reaches. */
  QUERY_CACHE_FRESHNESS_MS: int(300_000, 0),
  /** Start the demo traffic generator: 'auto' runs it when the data directory starts empty. */
  DEMO: z.enum(['auto', '1', '0']).default('auto'),
  /** History the demo writes when it starts, so dashboards are not empty (hours, 0-24). */
  DEMO_BACKFILL_HOURS: z.coerce.number().min(0).max(24).default(3),
  /** Seconds between the demo's live pushes (its scrape interval). */
  DEMO_INTERVAL_SECONDS: int(10, 1),
  /** Prometheus rule files loaded at start: comma-separated paths or globs. */
  RULE_FILES: z.string().optional(),
  /** Directory of dashboard files (*.json, *.yaml: our model or Grafana JSON), reloaded on change. */
  DASHBOARDS_DIR: z.string().optional(),
  /** Alertmanager-format YAML (route, receivers, inhibit_rules) for notifications. */
  NOTIFY_CONFIG: z.string().optional(),
  /** Evaluation interval of rule groups that set none (a duration: 30s, 1m). */
  ALERT_EVAL_INTERVAL: promDuration('30s', 1000),
  /** Base URL of links in notifications (generatorURL, externalURL); default: this server's URL. */
  EXTERNAL_URL: z.string().url().optional(),
  /** Prometheus' rules.alert.for-grace-period: a restored pending alert waits at least this long. */
  ALERT_FOR_GRACE_PERIOD: promDuration('10m', 0),
  /** Prometheus' rules.alert.for-outage-tolerance: a longer outage restarts `for` from zero. */
  ALERT_OUTAGE_TOLERANCE: promDuration('1h', 0),
  /** Alertmanagers that also get Metronome's own alerts (comma-separated base URLs, as Prometheus' `alerting: alertmanagers`). */
  ALERTMANAGER_URLS: z
    .string()
    .optional()
    .transform((v, zc) => {
      const urls = (v ?? '').split(',').map((u) => u.trim()).filter(Boolean);
      for (const u of urls) if (!/^https?:\/\/[^/]/.test(u)) zc.addIssue({ code: 'custom', message: `${JSON.stringify(u)} is not an http:// or https:// URL` });
      return urls;
    }),
  /** Retention of the alert history table. */
  ALERT_HISTORY_DAYS: int(90, 1),
  /** Rule queries evaluated at once across all groups, in engine slots reserved for them on top of MAX_CONCURRENT_QUERIES. */
  ALERT_MAX_CONCURRENT_QUERIES: int(2, 1),
  /** Access control (server/auth): auto = on when tokens are configured; off = open even off loopback. */
  AUTH: z.enum(['auto', 'on', 'off']).default('auto'),
  /** API tokens inline: `name:token:scope+scope[:service|service]`, comma-separated, or the YAML/JSON list AUTH_TOKENS_FILE holds. */
  AUTH_TOKENS: z.string().optional(),
  /** A YAML or JSON file listing tokens: [{name, token | sha256, scopes, services}]. */
  AUTH_TOKENS_FILE: z.string().optional(),
  /**
   * Host names requests may name besides loopback ones, comma-separated (`*`: any). Without
   * tokens only loopback names are served (DNS rebinding); with tokens, any unless this is set.
   */
  ALLOWED_HOSTS: z.string().default(''),
  /** Requests per second per token (0 = unlimited); bursts up to RATE_LIMIT_BURST_SECONDS worth. */
  RATE_LIMIT_REQUESTS: z.coerce.number().min(0).default(0),
  /** Points written per second per token (0 = unlimited). */
  RATE_LIMIT_POINTS: z.coerce.number().min(0).default(0),
  RATE_LIMIT_BURST_SECONDS: z.coerce.number().min(0.1).default(5),
  /** Per-series limits every write protocol applies (ingest/validate.ts). */
  MAX_KEY_LENGTH: int(256, 1),
  MAX_TAGS_PER_SERIES: int(32, 1),
  MAX_TAG_NAME_LENGTH: int(256, 1),
  MAX_TAG_VALUE_BYTES: int(1024, 1),
  /**
   * Per-request limits checked while a body is decoded, before its cost is paid (ingest/decode-limits.ts).
   * Above what clients send (Prometheus: 2,000 samples per request by default, 10,000 tuned; an
   * OTLP exporter batch: ~8,000 points; Telegraf: 1,000 lines; TSBS: 10,000 lines x 10 fields) and
   * low enough to bound a request's memory and time; decoders yield to the event loop in slices
   * (ingest/slices.ts), so valid 200,000-sample remote-write, Influx and Heroic requests held it
   * at most 50-80 ms at a time (docs/ARCHITECTURE.md, "Limits while decoding").
   */
  /** Series entries of the batch: the writer validates and hashes each one synchronously (an OTLP data point is one entry). */
  MAX_SERIES_PER_REQUEST: int(50_000, 1),
  MAX_SAMPLES_PER_REQUEST: int(200_000, 1),
  /** Labels one series may carry on the wire (`__name__` included); MAX_TAGS_PER_SERIES then applies to what is stored. */
  MAX_LABELS_PER_SERIES: int(128, 1),
  /** Buckets (explicit bounds + 1) of one OTLP histogram point. */
  MAX_BUCKETS_PER_HISTOGRAM: int(1_000, 1),
  /** New series per service (the service or job tag) per UTC day (0 = unlimited). */
  MAX_SERIES_PER_SERVICE: int(100_000, 0),
  /** New series per metric name (key) per UTC day (0 = unlimited). */
  MAX_SERIES_PER_KEY: int(50_000, 0),
  /** A client must send its request headers within this time (slow-loris guard). */
  HTTP_HEADERS_TIMEOUT_MS: int(30_000, 100),
  /** A client must send its whole request (headers and body) within this time. */
  HTTP_REQUEST_TIMEOUT_MS: int(120_000, 100),
  /** A socket with no traffic for this long is closed. */
  HTTP_IDLE_TIMEOUT_MS: int(60_000, 100),
  /** An idle keep-alive connection is closed after this long. */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: int(65_000, 100),
  /** Most client connections open at once; more are closed as they arrive. */
  MAX_CONNECTIONS: int(1024, 1),
  /** Black-box probes (server/probes): networks a probe may connect to, as CIDRs (empty: any). */
  PROBE_ALLOWED_NETWORKS: cidrList(''),
  /** Networks a probe never connects to, checked after the allow list (default: link-local, where cloud metadata endpoints answer). */
  PROBE_DENIED_NETWORKS: cidrList('169.254.0.0/16,fe80::/10'),
  /** Ports a probe may target: numbers and ranges, comma-separated (`443,8000-8999`; empty: any). */
  PROBE_ALLOWED_PORTS: z
    .string()
    .default('')
    .refine((v) => v.split(',').every((p) => p.trim() === '' || /^\d{1,5}(-\d{1,5})?$/.test(p.trim())), 'must be ports and ranges like 443,8000-8999'),
  /** Shortest probe interval a probe may ask for. */
  PROBE_MIN_INTERVAL: promDuration('5s', 1000),
  /**
   * Cluster mode (README "Running a cluster"). MIGRATE: auto = migrate at start under the
   * migration lock; off = never (a one-shot `metronome migrate` job does it; start refuses an
   * older schema); only = migrate, then exit.
   */
  MIGRATE: z.enum(['auto', 'off', 'only']).default('auto'),
  /** Leader election: off = this node is always leader (one node); keeper = a lease in a KeeperMap table. */
  LEADER_ELECTION: z.enum(['off', 'keeper']).default('off'),
  /** This node's name in the lease (default: host name and pid). */
  NODE_ID: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be 1-128 letters, digits, _ . : -').optional(),
  /** How long a lease holds without renewal, and how often the holder renews it. */
  LEASE_TTL: promDuration('15s', 1000),
  LEASE_RENEW: promDuration('5s', 100),
  /** Followers reload rules, silences, alert state and notification config this often. */
  CONFIG_POLL_INTERVAL: promDuration('5s', 100),
  /** ClickHouse server configuration for the embedded engine (e.g. a <zookeeper> section for KeeperMap). */
  CHDB_CONFIG_FILE: z.string().optional(),
  /** How ClickHouse tables are laid out: one server, replicated on every server, or sharded by series_id. */
  CLICKHOUSE_TOPOLOGY: z.enum(['single', 'replicated', 'sharded']).default('single'),
  /** The cluster name of remote_servers that ON CLUSTER and Distributed tables name (replicated, sharded). */
  CLICKHOUSE_CLUSTER: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'must be a plain identifier').optional(),
});

/** Comma-separated CIDRs (10.0.0.0/8, fd00::/8); a bare address is a /32 or /128. */
function cidrList(def: string) {
  return z
    .string()
    .default(def)
    .refine(
      (v) =>
        v.split(',').every((c) => {
          const t = c.trim();
          if (t === '') return true;
          const [addr, bits, extra] = t.split('/');
          const kind = isIP(addr);
          if (!kind || extra !== undefined) return false;
          if (bits === undefined) return true;
          const n = Number(bits);
          return /^\d+$/.test(bits) && n <= (kind === 4 ? 32 : 128);
        }),
      'must be CIDRs like 10.0.0.0/8,fd00::/8',
    );
}

export type Config = Readonly<z.infer<typeof configSchema>>;

/** Parse and freeze the configuration. Throws ConfigError naming the first bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const picked: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') picked[key] = v;
  }
  const parsed = configSchema.safeParse(picked);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue.path[0] ?? 'config');
    throw new ConfigError(`invalid ${name}=${JSON.stringify(picked[name] ?? '')}: ${issue.message}`);
  }
  return Object.freeze(parsed.data);
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}
