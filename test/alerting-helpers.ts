import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { expect } from 'vitest';
import { ManualClock } from '../server/alerting/clock.js';
import type { Alerting } from '../server/alerting/service.js';
import { loadConfig, type Config } from '../server/config.js';
import { startMetronome, type Running } from '../server/start.js';
import { getJson, heroic, postJson, tempDir } from './helpers.js';

/** A minute boundary an hour ago: tests run in the past so any timestamp they write is accepted. */
export function testEpoch(hoursAgo = 1): number {
  return Math.floor((Date.now() - hoursAgo * 3_600_000) / 60_000) * 60_000;
}

export interface AlertingServer extends Running {
  config: Config;
  dataDir: string;
  clock: ManualClock;
  alerting: Alerting;
}

/**
 * A real Metronome (embedded chdb, real engine, real writer) whose alerting runs on a manual
 * clock. Pass the same dataDir again after close() to simulate a restart.
 */
export async function startAlertingServer(clock: ManualClock, env: Record<string, string> = {}, dataDir = tempDir('metronome-alerting-')): Promise<AlertingServer> {
  const config = loadConfig({ PORT: '0', LOG_LEVEL: 'silent', DEMO: '0', ...env, DATA_DIR: dataDir });
  const running = await startMetronome(config, pino({ level: config.LOG_LEVEL }), { alertingClock: clock });
  return { ...running, config, dataDir, clock, alerting: running.ctx.alerting! };
}

/** Write samples of one series through POST /write. */
export async function push(base: string, key: string, tags: Record<string, string>, points: [number, number][]): Promise<void> {
  const r = await postJson(`${base}/write`, heroic(key, tags, points));
  expect(r.status, JSON.stringify(r.body)).toBe(200);
}

/** Samples every `stepMs` from `from` to `to` inclusive, with a value per time. */
export function series(from: number, to: number, stepMs: number, value: (t: number) => number): [number, number][] {
  const out: [number, number][] = [];
  for (let t = from; t <= to; t += stepMs) out.push([t, value(t)]);
  return out;
}

export async function createRule(base: string, body: unknown): Promise<string> {
  const r = await postJson(`${base}/api/v1/alerting/rules`, body);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.data.id as string;
}

/** The next evaluation time of a rule group (by name). */
export function nextEval(a: Alerting, group: string): number {
  const g = a.evaluator.groups().find((x) => x.group.name === group);
  if (!g) throw new Error(`no group ${group}`);
  return g.nextAt;
}

/** Advance the clock to the group's next evaluation (running it), then let notifications finish. */
export async function evalNext(s: AlertingServer, group: string): Promise<number> {
  const t = nextEval(s.alerting, group);
  await s.clock.advanceTo(t);
  await s.alerting.notifier.settled();
  return t;
}

/** Advance by `ms` and let notifications finish. */
export async function advance(s: AlertingServer, ms: number): Promise<void> {
  await s.clock.advance(ms);
  await s.alerting.notifier.settled();
}

export async function alertsOf(base: string): Promise<{ labels: Record<string, string>; state: string; activeAt: string; value: string; silencedBy?: string[] }[]> {
  const r = await getJson(`${base}/api/v1/alerts`);
  expect(r.status).toBe(200);
  return r.body.data.alerts;
}

interface Received {
  path: string;
  body: any;
  at: number;
}

/**
 * A real HTTP receiver on 127.0.0.1 recording what it is sent. `respond` decides each answer
 * (status and an optional delay), e.g. to fail the first attempts or to hang.
 */
export async function startReceiver(respond: (req: IncomingMessage, n: number) => { status: number; delayMs?: number; headers?: Record<string, string>; body?: string } = () => ({ status: 200 })) {
  const received: Received[] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = respond(req, n++);
      const answer = () => {
        let body: unknown = null;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = Buffer.concat(chunks).toString('utf8');
        }
        received.push({ path: req.url ?? '', body, at: Date.now() });
        res.statusCode = r.status;
        for (const [k, v] of Object.entries(r.headers ?? {})) res.setHeader(k, v);
        res.end(r.body);
      };
      if (r.delayMs) setTimeout(answer, r.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    /** Requests answered so far (count includes failed ones). */
    get attempts() {
      return n;
    },
    bodies: (path?: string) => received.filter((r) => path === undefined || r.path === path).map((r) => r.body),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Poll until `cond` holds (real time), for effects of background work such as a send in flight. */
export async function until(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Instant query through the HTTP API. */
export async function query(base: string, q: string, timeMs: number) {
  const r = await getJson(`${base}/api/v1/query?query=${encodeURIComponent(q)}&time=${timeMs / 1000}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.data.result as { metric: Record<string, string>; value: [number, string] }[];
}

/**
 * Run a rule group's next evaluation on the clock and check that each of its `count` rules was
 * evaluated at that time and is healthy. Returns the evaluation time.
 */
export async function expectHealthyCycle(base: string, alerting: Alerting, clock: ManualClock, group: string, count: number, cycle: number): Promise<number> {
  const ts = nextEval(alerting, group);
  await clock.advanceTo(ts);
  const rules = (await getJson(`${base}/api/v1/rules`)).body.data.groups[0].rules as { name: string; health: string; lastError?: string; lastEvaluation: string }[];
  expect(rules).toHaveLength(count);
  for (const r of rules) {
    expect({ rule: r.name, cycle, health: r.health, lastError: r.lastError ?? '' }).toEqual({ rule: r.name, cycle, health: 'ok', lastError: '' });
    expect(Date.parse(r.lastEvaluation)).toBe(ts);
  }
  return ts;
}
