import type { Family } from './families.js';
import { METRIC_NAME } from '../../ingest/names.js';

/**
 * A service's golden signals (request rate, error ratio, latency quantiles) as PromQL, found from
 * the metric families it sends by the Prometheus, OpenTelemetry and gRPC naming conventions.
 * Shared by the dashboard generator, the health summary and the proposed alert rules.
 */

export interface Traffic {
  kind: 'http' | 'rpc';
  /** The metric counted for requests: a counter, or a histogram's _count. */
  requests: string;
  /** Label holding the status, and the regex of server errors for it. */
  status: { label: string; errors: string } | null;
  route: string | null;
  method: string | null;
  /** The latency histogram, when there is one. */
  latency: { bucket: string; count: string; unit: 'seconds' | 'milliseconds'; family: string } | null;
  /** Families these signals are built from (left out of the "other metrics" sections). */
  families: string[];
}

const HTTP_COUNTER = /^(?:.*_)?http_(?:server_)?requests?_total$/;
const HTTP_HISTOGRAM = /^(?:.*_)?http_(?:server_)?(?:request_duration|requests|duration|request_latency)_(seconds|milliseconds)$/;
const GRPC_COUNTER = /^(?:.*_)?grpc_server_handled_total$/;
const GRPC_HISTOGRAM = /^(?:.*_)?grpc_server_handling_(seconds)$/;
const OTEL_RPC_HISTOGRAM = /^rpc_server_(?:call_)?duration_(seconds|milliseconds)$/;

const STATUS_LABELS = ['code', 'status_code', 'status', 'http_status_code', 'http_response_status_code', 'response_code'];
const ROUTE_LABELS = ['route', 'handler', 'http_route', 'path', 'uri', 'endpoint', 'url_path', 'operation'];
const METHOD_LABELS = ['method', 'http_method', 'http_request_method'];
const GRPC_STATUS = ['grpc_code', 'rpc_grpc_status_code'];
const GRPC_METHOD = ['grpc_method', 'rpc_method'];

/** gRPC codes that mean the server failed (not the caller): by name and by number. */
const GRPC_SERVER_ERRORS = 'Unknown|DeadlineExceeded|Unimplemented|Internal|Unavailable|DataLoss';
const GRPC_SERVER_ERROR_NUMBERS = '2|4|12|13|14|15';

const first = (labels: string[], candidates: string[]) => candidates.find((c) => labels.includes(c)) ?? null;

/** Find HTTP server traffic, else RPC server traffic; null when the service has neither. */
export function findTraffic(families: readonly Family[]): Traffic | null {
  return httpTraffic(families) ?? rpcTraffic(families);
}

function httpTraffic(families: readonly Family[]): Traffic | null {
  const counter = families.find((f) => f.type === 'counter' && HTTP_COUNTER.test(f.name));
  const hist = families.find((f) => f.type === 'histogram' && HTTP_HISTOGRAM.test(f.name));
  if (!counter && !hist) return null;
  const src = counter ?? hist!;
  const labels = src.labels;
  const statusLabel = first(labels, STATUS_LABELS);
  return {
    kind: 'http',
    requests: counter ? counter.name : `${hist!.name}_count`,
    status: statusLabel ? { label: statusLabel, errors: '5..' } : null,
    route: first(labels, ROUTE_LABELS) ?? (hist ? first(hist.labels, ROUTE_LABELS) : null),
    method: first(labels, METHOD_LABELS),
    latency: hist ? latencyOf(hist, HTTP_HISTOGRAM) : null,
    families: [counter?.name, hist?.name].filter((x): x is string => !!x),
  };
}

