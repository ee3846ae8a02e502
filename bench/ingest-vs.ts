/**
 * Side-by-side ingest: the same client sends the same points to Debian's `prometheus` (its
 * remote-write receiver), Debian's `influxdb` (1.x line protocol) and Metronome (remote write,
 * line protocol, Heroic JSON), each server fresh in its own temporary directory on 127.0.0.1
 * and a random port, in one run, so the ratios are fair on a shared machine.
 *
 *   npm run bench:ingest -- --side-by-side
 *   npm run bench:ingest -- --side-by-side --steps 100 --rounds 2 --only prometheus,metronome-rw
 *
 * Data: TSBS cpu-only-like, `--hosts` hosts x 10 cpu metrics, one point per series per 10 s step.
 * `--warmup-steps` steps go first, untimed (JIT, series creation), then `--steps` timed steps:
 * 1,000 hosts x 10 x 200 = 2 M points. The client is Prometheus-like: `--connections` shards,
 * each owning a disjoint set of hosts and sending its bodies one after another in time order
 * (no out-of-order samples, which Prometheus' TSDB would refuse), `--points-per-body` points a
 * body (5,000: remote write as one TimeSeries per sample, line protocol as 500 lines of 10
 * fields, Heroic JSON as 5,000 series of one point).
 *
 * Measured per server: points/s over the timed part (wall clock from the first request to the
 * last answer) and server CPU µs/point (utime + stime of the process from /proc/<pid>/stat, all
 * its threads: ClickHouse's included for Metronome). The load average is printed with each row.
 * Prints a table, the ratios, and one JSON line prefixed "RESULT ".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../server/paths.js';
import { CPU_FIELDS, hosts, INTERVAL_MS, rng } from './data.js';
import { CLK_TCK, freePort, procStat, SERVER_NODE_FLAGS, stopChild, threadTicks } from './proc.js';
import { PROTOCOLS, type BenchSeries } from './protocols.js';

/** The options of this mode (parsed by bench/ingest.ts); defaults in `sideBySide`. */
export interface Args {
  hosts?: string;
  steps?: string;
  'warmup-steps'?: string;
  connections?: string;
  'points-per-body'?: string;
  rounds?: string;
  only?: string;
  'cpu-prof'?: string;
}

/** One server and protocol of the comparison. */
interface Target {
  name: string;
  server: 'metronome' | 'prometheus' | 'influxdb';
  protocol: keyof typeof PROTOCOLS | 'prom-remote-write-v2';
}

const TARGETS: Target[] = [
  { name: 'prometheus', server: 'prometheus', protocol: 'prom-remote-write' },
  { name: 'metronome-rw', server: 'metronome', protocol: 'prom-remote-write' },
  { name: 'metronome-rw2', server: 'metronome', protocol: 'prom-remote-write-v2' },
  { name: 'influxdb', server: 'influxdb', protocol: 'influx' },
  { name: 'metronome-influx', server: 'metronome', protocol: 'influx' },
  { name: 'metronome-heroic', server: 'metronome', protocol: 'heroic-json' },
];

interface Running {
  url: string;
  pid: number;
  /** Path (with query) the protocol's bodies go to. */
  path: string;
  stop(): Promise<void>;
}

export interface VsRow {
  name: string;
  protocol: string;
  points: number;
  seconds: number;
  pointsPerSec: number;
  cpuUsPerPoint: number;
  failed: number;
  loadavg: [string, string];
  /** Server CPU µs/point by thread name (the largest), over the timed part. */
  threads: Record<string, number>;
}

function loadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}


async function waitReady(url: string, child: ChildProcess, stderr: () => string, ok: (status: number) => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${child.spawnfile} exited ${child.exitCode}: ${stderr()}`);
    try {
      if (ok((await fetch(url)).status)) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready in 60 s: ${stderr()}`);
}

function tail(child: ChildProcess): () => string {
  let err = '';
  child.stderr?.on('data', (d) => (err = (err + d).slice(-4000)));
  return () => err;
}

