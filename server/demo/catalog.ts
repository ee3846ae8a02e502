import type { ServiceDef } from '../services/model.js';

/**
 * The demo's services: what each one exposes (instrumentation style, routes, runtime) and how it
 * behaves (traffic, latency, errors). Shapes follow real client libraries: prom-client (Node),
 * client_golang (Go), go-grpc-prometheus, and the OpenTelemetry Prometheus exporter (JVM).
 */

type Runtime = 'node' | 'go' | 'jvm';

export interface RouteSpec {
  route: string;
  method: string;
  /** Share of the service's traffic. */
  share: number;
  /** Median latency, seconds. */
  median: number;
  /** Baseline share of server errors. */
  errors: number;
}

export interface DemoService {
  name: string;
  /** How the series name the service: a `service` tag, or a scrape `job` label. */
  label: 'service' | 'job';
  instances: number;
  runtime: Runtime;
  /** prom: http_requests_total + http_request_duration_seconds; otel: http_server_request_duration_seconds; grpc: go-grpc-prometheus; none: a worker. */
  style: 'prom' | 'otel' | 'grpc' | 'none';
  /** Requests per second at the daily peak, whole service. */
  peakRps: number;
  routes: RouteSpec[];
  /** Error spikes: every `everyMin` minutes for `forMin` minutes, error share becomes `ratio`. */
  spike?: { everyMin: number; forMin: number; ratio: number; offsetMin: number };
  registry: ServiceDef;
}

export const DEMO_SERVICES: DemoService[] = [
  {
    name: 'frontend',
    label: 'service',
    instances: 2,
    runtime: 'node',
    style: 'prom',
    peakRps: 180,
    routes: [
      { route: '/', method: 'GET', share: 0.35, median: 0.045, errors: 0.001 },
      { route: '/product/:id', method: 'GET', share: 0.3, median: 0.07, errors: 0.002 },
      { route: '/cart', method: 'GET', share: 0.15, median: 0.06, errors: 0.002 },
      { route: '/cart', method: 'POST', share: 0.12, median: 0.11, errors: 0.004 },
      { route: '/login', method: 'POST', share: 0.08, median: 0.16, errors: 0.003 },
    ],
    registry: {
      name: 'frontend',
      owner: { team: 'web-platform', contact: '#web-platform' },
      description: 'Server-rendered storefront and API gateway.',
      tier: 'critical',
      links: { runbook: 'https://runbooks.example.com/frontend', repository: 'https://git.example.com/shop/frontend' },
    },
  },
  {
    name: 'checkout',
    label: 'service',
    instances: 2,
    runtime: 'go',
    style: 'prom',
    peakRps: 40,
    routes: [
      { route: '/api/checkout', method: 'POST', share: 0.4, median: 0.18, errors: 0.0015 },
      { route: '/api/orders/:id', method: 'GET', share: 0.35, median: 0.035, errors: 0.0005 },
      { route: '/api/shipping/quote', method: 'POST', share: 0.25, median: 0.09, errors: 0.001 },
    ],
    spike: { everyMin: 71, forMin: 3, ratio: 0.06, offsetMin: 20 },
    registry: {
      name: 'checkout',
      owner: { team: 'payments-and-orders', contact: 'orders-oncall@example.com' },
      description: 'Turns carts into orders: pricing, shipping quotes, order records.',
      tier: 'critical',
      links: { runbook: 'https://runbooks.example.com/checkout', repository: 'https://git.example.com/shop/checkout' },
      slo: { objective: 0.995, window: '30d', indicator: 'availability' },
    },
  },
  {
    name: 'payments',
    label: 'service',
    instances: 2,
    runtime: 'jvm',
    style: 'otel',
    peakRps: 25,
    routes: [
      { route: '/v1/charges', method: 'POST', share: 0.6, median: 0.15, errors: 0.004 },
      { route: '/v1/refunds', method: 'POST', share: 0.1, median: 0.19, errors: 0.006 },
      { route: '/v1/charges/{id}', method: 'GET', share: 0.3, median: 0.03, errors: 0.001 },
    ],
    spike: { everyMin: 47, forMin: 4, ratio: 0.18, offsetMin: 9 },
    registry: {
      name: 'payments',
      owner: { team: 'payments-and-orders', contact: 'payments-oncall@example.com' },
      description: 'Card charges and refunds through two payment providers.',
      tier: 'high',
      links: { runbook: 'https://runbooks.example.com/payments' },
    },
  },
  {
    name: 'auth',
    label: 'job',
    instances: 2,
    runtime: 'go',
    style: 'grpc',
    peakRps: 120,
    routes: [
      { route: 'ValidateToken', method: 'auth.v1.Auth', share: 0.8, median: 0.004, errors: 0.0005 },
      { route: 'IssueToken', method: 'auth.v1.Auth', share: 0.15, median: 0.03, errors: 0.001 },
      { route: 'Revoke', method: 'auth.v1.Auth', share: 0.05, median: 0.012, errors: 0.001 },
    ],
    registry: {
      name: 'auth',
      owner: { team: 'identity', contact: '#identity' },
      description: 'Token issuance and validation (gRPC).',
      tier: 'high',
    },
  },
  {
    name: 'inventory-worker',
    label: 'service',
    instances: 1,
    runtime: 'node',
    style: 'none',
    peakRps: 0,
    routes: [],
    registry: {
      name: 'inventory-worker',
      owner: { team: 'catalog' },
      description: 'Background jobs that sync stock levels from warehouses.',
      tier: 'medium',
    },
  },
];

export const DEMO_NAMES = DEMO_SERVICES.map((s) => s.name);

/** The demo's own alert rule, chosen to fire within a minute of start (provider "acme" is flaky). */
export const DEMO_ALERT = {
  name: 'PaymentProviderDegraded',
  expr:
    'sum by (provider) (rate(payments_provider_requests_total{service="payments",outcome="error"}[2m])) / ' +
    'sum by (provider) (rate(payments_provider_requests_total{service="payments"}[2m])) > 0.05',
  for: '30s',
  labels: { severity: 'warning', service: 'payments' },
  annotations: {
    summary: 'Payment provider {{ $labels.provider }} fails {{ $value | humanizePercentage }} of calls',
    description: 'More than 5% of calls to the provider fail; payments retries on the other provider.',
  },
};