function rpcTraffic(families: readonly Family[]): Traffic | null {
  const counter = families.find((f) => f.type === 'counter' && GRPC_COUNTER.test(f.name));
  const hist = families.find((f) => f.type === 'histogram' && (GRPC_HISTOGRAM.test(f.name) || OTEL_RPC_HISTOGRAM.test(f.name)));
  if (!counter && !hist) return null;
  const src = counter ?? hist!;
  const statusLabel = first(src.labels, GRPC_STATUS);
  return {
    kind: 'rpc',
    requests: counter ? counter.name : `${hist!.name}_count`,
    status: statusLabel
      ? { label: statusLabel, errors: statusLabel === 'rpc_grpc_status_code' ? GRPC_SERVER_ERROR_NUMBERS : GRPC_SERVER_ERRORS }
      : null,
    route: first(src.labels, GRPC_METHOD) ?? (hist ? first(hist.labels, GRPC_METHOD) : null),
    method: null,
    latency: hist ? latencyOf(hist, GRPC_HISTOGRAM.test(hist.name) ? GRPC_HISTOGRAM : OTEL_RPC_HISTOGRAM) : null,
    families: [counter?.name, hist?.name].filter((x): x is string => !!x),
  };
}

function latencyOf(hist: Family, re: RegExp): Traffic['latency'] {
  const unit = re.exec(hist.name)?.[1] === 'milliseconds' ? 'milliseconds' : 'seconds';
  return { bucket: `${hist.name}_bucket`, count: `${hist.name}_count`, unit, family: hist.name };
}

/** PromQL string literal (double-quoted, escaped). */
export function quote(v: string): string {
  return JSON.stringify(v);
}


/**
 * A selector: metric name plus matchers, e.g. http_requests_total{service="a",code=~"5.."}.
 * A name PromQL cannot write bare (Heroic's cpu.usage) goes inside the braces, quoted, as
 * Prometheus 3 allows: {"cpu.usage",service="a"}.
 */
export function selector(metric: string, matchers: readonly string[]): string {
  if (METRIC_NAME.test(metric)) return `${metric}{${matchers.join(',')}}`;
  return `{${[quote(metric), ...matchers].join(',')}}`;
}

/** PromQL builders for one service's traffic; `sel` are the matchers naming the service. */
export function trafficQueries(t: Traffic, sel: readonly string[]) {
  const by = (labels: (string | null | undefined)[]) => {
    const ls = labels.filter((l): l is string => !!l);
    return ls.length ? ` by (${ls.join(', ')})` : '';
  };
  const errSel = t.status ? [...sel, `${t.status.label}=~${quote(t.status.errors)}`] : null;
  return {
    rate: (w: string, groupBy: (string | null)[] = []) => `sum${by(groupBy)} (rate(${selector(t.requests, sel)}[${w}]))`,
    /** Errors per request; `or vector(0)` keeps the ratio at 0 (not absent) when no error series exists yet. */
    errorRatio: (w: string): string | null =>
      errSel
        ? `(sum(rate(${selector(t.requests, errSel)}[${w}])) or vector(0)) / sum(rate(${selector(t.requests, sel)}[${w}]))`
        : null,
    errorRatioBy: (w: string, label: string): string | null =>
      errSel ? `sum by (${label}) (rate(${selector(t.requests, errSel)}[${w}])) / sum by (${label}) (rate(${selector(t.requests, sel)}[${w}]))` : null,
    quantile: (q: number, w: string, groupBy: (string | null)[] = []): string | null =>
      t.latency ? `histogram_quantile(${q}, sum${by(['le', ...groupBy])} (rate(${selector(t.latency.bucket, sel)}[${w}])))` : null,
    /** Fraction of requests slower than `threshold` seconds (a bucket boundary). */
    slowRatio: (threshold: number, w: string): string | null => {
      if (!t.latency) return null;
      const le = t.latency.unit === 'milliseconds' ? threshold * 1000 : threshold;
      return `1 - sum(rate(${selector(t.latency.bucket, [...sel, `le=${quote(formatLe(le))}`])}[${w}])) / sum(rate(${selector(t.latency.count, sel)}[${w}]))`;
    },
  };
}

/** A bucket boundary as Prometheus clients write it ("0.25", "1", "2.5"). */
export function formatLe(v: number): string {
  return String(v);
}