async function startPrometheus(dir: string): Promise<Running> {
  writeFileSync(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1h\n');
  const port = await freePort();
  const child = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-remote-write-receiver',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const err = tail(child);
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/-/ready`, child, err, (s) => s === 200);
  return { url, pid: child.pid!, path: '/api/v1/write', stop: () => stopChild(child) };
}

async function startInfluxdb(dir: string): Promise<Running> {
  const [port, rpc] = [await freePort(), await freePort()];
  const conf = join(dir, 'influxdb.conf');
  writeFileSync(
    conf,
    [
      'reporting-disabled = true',
      `bind-address = "127.0.0.1:${rpc}"`,
      '[meta]',
      `  dir = "${join(dir, 'meta')}"`,
      '[data]',
      `  dir = "${join(dir, 'data')}"`,
      `  wal-dir = "${join(dir, 'wal')}"`,
      '  query-log-enabled = false',
      '[monitor]',
      '  store-enabled = false',
      '[http]',
      `  bind-address = "127.0.0.1:${port}"`,
      '  log-enabled = false',
      '[continuous_queries]',
      '  enabled = false',
      '',
    ].join('\n'),
  );
  const child = spawn('influxd', ['run', '-config', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  const err = tail(child);
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/ping`, child, err, (s) => s === 204);
  const created = await fetch(`${url}/query?q=${encodeURIComponent('CREATE DATABASE bench')}`, { method: 'POST' });
  if (!created.ok) throw new Error(`influxdb: CREATE DATABASE answered ${created.status}`);
  return { url, pid: child.pid!, path: '/write?db=bench&precision=ns', stop: () => stopChild(child) };
}

