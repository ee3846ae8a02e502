/**
 * Decoder benchmark: the write protocols' decoders alone (no HTTP, no store), on the ingest
 * bench's data, with protobufjs as the baseline for remote write in the same run (the reason
 * remote write has its own protobuf reader).
 *
 *   npm run bench:decode                 # sparse bodies (5,000 samples) and wide (50,000 points)
 *   npm run bench:decode -- --rounds 400
 *
 * Prints a table and one JSON line (prefixed "RESULT ").
 */
import { parseArgs } from 'node:util';
import snappy from 'snappy';
import { decodeOtlp, parseOtlpProtobuf } from '../ingest/decode-otlp.js';
import { InfluxDecoder, precisionOf } from '../ingest/decode-influx.js';
import { RemoteWriteDecoder } from '../ingest/decode-remote-write.js';
import type { SeriesSamples } from '../ingest/types.js';
import { toColumns } from '../ingest/columns.js';
import { decodeHeroic } from '../ingest/decode-heroic.js';
import { HeroicJsonDecoder } from '../ingest/decode-heroic-json.js';
import type { WriteBatch } from '../ingest/types.js';
import { DEFAULT_LIMITS, IssueList, validateBatch } from '../ingest/validate.js';
import { bodies, SHAPES } from './data.js';
import { PROTOCOLS } from './protocols.js';
import { WriteRequest } from './wire.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '200' },
    hosts: { type: 'string', default: '1000' },
  },
});
const ROUNDS = Number(args.rounds);

interface Row {
  case: string;
  msPerBody: number;
  pointsPerSec: number;
}

function measure(name: string, points: number, count: number, fn: (i: number) => unknown): Row {
  // Warm up until the JIT has settled, then time. CPU time of the process (GC threads
  // included), not wall time, and the best of 10 slices of the rounds: the machine is shared,
  // and a descheduled or cache-starved slice says nothing about the decoder.
  for (let i = 0; i < Math.min(50, ROUNDS); i++) fn(i % count);
  const slice = Math.max(1, Math.floor(ROUNDS / 10));
  let ms = Infinity;
  for (let done = 0; done < ROUNDS; done += slice) {
    const c0 = process.cpuUsage();
    for (let i = done; i < done + slice; i++) fn(i % count);
    const c = process.cpuUsage(c0);
    ms = Math.min(ms, (c.user + c.system) / 1000 / slice);
  }
  return { case: name, msPerBody: Math.round(ms * 1000) / 1000, pointsPerSec: Math.round((points / ms) * 1000) };
}

/** What a protobufjs-based decoder would do: decode to objects, then map them to the batch. */
function protobufjsRemoteWrite(raw: Uint8Array): SeriesSamples[] {
  const req = WriteRequest.decode(raw) as unknown as {
    timeseries: { labels: { name: string; value: string }[]; samples: { value: number; timestamp: number | { toNumber(): number } }[] }[];
  };
  const out: SeriesSamples[] = [];
  for (const ts of req.timeseries) {
    let key = '';
    const tags: Record<string, string> = {};
    for (const l of ts.labels) {
      if (l.name === '__name__') key = l.value;
      else tags[l.name] = l.value;
    }
    out.push({
      key,
      tags,
      timestamps: ts.samples.map((s) => (typeof s.timestamp === 'number' ? s.timestamp : s.timestamp.toNumber())),
      values: ts.samples.map((s) => s.value),
    });
  }
  return out;
}

function main(): void {
  const now = Date.now() - 60_000;
  const rows: Row[] = [];
  const sparse = bodies(SHAPES.sparse, 20, Number(args.hosts), now);
  const wide = bodies(SHAPES.wide, 4, Number(args.hosts), now);

  const rw = sparse.map((b) => snappy.uncompressSync(PROTOCOLS['prom-remote-write'].encode(b) as Buffer) as Buffer);
  const rwCompressed = sparse.map((b) => PROTOCOLS['prom-remote-write'].encode(b) as Buffer);
  const sparsePoints = SHAPES.sparse.seriesPerBody;
  rows.push(measure('remote write: snappy uncompress', sparsePoints, rw.length, (i) => snappy.uncompressSync(rwCompressed[i])));
  rows.push(measure('remote write: protobufjs + mapping (baseline)', sparsePoints, rw.length, (i) => protobufjsRemoteWrite(rw[i])));
  const rwDecoder = new RemoteWriteDecoder();
  rows.push(measure('remote write: RemoteWriteDecoder', sparsePoints, rw.length, (i) => rwDecoder.decode(rw[i])));

  const ns = precisionOf('ns')!;
  const influxDecoder = new InfluxDecoder();
  // Bodies as the route gets them: bytes, decoded to a string per request.
  const influxSparse = sparse.map((b) => Buffer.from(PROTOCOLS.influx.encode(b)));
  rows.push(
    measure('influx: sparse (500 lines x 10 fields)', sparsePoints, influxSparse.length, (i) =>
      influxDecoder.decode(influxSparse[i].toString('utf8'), ns, now, new IssueList()),
    ),
  );
  const influxWide = wide.map((b) => Buffer.from(PROTOCOLS.influx.encode(b)));
  rows.push(
    measure('influx: wide (5,000 lines x 10 fields)', SHAPES.wide.seriesPerBody, influxWide.length, (i) =>
      influxDecoder.decode(influxWide[i].toString('utf8'), ns, now, new IssueList()),
    ),
  );

  const otlp = sparse.map((b) => PROTOCOLS.otlp.encode(b) as Buffer);
  rows.push(
    measure('otlp: protobufjs + mapping', sparsePoints, otlp.length, (i) => decodeOtlp(parseOtlpProtobuf(otlp[i]), now, new IssueList())),
  );

  // The write path's CPU work after decoding, per protocol: decode + validate + columns (no store).
  const limits = { ...DEFAULT_LIMITS, retentionMs: 30 * 86_400_000 };
  const pipe = (batch: WriteBatch) => {
    validateBatch(batch, limits, now);
    return toColumns(batch);
  };
  rows.push(measure('pipeline: remote write', sparsePoints, rw.length, (i) => pipe(rwDecoder.decode(rw[i]).batch)));
  rows.push(
    measure('pipeline: influx sparse', sparsePoints, influxSparse.length, (i) =>
      pipe(influxDecoder.decode(influxSparse[i].toString('utf8'), ns, now, new IssueList()).batch),
    ),
  );
  const heroic = sparse.map((b) => Buffer.from(PROTOCOLS['heroic-json'].encode(b)));
  rows.push(
    measure('pipeline: heroic json sparse', sparsePoints, heroic.length, (i) =>
      pipe(decodeHeroic(JSON.parse(heroic[i].toString('utf8')), new IssueList())),
    ),
  );
  // The route's path for a plain body: bytes read directly, series objects cached across requests.
  const heroicDecoder = new HeroicJsonDecoder();
  rows.push(measure('pipeline: heroic json sparse, series cache', sparsePoints, heroic.length, (i) => pipe(heroicDecoder.decode(heroic[i])!)));

  const base = rows[1].msPerBody;
  console.log('\ncase                                         CPU ms/body  points/CPU-s   vs baseline');
  for (const r of rows) {
    const ratio = r.case.startsWith('remote write: Remote') ? `${(base / r.msPerBody).toFixed(1)}x faster` : '';
    console.log(`${r.case.padEnd(48)} ${r.msPerBody.toFixed(3).padStart(8)} ${r.pointsPerSec.toLocaleString().padStart(13)}   ${ratio}`);
  }
  console.log('RESULT ' + JSON.stringify({ rounds: ROUNDS, rows }));
}

main();
