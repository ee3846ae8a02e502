/**
 * Ingest benchmark: drives a real Metronome server with autocannon and compares it with the
 * storage ceiling (the same points inserted straight through the store).
 *
 *   npm run bench:ingest                              # all shapes, heroic-json and msgpack
 *   npm run bench:ingest -- --protocol influx --duration 10
 *   npm run bench:ingest -- --url http://127.0.0.1:8080   # an already running server
 *
 * Prints a table and one JSON line (prefixed "RESULT ") with every number.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { toColumns } from '../ingest/columns.js';
import { ROOT } from '../server/paths.js';
import { EmbeddedStore } from '../server/store/embedded.js';
import { migrate } from '../server/store/migrate.js';
import { sql } from '../server/store/sql.js';
import { bodies, SHAPES, type Shape } from './data.js';
import { CLK_TCK, listeningUrl, procStat, SERVER_NODE_FLAGS } from './proc.js';
import { PROTOCOLS } from './protocols.js';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    protocol: { type: 'string', default: 'heroic-json,msgpack' },
    shape: { type: 'string', default: 'dense,sparse' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string' }, // default 8 (4 with --side-by-side)
    hosts: { type: 'string', default: '1000' },
    bodies: { type: 'string', default: '120' },
    'ceiling-points': { type: 'string', default: '7200000' },
    'skip-ceiling': { type: 'boolean', default: false },
    // --side-by-side: Metronome against Debian's prometheus and influxdb (bench/ingest-vs.ts).
    'side-by-side': { type: 'boolean', default: false },
    steps: { type: 'string' },
    'warmup-steps': { type: 'string' },
    'points-per-body': { type: 'string' },
    rounds: { type: 'string' },
    only: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});


interface Row {
  protocol: string;
  shape: string;
  pointsPerSec: number;
  requestsPerSec: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  non2xx: number;
  serverCpuUsPerPoint: number | null;
  serverPeakRssMiB: number | null;
}

async function startServer(dataDir: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, join(ROOT, 'dist/server/main.js')], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, DEMO: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await listeningUrl(child, 60_000);
  child.stdout!.resume();
  return { url, child };
}

async function drive(url: string, protocol: string, shape: Shape, pid: number | null): Promise<Row> {
  const enc = PROTOCOLS[protocol];
  if (!enc) throw new Error(`unknown protocol ${protocol}; known: ${Object.keys(PROTOCOLS).join(', ')}`);
  // Generated once, outside the timed part; timestamps end a minute ago so they stay valid.
  const sets = bodies(shape, Number(args.bodies), Number(args.hosts), Date.now() - 60_000);
  const encoded = sets.map((b) => enc.encode(b));
  const pointsPerBody = shape.seriesPerBody * shape.pointsPerSeries;
  let i = 0;
  const headers: Record<string, string> = { 'content-type': enc.contentType };
  if (enc.contentEncoding) headers['content-encoding'] = enc.contentEncoding;

  const before = pid ? procStat(pid) : null;
  let peakRss = before?.rssKiB ?? 0;
  const sampler = pid
    ? setInterval(() => {
        const s = procStat(pid);
        if (s && s.rssKiB > peakRss) peakRss = s.rssKiB;
      }, 100)
    : null;
  let okResponses = 0;
  const result = await autocannon({
    url: url + enc.path,
    method: 'POST',
    headers,
    connections: Number(args.connections ?? 8),
    duration: Number(args.duration),
    requests: [
      {
        setupRequest: (req) => ({ ...req, body: encoded[i++ % encoded.length] as string }),
        onResponse: (status) => {
          if (status === enc.okStatus) okResponses++;
        },
      },
    ],
  });
  if (sampler) clearInterval(sampler);
  const after = pid ? procStat(pid) : null;
  const seconds = result.duration;
  const points = okResponses * pointsPerBody;
  const cpuUs = before && after ? ((after.cpuTicks - before.cpuTicks) / CLK_TCK) * 1e6 : null;
  return {
    protocol,
    shape: shape.name,
    pointsPerSec: Math.round(points / seconds),
    requestsPerSec: Math.round(okResponses / seconds),
    p50ms: result.latency.p50,
    p99ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    serverCpuUsPerPoint: cpuUs !== null && points > 0 ? Math.round((cpuUs / points) * 100) / 100 : null,
    serverPeakRssMiB: pid ? Math.round(peakRss / 1024) : null,
  };
}

/** The same kind of points straight into the store: what the HTTP path is compared with. */
async function ceiling(totalPoints: number): Promise<{ pointsPerSec: number; bytesPerPoint: number; rows: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'metronome-ceiling-'));
  const store = new EmbeddedStore(dir);
  try {
    await migrate(store);
    const shape: Shape = { name: 'dense', seriesPerBody: 50, pointsPerSeries: 100 };
    const perBatch = 200_000;
    const batches = Math.ceil(totalPoints / perBatch);
    const bodiesPerBatch = perBatch / (shape.seriesPerBody * shape.pointsPerSeries);
    const all = bodies(shape, batches * bodiesPerBatch, Number(args.hosts), Date.now() - 60_000, 7);
    const prepared = [];
    for (let b = 0; b < batches; b++) {
      const series = all.slice(b * bodiesPerBatch, (b + 1) * bodiesPerBatch).flat();
      prepared.push(toColumns({ series, points: series.reduce((n, s) => n + s.timestamps.length, 0) }).columns);
    }
    const t0 = performance.now();
    let n = 0;
    for (let b = 0; b < prepared.length; b++) {
      await store.insertPoints(prepared[b], `ceiling-${b}`);
      n += prepared[b].length;
    }
    const secs = (performance.now() - t0) / 1000;
    await store.command(sql`OPTIMIZE TABLE points FINAL`);
    const [parts] = await store.query<{ bytes: string; rows: string }>(
      sql`SELECT sum(bytes_on_disk) AS bytes, sum(rows) AS rows FROM system.parts WHERE active AND database = currentDatabase() AND table = 'points'`,
    );
    return { pointsPerSec: Math.round(n / secs), bytesPerPoint: Number(parts.bytes) / Number(parts.rows), rows: Number(parts.rows) };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const protocols = args.protocol!.split(',');
  const shapes = args.shape!.split(',').map((s) => {
    const shape = SHAPES[s];
    if (!shape) throw new Error(`unknown shape ${s}; known: ${Object.keys(SHAPES).join(', ')}`);
    return shape;
  });
  let server: { url: string; child: ChildProcess } | null = null;
  let dataDir: string | null = null;
  if (!args.url) {
    dataDir = mkdtempSync(join(tmpdir(), 'metronome-bench-'));
    server = await startServer(dataDir);
  }
  const url = args.url ?? server!.url;
  const rows: Row[] = [];
  try {
    for (const shape of shapes) {
      for (const protocol of protocols) {
        const row = await drive(url, protocol, shape, server?.child.pid ?? null);
        rows.push(row);
        console.error(`${protocol} ${shape.name}: ${row.pointsPerSec.toLocaleString()} points/s, p99 ${row.p99ms} ms`);
      }
    }
  } finally {
    if (server) {
      server.child.kill('SIGTERM');
      await new Promise((r) => server!.child.once('exit', r));
      rmSync(dataDir!, { recursive: true, force: true });
    }
  }
  const ceil = args['skip-ceiling'] ? null : await ceiling(Number(args['ceiling-points']));

  console.log('\nprotocol      shape   points/s     req/s   p50 ms  p99 ms  errors  non2xx  CPU us/pt  peak RSS MiB  vs ceiling');
  for (const r of rows) {
    console.log(
      [
        r.protocol.padEnd(13),
        r.shape.padEnd(7),
        r.pointsPerSec.toLocaleString().padStart(10),
        String(r.requestsPerSec).padStart(8),
        String(r.p50ms).padStart(8),
        String(r.p99ms).padStart(7),
        String(r.errors).padStart(7),
        String(r.non2xx).padStart(7),
        String(r.serverCpuUsPerPoint ?? '-').padStart(10),
        String(r.serverPeakRssMiB ?? '-').padStart(13),
        (ceil ? (r.pointsPerSec / ceil.pointsPerSec).toFixed(2) : '-').padStart(11),
      ].join(' '),
    );
  }
  if (ceil) {
    console.log(
      `\nstorage ceiling (store.insertPoints, 200k-point batches): ${ceil.pointsPerSec.toLocaleString()} points/s; ` +
        `${ceil.bytesPerPoint.toFixed(2)} bytes/point on disk after merge (${ceil.rows.toLocaleString()} points)`,
    );
  }
  console.log('RESULT ' + JSON.stringify({ machine: { cpus: (await import('node:os')).cpus().length }, rows, ceiling: ceil }));
}

const run = args['side-by-side']
  ? import('./ingest-vs.js').then(({ sideBySide }) =>
      sideBySide(args),
    )
  : main();
run.catch((e) => {
  console.error(e);
  process.exit(1);
});
