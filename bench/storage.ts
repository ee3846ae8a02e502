/**
 * Storage benchmark: bytes per point of the TSBS-shaped bench data under candidate codecs, so
 * the codecs in schema/001 are chosen by measurement. Each candidate gets the same points,
 * merged to one part (OPTIMIZE FINAL), then system.columns tells the compressed bytes.
 *
 *   npm run bench:storage [-- --points 4000000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { toColumns } from '../ingest/columns.js';
import { EmbeddedStore } from '../server/store/embedded.js';
import { ident, param, raw, sql } from '../server/store/sql.js';
import { bodies } from './data.js';

const { values: args } = parseArgs({ options: { points: { type: 'string', default: '4000000' }, hosts: { type: 'string', default: '1000' } } });

const CANDIDATES: Record<string, { series: string; ts: string; value: string }> = {
  chosen: { series: 'ZSTD(1)', ts: 'DoubleDelta, ZSTD(1)', value: 'ZSTD(3)' },
  zstd6_value: { series: 'ZSTD(1)', ts: 'DoubleDelta, ZSTD(1)', value: 'ZSTD(6)' },
  gorilla_zstd1: { series: 'ZSTD(1)', ts: 'DoubleDelta, ZSTD(1)', value: 'Gorilla, ZSTD(1)' },
  lz4_default: { series: 'LZ4', ts: 'LZ4', value: 'LZ4' },
  delta_ts: { series: 'ZSTD(1)', ts: 'Delta, ZSTD(1)', value: 'ZSTD(3)' },
  zstd9_value: { series: 'ZSTD(1)', ts: 'DoubleDelta, ZSTD(1)', value: 'ZSTD(9)' },
  fpc_value: { series: 'ZSTD(1)', ts: 'DoubleDelta, ZSTD(1)', value: 'FPC, ZSTD(1)' },
};

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'metronome-storage-'));
  const store = new EmbeddedStore(dir);
  try {
    const total = Number(args.points);
    const perBody = 50 * 100;
    const all = bodies({ name: 'dense', seriesPerBody: 50, pointsPerSeries: 100 }, Math.ceil(total / perBody), Number(args.hosts), Date.now(), 3);
    const series = all.flat();
    const cols = toColumns({ series, points: series.reduce((n, s) => n + s.timestamps.length, 0) }).columns;
    console.log(`${cols.length.toLocaleString()} points, ${Number(args.hosts) * 10} series, TSBS cpu-only shape (random walk, 2 decimals)\n`);
    // The store's fast path writes to `points`; each candidate copies from it.
    await store.command(sql`CREATE TABLE points (series_id UInt64, ts DateTime64(3, 'UTC'), value Float64) ENGINE = MergeTree ORDER BY (series_id, ts)`);
    await store.insertPoints(cols, 'storage-bench');
    console.log('candidate        series_id      ts   value   total bytes/point');
    for (const [name, c] of Object.entries(CANDIDATES)) {
      const table = `codec_${name}`;
      await store.command(sql`DROP TABLE IF EXISTS ${ident(table)}`);
      await store.command(
        sql`CREATE TABLE ${ident(table)} (series_id UInt64 CODEC(${raw(c.series)}), ts DateTime64(3, 'UTC') CODEC(${raw(c.ts)}), value Float64 CODEC(${raw(c.value)}))
            ENGINE = MergeTree ORDER BY (series_id, ts)`,
      );
      await store.command(sql`INSERT INTO ${ident(table)} SELECT series_id, ts, value FROM points`);
      await store.command(sql`OPTIMIZE TABLE ${ident(table)} FINAL`);
      const rows = await store.query<{ name: string; bytes: string }>(
        sql`SELECT name, sum(data_compressed_bytes) AS bytes FROM system.columns WHERE database = currentDatabase() AND table = ${param('String', table)} GROUP BY name`,
      );
      const by = Object.fromEntries(rows.map((r) => [r.name, Number(r.bytes) / cols.length]));
      const sum = by.series_id + by.ts + by.value;
      console.log(
        `${name.padEnd(15)} ${by.series_id.toFixed(3).padStart(9)} ${by.ts.toFixed(3).padStart(7)} ${by.value.toFixed(3).padStart(7)} ${sum.toFixed(3).padStart(17)}`,
      );
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