async function startMetronome(dir: string, path: string, profDir: string | undefined): Promise<Running> {
  const nodeArgs = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  const port = await freePort();
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, ...nodeArgs, join(ROOT, 'dist/server/main.js')], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: join(dir, 'data'), DEMO: '0', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const err = tail(child);
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/readyz`, child, err, (s) => s === 200);
  return { url, pid: child.pid!, path, stop: () => stopChild(child) };
}

/**
 * The bodies of one protocol: per shard, in time order. Shard `c` owns the hosts h with
 * h % connections === c; a body holds `perBody` points of its shard, walking through its series
 * and then on in time, as Prometheus' shards send them.
 */
function makeBodies(
  protocol: Target['protocol'],
  a: Required<Pick<Args, 'hosts' | 'steps' | 'warmup-steps' | 'connections' | 'points-per-body'>>,
  end: number,
): { warmup: (Buffer | string)[][]; timed: (Buffer | string)[][]; pointsPerBody: number } {
  const hostList = hosts(Number(a.hosts));
  const conns = Number(a.connections);
  const perBody = Number(a['points-per-body']);
  const warmSteps = Number(a['warmup-steps']);
  const steps = warmSteps + Number(a.steps);
  const encode = protocol === 'prom-remote-write-v2' ? remoteWriteV2 : PROTOCOLS[protocol].encode;
  const warmup: (Buffer | string)[][] = [];
  const timed: (Buffer | string)[][] = [];
  for (let c = 0; c < conns; c++) {
    const mine = hostList.filter((_, i) => i % conns === c);
    const rand = rng(1 + c);
    const value = new Float64Array(mine.length * CPU_FIELDS.length).map(() => Math.round(rand() * 10000) / 100);
    const w: (Buffer | string)[] = [];
    const t: (Buffer | string)[] = [];
    let body: BenchSeries[] = [];
    let bodyStep = 0;
    for (let step = 0; step < steps; step++) {
      const ts = end - (steps - 1 - step) * INTERVAL_MS;
      for (let h = 0; h < mine.length; h++) {
        for (let f = 0; f < CPU_FIELDS.length; f++) {
          const k = h * CPU_FIELDS.length + f;
          value[k] = Math.min(100, Math.max(0, Math.round((value[k] + (rand() - 0.5) * 2) * 100) / 100));
          if (body.length === 0) bodyStep = step;
          body.push({ key: `cpu_${CPU_FIELDS[f]}`, tags: mine[h].tags, timestamps: [ts], values: [value[k]] });
          if (body.length === perBody) {
            (bodyStep < warmSteps ? w : t).push(encode(body));
            body = [];
          }
        }
      }
    }
    if (body.length) throw new Error(`--points-per-body ${perBody} must divide the ${steps * value.length} points of a connection`);
    warmup.push(w);
    timed.push(t);
  }
  return { warmup, timed, pointsPerBody: perBody };
}

/** Remote write 2.0 bodies (the same points): see bench/wire.ts. */
let remoteWriteV2: (series: readonly BenchSeries[]) => Buffer = () => {
  throw new Error('remote write 2.0 encoder not loaded');
};

const agentOpts = { keepAlive: true, maxSockets: 1 };

/** POST each shard's bodies in order, the shards at once; counts answers that are not `ok`. */
async function send(
  url: string,
  path: string,
  headers: Record<string, string>,
  shards: (Buffer | string)[][],
  ok: number,
  failures: string[],
): Promise<number> {
  const u = new URL(url);
  let failed = 0;
  await Promise.all(
    shards.map(async (bodies) => {
      const agent = new Agent(agentOpts);
      try {
        for (const body of bodies) {
          const { status, text } = await post(agent, u, path, headers, body);
          if (status !== ok) {
            failed++;
            if (failures.length < 3) failures.push(`${status} ${text.slice(0, 300)}`);
          }
        }
      } finally {
        agent.destroy();
      }
    }),
  );
  return failed;
}

function post(agent: Agent, u: URL, path: string, headers: Record<string, string>, body: Buffer | string): Promise<{ status: number; text: string }> {
  return new Promise((res, rej) => {
    const req = request(
      { agent, host: u.hostname, port: u.port, path, method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
      (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (d: Buffer) => chunks.push(d));
        r.on('end', () => res({ status: r.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        r.on('error', rej);
      },
    );
    req.on('error', rej);
    req.end(body);
  });
}

function headersOf(protocol: Target['protocol']): Record<string, string> {
  if (protocol === 'prom-remote-write-v2') {
    return {
      'content-type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request',
      'content-encoding': 'snappy',
      'x-prometheus-remote-write-version': '2.0.0',
    };
  }
  const enc = PROTOCOLS[protocol];
  const h: Record<string, string> = { 'content-type': enc.contentType };
  if (enc.contentEncoding) h['content-encoding'] = enc.contentEncoding;
  if (protocol === 'prom-remote-write') h['x-prometheus-remote-write-version'] = '0.1.0';
  return h;
}

async function runOne(target: Target, args: Args, bodies: ReturnType<typeof makeBodies>): Promise<VsRow> {
  const dir = mkdtempSync(join(tmpdir(), `metronome-vs-${target.name}-`));
  let server: Running | null = null;
  const profDir = args['cpu-prof'] && target.server === 'metronome' ? join(args['cpu-prof'], target.name) : undefined;
  if (profDir) mkdirSync(profDir, { recursive: true });
  try {
    if (target.server === 'prometheus') server = await startPrometheus(dir);
    else if (target.server === 'influxdb') server = await startInfluxdb(dir);
    else {
      const path = target.protocol === 'influx' ? '/influx/write?db=bench&precision=ns' : PROTOCOLS[target.protocol === 'prom-remote-write-v2' ? 'prom-remote-write' : target.protocol].path;
      server = await startMetronome(dir, path, profDir);
    }
    const headers = headersOf(target.protocol);
    const okStatus = target.protocol === 'heroic-json' ? 200 : 204;
    const failures: string[] = [];
    const warmFailed = await send(server.url, server.path, headers, bodies.warmup, okStatus, failures);
    const load0 = loadavg();
    const before = procStat(server.pid)!;
    const threads0 = threadTicks(server.pid);
    const t0 = performance.now();
    const failed = await send(server.url, server.path, headers, bodies.timed, okStatus, failures);
    const seconds = (performance.now() - t0) / 1000;
    const after = procStat(server.pid)!;
    const threads1 = threadTicks(server.pid);
    const load1 = loadavg();
    if (warmFailed + failed > 0) console.error(`${target.name}: ${warmFailed + failed} requests failed, e.g. ${failures.join(' | ')}`);
    const sent = bodies.timed.reduce((n, s) => n + s.length, 0) * bodies.pointsPerBody;
    const points = sent - failed * bodies.pointsPerBody;
    const cpuUs = ((after.cpuTicks - before.cpuTicks) / CLK_TCK) * 1e6;
    const byThread = [...threads1]
      .map(([name, t]) => [name, ((t - (threads0.get(name) ?? 0)) / CLK_TCK) * 1e6 / points] as const)
      .filter(([, us]) => us >= 0.05)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6);
    return {
      name: target.name,
      protocol: target.protocol,
      points,
      seconds: Math.round(seconds * 1000) / 1000,
      pointsPerSec: Math.round(points / seconds),
      cpuUsPerPoint: Math.round((cpuUs / points) * 100) / 100,
      failed: warmFailed + failed,
      loadavg: [load0, load1],
      threads: Object.fromEntries(byThread.map(([n, us]) => [n, Math.round(us * 100) / 100])),
    };
  } finally {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export async function sideBySide(args: Args): Promise<void> {
  const { encodeRemoteWriteV2 } = await import('./wire.js');
  remoteWriteV2 = encodeRemoteWriteV2;
  const only = args.only ? new Set(args.only.split(',')) : null;
  const targets = TARGETS.filter((t) => !only || only.has(t.name));
  const a = {
    hosts: String(args.hosts ?? '1000'),
    steps: String(args.steps ?? '200'),
    'warmup-steps': String(args['warmup-steps'] ?? '20'),
    connections: String(args.connections ?? '4'),
    'points-per-body': String(args['points-per-body'] ?? '5000'),
  };
  const rounds = Number(args.rounds ?? 1);
  console.error(
    `side by side: ${a.hosts} hosts x ${CPU_FIELDS.length} metrics, ${a['warmup-steps']} warm-up + ${a.steps} timed steps, ` +
      `${a.connections} connections, ${a['points-per-body']} points/body, ${rounds} round(s); load ${loadavg()}`,
  );
  const rows: VsRow[] = [];
  const end = Date.now() - 60_000;
  // Bodies per protocol, encoded once, outside the timed part.
  const cache = new Map<string, ReturnType<typeof makeBodies>>();
  for (let round = 0; round < rounds; round++) {
    for (const t of targets) {
      let bodies = cache.get(t.protocol);
      if (!bodies) cache.set(t.protocol, (bodies = makeBodies(t.protocol, a, end)));
      const row = await runOne(t, args, bodies);
      rows.push(row);
      console.error(
        `${row.name.padEnd(18)} ${row.pointsPerSec.toLocaleString().padStart(10)} points/s ${String(row.cpuUsPerPoint).padStart(6)} CPU us/point  load ${row.loadavg[0]} -> ${row.loadavg[1]}`,
      );
      console.error(`${''.padEnd(18)} CPU us/point by thread: ${Object.entries(row.threads).map(([n, us]) => `${n} ${us}`).join(', ')}`);
    }
  }
  const by = (name: string) => rows.filter((r) => r.name === name && r.failed === 0);
  const med = (name: string, f: (r: VsRow) => number) => (by(name).length ? median(by(name).map(f)) : NaN);
  console.log(`\nmachine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}`);
  console.log('server             protocol               points/s  CPU us/point  failed  load avg (start -> end)');
  for (const r of rows) {
    console.log(
      [
        r.name.padEnd(18),
        r.protocol.padEnd(20),
        r.pointsPerSec.toLocaleString().padStart(10),
        String(r.cpuUsPerPoint).padStart(13),
        String(r.failed).padStart(7),
        `  ${r.loadavg[0]} -> ${r.loadavg[1]}`,
      ].join(' '),
    );
  }
  const ratios: Record<string, { throughput: number; cpu: number }> = {};
  const ratio = (label: string, ours: string, theirs: string) => {
    const tp = med(ours, (r) => r.pointsPerSec) / med(theirs, (r) => r.pointsPerSec);
    const cpu = med(ours, (r) => r.cpuUsPerPoint) / med(theirs, (r) => r.cpuUsPerPoint);
    if (Number.isNaN(tp)) return;
    ratios[label] = { throughput: Math.round(tp * 100) / 100, cpu: Math.round(cpu * 100) / 100 };
    console.log(`${label.padEnd(52)} ${tp.toFixed(2)}x points/s, ${cpu.toFixed(2)}x CPU per point`);
  };
  console.log('');
  ratio('remote write: Metronome / Prometheus', 'metronome-rw', 'prometheus');
  ratio('remote write 2.0: Metronome / Prometheus (1.0)', 'metronome-rw2', 'prometheus');
  ratio('line protocol: Metronome / InfluxDB', 'metronome-influx', 'influxdb');
  ratio('Heroic JSON sparse: Metronome / InfluxDB line protocol', 'metronome-heroic', 'influxdb');
  console.log('RESULT ' + JSON.stringify({ bench: 'ingest-side-by-side', args: a, rounds, cpus: cpus().length, rows, ratios }));
}
