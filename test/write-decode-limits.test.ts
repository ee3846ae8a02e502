import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import snappy from 'snappy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRemoteWriteV2, encodeWriteRequest, lineProtocol, remoteWriteRequest, type WireSeries } from '../bench/wire.js';
import { tempDir } from './helpers.js';
import { startServerProcess, stopServerProcess, type ServerProcess } from './server-process.js';
import { len, otlpHistogram, str, varint } from './protobuf-wire.js';

/**
 * Issue 11, "Limits while decoding": the bodies that used to cost tens of seconds and gigabytes
 * (a 32 MB OTLP histogram with 4 M bounds: 33 s, /readyz blocked 19 s, 4 GB RSS; a 15 MB Influx
 * body: 23 s; remote write with a huge label set) are refused by the decoders, with 413 or 400
 * and the code of the limit, before the cost is paid. Against a real server (child process,
 * embedded ClickHouse, default limits and BODY_LIMIT_BYTES = 32 MiB), each body alone and two at
 * once; /readyz is probed every 10 ms from this process meanwhile and must answer within 100 ms
 * (200 ms behind two requests at once) of the server's own event-loop CPU time (wall time alone is not a fair stall measure on the
 * shared 2-core machine: see test/query-budget.test.ts); the server's peak RSS growth over the
 * request stays under RSS_MULTIPLE x BODY_LIMIT_BYTES; afterwards it still stores a point.
 */

const BODY_LIMIT = 32 * 1024 * 1024;
/** Peak RSS growth a request may cause, as a multiple of BODY_LIMIT_BYTES (docs/ARCHITECTURE.md). */
const RSS_MULTIPLE = 4;
const STALL_MS = 100;
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

let srv: ServerProcess;
let dataDir: string;

beforeAll(async () => {
  dataDir = tempDir('metronome-decode-limits-');
  srv = await startServerProcess({ DATA_DIR: dataDir });
}, 90_000);
afterAll(async () => {
  if (srv) await stopServerProcess(srv);
  rmSync(dataDir, { recursive: true, force: true });
});

function loopCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}
function status(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** A remote-write WriteRequest with one series of `labels` labels and one sample, snappy-compressed. */
function remoteWriteLabels(labels: number): Buffer {
  const parts = [len(1, Buffer.concat([str(1, '__name__'), str(2, 'wide')]))];
  for (let i = 0; i < labels; i++) parts.push(len(1, Buffer.concat([str(1, `l${i}`), str(2, 'v')])));
  const sample = Buffer.concat([Buffer.from([0x09]), Buffer.alloc(8), varint(16), varint(Date.now())]);
  parts.push(len(2, sample));
  return snappy.compressSync(len(1, Buffer.concat(parts)));
}

/** A remote write 2.0 Request: `symbols` extra symbols (3 bytes each) and one series of `labels` labels (refs to 2 symbols), snappy-compressed. */
function remoteWriteV2Body(labels: number, symbols: number): Buffer {
  const refs = [varint(1), varint(2)];
  for (let i = 0; i < labels - 1; i++) refs.push(varint(3), varint(4));
  const sample = Buffer.concat([Buffer.from([0x09]), Buffer.alloc(8), varint(16), varint(Date.now())]);
  const series = len(5, Buffer.concat([len(1, Buffer.concat(refs)), len(2, sample)]));
  const table = [str(4, ''), str(4, '__name__'), str(4, 'wide_v2'), str(4, 'l'), str(4, 'v')];
  const filler = Buffer.alloc(symbols * 3);
  for (let i = 0; i < symbols; i++) filler.set([0x22, 0x01, 0x61 + (i % 26)], i * 3);
  return snappy.compressSync(Buffer.concat([...table, filler, series]));
}

/** About `bytes` of line protocol: 1,000 hosts x 10 fields (10,000 series), a line per host and time. */
function influxBody(bytes: number): string {
  const lines: string[] = [];
  let size = 0;
  const ts = Date.now() * 1e6;
  for (let i = 0; size < bytes; i++) {
    const line = `cpu,host=host_${i % 1000},region=eu usage_user=${i % 100},usage_system=1,usage_idle=2,usage_nice=3,usage_iowait=4,usage_irq=5,usage_softirq=6,usage_steal=7,usage_guest=8,usage_guest_nice=9 ${ts}`;
    lines.push(line);
    size += line.length + 1;
  }
  return lines.join('\n');
}

interface Outcome {
  status: number;
  code: string;
  message: string;
  ms: number;
}

interface Run {
  outcomes: Outcome[];
  /** The worst /readyz probe: min(wall, server event-loop CPU) while it waited. */
  stall: { wall: number; cpu: number };
  probes: number;
  rssGrowth: number;
}

async function send(path: string, body: Buffer | string, headers: Record<string, string>): Promise<Outcome> {
  const t0 = performance.now();
  const payload = typeof body === 'string' ? body : new Uint8Array(body);
  const res = await fetch(`${srv.url}${path}`, { method: 'POST', headers, body: payload, signal: AbortSignal.timeout(120_000) });
  const text = await res.text();
  const ms = performance.now() - t0;
  let code = '';
  let message = text;
  try {
    const j = JSON.parse(text) as { code?: string; error?: { code?: string; message?: string } | string; message?: string };
    code = (typeof j.error === 'object' ? j.error.code : j.code) ?? '';
    message = (typeof j.error === 'object' ? j.error.message : j.message) ?? text;
  } catch {
    // OTLP protobuf status: the code is at the start of its message text.
    code = /MTR_[A-Z_]+/.exec(text)?.[0] ?? '';
  }
  return { status: res.status, code, message, ms };
}

/** Send requests at once while probing /readyz; measure the worst stall and the peak RSS growth. */
async function measure(requests: (() => Promise<Outcome>)[]): Promise<Run> {
  writeFileSync(`/proc/${srv.pid}/clear_refs`, '5'); // reset VmHWM to the current RSS
  const rss0 = status(srv.pid, 'VmRSS');
  let done = false;
  let probes = 0;
  let worst = { wall: 0, cpu: 0 };
  const probe = (async () => {
    while (!done) {
      const c0 = loopCpuMs(srv.pid);
      const t0 = performance.now();
      const r = await fetch(`${srv.url}/readyz`, { signal: AbortSignal.timeout(30_000) });
      await r.text();
      const p = { wall: performance.now() - t0, cpu: loopCpuMs(srv.pid) - c0 };
      if (Math.min(p.wall, p.cpu) > Math.min(worst.wall, worst.cpu)) worst = p;
      probes++;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  try {
    const outcomes = await Promise.all(requests.map((f) => f()));
    return { outcomes, stall: worst, probes, rssGrowth: status(srv.pid, 'VmHWM') - rss0 };
  } finally {
    done = true;
    await probe;
  }
}

function bounded(run: Run, what: string, stallMs = STALL_MS): void {
  const mb = (n: number) => (n / 1024 ** 2).toFixed(0);
  const stall = Math.min(run.stall.wall, run.stall.cpu);
  expect(stall, `${what}: /readyz took ${run.stall.wall.toFixed(0)} ms, ${run.stall.cpu.toFixed(0)} ms of it the server's event loop on the CPU`).toBeLessThan(stallMs);
  expect(run.rssGrowth, `${what}: peak RSS grew ${mb(run.rssGrowth)} MB`).toBeLessThan(RSS_MULTIPLE * BODY_LIMIT);
}

async function stillServing(): Promise<void> {
  const t = Date.now();
  const r = await send('/influx/write?precision=ms', `after_limits value=1 ${t}`, { 'content-type': 'text/plain' });
  expect(r.status).toBe(204);
  const q = await fetch(`${srv.url}/api/v1/query?query=after_limits&time=${t / 1000}`);
  expect(((await q.json()) as { data: { result: unknown[] } }).data.result).toHaveLength(1);
}

const otlp = (body: Buffer) => () => send('/v1/metrics', body, { 'content-type': 'application/x-protobuf' });
const influx = (body: string) => () => send('/influx/write?precision=ns', body, { 'content-type': 'text/plain' });
const remoteV2 = (body: Buffer) => () =>
  send('/api/v1/write', body, {
    'content-type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request',
    'content-encoding': 'snappy',
    'x-prometheus-remote-write-version': '2.0.0',
  });
const remote = (body: Buffer) => () =>
  send('/api/v1/write', body, { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' });

describe('limits while decoding', () => {
  const histogram = otlpHistogram(4_000_000, Date.now(), 'huge_histogram');
  const lines = influxBody(15 * 1024 * 1024);

  it('refuses an OTLP histogram with 4 M bounds with 400 MTR_WRITE_TOO_MANY_BUCKETS, without stalling /readyz', async () => {
    expect(histogram.length).toBeLessThan(BODY_LIMIT);
    const run = await measure([otlp(histogram)]);
    const [o] = run.outcomes;
    expect(o.status).toBe(400);
    expect(o.code).toBe('MTR_WRITE_TOO_MANY_BUCKETS');
    expect(o.message).toContain('resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].explicitBounds');
    bounded(run, 'OTLP histogram');
    report('OTLP 4 M bounds (32 MB)', run);
    await stillServing();
  }, 120_000);

  it('refuses a 15 MB Influx body with 413 MTR_WRITE_TOO_MANY_SAMPLES naming the line', async () => {
    const run = await measure([influx(lines)]);
    const [o] = run.outcomes;
    expect(o.status).toBe(413);
    expect(o.code).toBe('MTR_WRITE_TOO_MANY_SAMPLES');
    expect(o.message).toMatch(/line \d+/);
    // Measured 50-90 ms since the body is decoded to text as it arrives (170-200 ms when it was
    // joined and decoded in one turn; 23 s before the decode limits). The bound leaves CI's
    // shared machine a margin over the 100 ms target.
    bounded(run, 'Influx 15 MB', 1.5 * STALL_MS);
    report('Influx 15 MB', run);
    await stillServing();
  }, 120_000);

  it('refuses a remote-write series with a million labels with 400 MTR_WRITE_TOO_MANY_LABELS', async () => {
    const run = await measure([remote(remoteWriteLabels(1_000_000))]);
    const [o] = run.outcomes;
    expect(o.status).toBe(400);
    expect(o.code).toBe('MTR_WRITE_TOO_MANY_LABELS');
    expect(o.message).toContain('timeseries[0].labels');
    bounded(run, 'remote write 1 M labels');
    report('remote write 1 M labels', run);
    await stillServing();
  }, 120_000);

  it('refuses a remote write 2.0 series with a million label refs with 400 MTR_WRITE_TOO_MANY_LABELS', async () => {
    const run = await measure([remoteV2(remoteWriteV2Body(1_000_000, 0))]);
    const [o] = run.outcomes;
    expect(o.status).toBe(400);
    expect(o.code).toBe('MTR_WRITE_TOO_MANY_LABELS');
    expect(o.message).toContain('timeseries[0].labels_refs');
    bounded(run, 'remote write 2.0, 1 M label refs');
    report('remote write 2.0 1 M label refs', run);
    await stillServing();
  }, 120_000);

  it('stores a remote write 2.0 body of five million symbols and one series without holding /readyz', async () => {
    const body = remoteWriteV2Body(1, 5_000_000);
    const run = await measure([remoteV2(body)]);
    expect(run.outcomes[0].status).toBe(204);
    bounded(run, 'remote write 2.0, 5 M symbols');
    report('remote write 2.0 5 M symbols (15 MB)', run);
  }, 120_000);

  it('refuses two of them at once and keeps serving', async () => {
    const run = await measure([otlp(histogram), influx(lines)]);
    expect(run.outcomes.map((o) => o.code)).toEqual(['MTR_WRITE_TOO_MANY_BUCKETS', 'MTR_WRITE_TOO_MANY_SAMPLES']);
    // A probe may wait behind both requests' decoding: each is bounded alone, not the two together.
    // Measured 50-70 ms (250-310 ms when bodies were joined and decoded in one turn).
    bounded(run, 'OTLP + Influx at once', 2 * STALL_MS);
    report('OTLP + Influx at once', run);
    await stillServing();
  }, 120_000);
});

describe('valid requests at the limits', () => {
  // What the limits let through must not hold the event loop either: the decoders yield in slices.
  const t = Date.now() - 3_600_000;
  const series: WireSeries[] = Array.from({ length: 2000 }, (_, i) => ({
    key: 'at_limit',
    tags: { instance: `host-${i}:9100`, job: 'node', mode: `m${i % 8}` },
    timestamps: Array.from({ length: 100 }, (_, k) => t + k * 10_000),
    values: Array.from({ length: 100 }, (_, k) => k + i),
  }));

  it('stores 200,000 samples by remote write 1.0 and 2.0 and by line protocol without holding /readyz', async () => {
    const rw = encodeWriteRequest(remoteWriteRequest(series, true));
    const run = await measure([remote(rw)]);
    expect(run.outcomes[0].status).toBe(204);
    bounded(run, 'remote write, 200,000 samples');
    report('valid remote write 200,000 samples', run);
    const lines = lineProtocol(series.map((s) => ({ ...s, key: 'at_limit_influx' })));
    const run2 = await measure([() => send('/influx/write?precision=ns', lines, { 'content-type': 'text/plain' })]);
    expect(run2.outcomes[0].status).toBe(204);
    // Measured 40-80 ms (120-210 ms when the body was joined and decoded in one turn); a margin as above.
    bounded(run2, 'Influx, 200,000 samples', 1.5 * STALL_MS);
    report('valid Influx 200,000 samples', run2);
    const v2 = encodeRemoteWriteV2(series.map((s) => ({ ...s, key: 'at_limit_v2' })));
    const run3 = await measure([remoteV2(v2)]);
    expect(run3.outcomes[0].status).toBe(204);
    bounded(run3, 'remote write 2.0, 200,000 samples');
    report('valid remote write 2.0 200,000 samples', run3);
  }, 120_000);
});

/** The numbers behind docs/ARCHITECTURE.md, printed only when asked (DECODE_LIMITS_REPORT=1). */
function report(what: string, run: Run): void {
  if (!process.env.DECODE_LIMITS_REPORT) return;
  const times = run.outcomes.map((o) => `${o.status} in ${o.ms.toFixed(0)} ms`).join(', ');
  process.stderr.write(
    `${what}: ${times}; /readyz worst ${run.stall.wall.toFixed(0)} ms wall / ${run.stall.cpu.toFixed(0)} ms loop CPU over ${run.probes} probes; peak RSS +${(run.rssGrowth / 1024 ** 2).toFixed(0)} MB\n`,
  );
}

