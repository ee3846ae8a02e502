import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seriesId } from '../ingest/series-id.js';
import { param, sql } from '../server/store/index.js';
import { exportSeries, getJson, startTestServer, type TestServer } from './helpers.js';

/**
 * A real Prometheus (Debian's `prometheus` package, installed by .ci/run) scrapes a small local
 * target every second and remote-writes to Metronome. The target's counter goes up by 5 per
 * scrape; its gauge disappears on request, so Prometheus sends a staleness marker.
 */

let srv: TestServer;
let target: Server;
let prom: ChildProcess | undefined;
let promLog = '';
let workDir: string;
let scrapes = 0;
let showGauge = true;

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

async function freePort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; prometheus log:\n${promLog.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

let targetPort = 0;

beforeAll(async () => {
  srv = await startTestServer();
  target = createServer((req, res) => {
    scrapes++;
    const lines = [
      '# HELP demo_requests_total Requests served.',
      '# TYPE demo_requests_total counter',
      `demo_requests_total{path="/api"} ${scrapes * 5}`,
    ];
    if (showGauge) {
      lines.push('# HELP demo_temperature_celsius Room temperature.', '# TYPE demo_temperature_celsius gauge', 'demo_temperature_celsius{room="lab"} 21.5');
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(lines.join('\n') + '\n');
  });
  targetPort = await listen(target);
  workDir = mkdtempSync(join(tmpdir(), 'metronome-prom-'));
  const config = `
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: demo
    scrape_interval: 1s
    static_configs:
      - targets: ['127.0.0.1:${targetPort}']
remote_write:
  - url: ${srv.url}/api/v1/write
    queue_config:
      batch_send_deadline: 1s
      max_samples_per_send: 500
      min_backoff: 100ms
      max_backoff: 1s
    metadata_config:
      send: true
      send_interval: 1s
`;
  writeFileSync(join(workDir, 'prometheus.yml'), config);
  const webPort = await freePort();
  prom = spawn(
    'prometheus',
    [
      `--config.file=${join(workDir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(workDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${webPort}`,
      '--log.level=info',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prom.stdout!.on('data', (d: Buffer) => (promLog += d.toString()));
  prom.stderr!.on('data', (d: Buffer) => (promLog += d.toString()));
}, 60_000);

afterAll(async () => {
  if (prom && prom.exitCode === null) {
    const exited = new Promise((r) => prom!.once('exit', r));
    prom.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (prom.exitCode === null) prom.kill('SIGKILL');
  }
  await new Promise((r) => target?.close(r));
  await srv?.destroy();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
}, 30_000);

describe('a real Prometheus remote-writing to Metronome', () => {
  it('delivers scraped series with their target labels and values', async () => {
    const gauge = await waitFor('the gauge', async () => {
      const lines = await exportSeries(srv.url, 'demo_temperature_celsius');
      return lines.length && lines[0].values.length >= 2 ? lines : undefined;
    });
    expect(gauge).toHaveLength(1);
    expect(gauge[0].metric).toEqual({
      __name__: 'demo_temperature_celsius',
      job: 'demo',
      instance: `127.0.0.1:${targetPort}`,
      room: 'lab',
    });
    expect(new Set(gauge[0].values)).toEqual(new Set([21.5]));

    const counter = await waitFor('the counter', async () => {
      const lines = await exportSeries(srv.url, 'demo_requests_total');
      return lines.length && lines[0].values.length >= 3 ? lines[0] : undefined;
    });
    expect(counter.metric).toEqual({ __name__: 'demo_requests_total', job: 'demo', instance: `127.0.0.1:${targetPort}`, path: '/api' });
    // The counter grows by 5 per scrape: consecutive samples differ by multiples of 5, ~1 s apart.
    for (let i = 1; i < counter.values.length; i++) {
      expect(counter.values[i] - counter.values[i - 1]).toBeGreaterThan(0);
      expect((counter.values[i] - counter.values[i - 1]) % 5).toBe(0);
      expect(counter.timestamps[i] - counter.timestamps[i - 1]).toBeGreaterThanOrEqual(500);
    }

    // The query API answers PromQL over what Prometheus sent.
    const q = await getJson(`${srv.url}/api/v1/query?query=${encodeURIComponent('sum by (room) (demo_temperature_celsius)')}`);
    expect(q.body.data.result).toEqual([{ metric: { room: 'lab' }, value: [expect.any(Number), '21.5'] }]);

    // Prometheus' own synthetic series arrive too.
    const up = await waitFor('up', async () => {
      const lines = await exportSeries(srv.url, 'up');
      return lines.length ? lines[0] : undefined;
    });
    expect(up.metric.job).toBe('demo');
    expect(new Set(up.values)).toEqual(new Set([1]));
  });

  it('records the metadata Prometheus sends', async () => {
    const rows = await waitFor('metadata', async () => {
      const r = await srv.ctx.store.query<{ metric: string; type: string; help: string }>(
        sql`SELECT metric, type, help FROM metric_metadata FINAL WHERE metric IN ('demo_requests_total', 'demo_temperature_celsius') ORDER BY metric`,
      );
      return r.length === 2 ? r : undefined;
    });
    expect(rows).toEqual([
      { metric: 'demo_requests_total', type: 'counter', help: 'Requests served.' },
      { metric: 'demo_temperature_celsius', type: 'gauge', help: 'Room temperature.' },
    ]);
    const api = await getJson(`${srv.url}/api/v1/metadata?metric=demo_requests_total`);
    expect(api.body.data).toEqual({ demo_requests_total: [{ type: 'counter', help: 'Requests served.', unit: '' }] });
  });

  it('ends a series that disappears from the target where Prometheus ends it', async () => {
    showGauge = false;
    const id = seriesId('demo_temperature_celsius', { job: 'demo', instance: `127.0.0.1:${targetPort}`, room: 'lab' });
    const end = await waitFor('the staleness marker', async () => {
      const r = await srv.ctx.store.query<{ ms: string }>(
        sql`SELECT toString(toUnixTimestamp64Milli(ts)) AS ms FROM series_ends WHERE series_id = ${param('UInt64', BigInt(id))}`,
      );
      return r.length ? Number(r[0].ms) : undefined;
    });
    const [gauge] = await exportSeries(srv.url, 'demo_temperature_celsius');
    // The end comes after the last real sample, and no NaN was stored.
    expect(end).toBeGreaterThan(Math.max(...gauge.timestamps));
    expect(gauge.values.every((v) => v === 21.5)).toBe(true);
  });
});
