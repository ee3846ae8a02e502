import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, it as vit } from 'vitest';
import { tempDir } from '../../test/helpers.js';
import { EmbeddedStore } from './embedded.js';
import { RemoteStore } from './remote.js';
import { createClient } from '@clickhouse/client';
import { applyRetention, migrate, readMigrations, schemaVersion } from './migrate.js';
import { compile, ident, join, param, raw, sql } from './sql.js';
import type { Store } from './store.js';
import type { NewSeries } from '../../ingest/types.js';

describe('sql builder', () => {
  it('binds values as typed parameters and never splices them', () => {
    const evil = "x' OR 1=1 --";
    const q = compile(sql`SELECT * FROM series WHERE key = ${param('String', evil)} AND ${join([raw('1'), raw('2')], ' AND ')}`);
    expect(q).toEqual({ sql: 'SELECT * FROM series WHERE key = {p0:String} AND 1 AND 2', params: { p0: evil } });
  });
  it('numbers parameters across nested fragments', () => {
    const inner = sql`a = ${param('UInt8', 1)}`;
    expect(compile(sql`${inner} OR b = ${param('UInt8', 2)}`)).toEqual({ sql: 'a = {p0:UInt8} OR b = {p1:UInt8}', params: { p0: 1, p1: 2 } });
  });
  it('refuses identifiers that are not plain names and plain strings as values', () => {
    expect(() => ident('points; DROP TABLE x')).toThrow(/invalid identifier/);
    expect(() => sql`SELECT ${'1' as never}`).toThrow(/interpolate only/);
    expect(() => param('String) --', 'x')).toThrow(/invalid parameter type/);
  });
});

/**
 * The contract both transports must meet. The remote one runs when CLICKHOUSE_URL names a
 * ClickHouse server (none runs on our machines; the SQL is the same).
 */
function storeContract(name: string, open: () => Promise<{ store: Store; cleanup: () => Promise<void> } | { skip: string }>) {
  describe(`${name} store`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    /** Why this store's contract cannot run here (no server reachable): every test says so when skipped. */
    let skip = '';
    beforeAll(async () => {
      const o = await open();
      if ('skip' in o) skip = o.skip;
      else ({ store, cleanup } = o);
    });
    const it = (title: string, fn: () => Promise<void>, timeout?: number) =>
      vit(title, async (ctx) => {
        if (skip) ctx.skip(skip);
        await fn();
      }, timeout);
    afterAll(async () => {
      await cleanup?.();
    });

    it('applies every migration once and nothing on a second run', async () => {
      const all = readMigrations().map((m) => m.version);
      expect(await migrate(store)).toEqual(all);
      expect(await migrate(store)).toEqual([]);
      expect(await schemaVersion(store)).toBe(Math.max(...all));
    });

    it('stores points inserted twice with one token once', async () => {
      const now = Date.now();
      const cols = {
        length: 3,
        seriesId: new BigInt64Array([-1n, 7n, 7n]), // -1n: the top of the unsigned range
        ts: new Float64Array([now, now - 1000, now]),
        value: new Float64Array([1.5, -2, 3]),
      };
      await store.insertPoints(cols, 'contract-token-1');
      await store.insertPoints(cols, 'contract-token-1');
      const rows = await store.query<{ series_id: string; ms: string; value: number }>(
        sql`SELECT series_id, toUnixTimestamp64Milli(ts) AS ms, value FROM points ORDER BY series_id, ts`,
      );
      expect(rows.map((r) => [r.series_id, Number(r.ms), r.value])).toEqual([
        ['7', now - 1000, -2],
        ['7', now, 3],
        ['18446744073709551615', now, 1.5],
      ]);
      await store.insertPoints(cols, 'contract-token-2');
      const [{ n }] = await store.query<{ n: string }>(sql`SELECT count() AS n FROM points`);
      expect(Number(n)).toBe(6);
    });

    it('records series metadata, merged to one row per series with first and last seen', async () => {
      const t = Date.UTC(2026, 0, 1);
      await store.insertSeries([{ seriesId: '42', key: 'm', tags: { host: "a'b" }, service: 'api', firstSeen: t, lastSeen: t }]);
      await store.insertSeries([{ seriesId: '42', key: 'm', tags: { host: "a'b" }, service: 'api', firstSeen: t + 5000, lastSeen: t + 5000 }]);
      const rows = await store.query<{ tags: Record<string, string>; first: string; last: string }>(
        sql`SELECT any(tags) AS tags, toUnixTimestamp64Milli(min(first_seen)) AS first, toUnixTimestamp64Milli(max(last_seen)) AS last
            FROM series WHERE series_id = ${param('UInt64', 42n)} GROUP BY series_id`,
      );
      expect(rows).toEqual([{ tags: { host: "a'b" }, first: String(t), last: String(t + 5000) }]);
    });

    it('stores series rows as written: any text in keys, tags and services, ids above 2^63, no tags', async () => {
      const t = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
      const rows: NewSeries[] = [
        { seriesId: '18446744073709551615', key: 'ключ.m', tags: { q: `a'b"c\\d`, nl: 'x\ny', emoji: '🙂 漢字', z: '', a: 'first?' }, service: 'sérvice', firstSeen: t, lastSeen: t + 1 },
        { seriesId: '9223372036854775808', key: 'empty.tags', tags: {}, service: '', firstSeen: t - 1000, lastSeen: t },
      ];
      await store.insertSeries(rows);
      const got = await store.query<{ id: string; key: string; tags: Record<string, string>; service: string; first: string; last: string }>(
        sql`SELECT toString(series_id) AS id, key, any(tags) AS tags, any(service) AS service, toUnixTimestamp64Milli(min(first_seen)) AS first, toUnixTimestamp64Milli(max(last_seen)) AS last
            FROM series WHERE series_id IN ${param('Array(UInt64)', [18446744073709551615n, 9223372036854775808n])} GROUP BY series_id, key ORDER BY key`,
      );
      expect(got).toEqual([
        { id: '9223372036854775808', key: 'empty.tags', tags: {}, service: '', first: String(t - 1000), last: String(t) },
        { id: '18446744073709551615', key: 'ключ.m', tags: rows[0].tags, service: 'sérvice', first: String(t), last: String(t + 1) },
      ]);
      // Tag order is kept as written (the map is compared as a list of pairs).
      expect(Object.keys(got[1].tags)).toEqual(['q', 'nl', 'emoji', 'z', 'a']);
    });

    it('binds strings, 64-bit integers, arrays and maps as parameters', async () => {
      const rows = await store.query(
        sql`SELECT ${param('String', "q'\\")} AS s, ${param('UInt64', 18446744073709551615n)} AS u, ${param('Array(String)', ['a', "b'"])} AS a`,
      );
      expect(rows).toEqual([{ s: "q'\\", u: '18446744073709551615', a: ['a', "b'"] }]);
    });

    it('sets the points TTL from the retention setting, and only when it changes', async () => {
      expect(await applyRetention(store, 'points', 'ts', 30)).toBe(true);
      expect(await applyRetention(store, 'points', 'ts', 30)).toBe(false);
      const [{ engine_full }] = await store.query<{ engine_full: string }>(
        sql`SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'points'`,
      );
      expect(engine_full).toContain('toIntervalDay(30)');
    });

    it('answers ping while open', async () => {
      expect(await store.ping()).toBe(true);
    });
  });
}

storeContract('embedded', async () => {
  const dir = tempDir();
  const store = new EmbeddedStore(dir);
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

/**
 * The remote contract is registered in every run. Without a server it is reported skipped, with
 * the reason: CLICKHOUSE_URL unset (then 127.0.0.1:8123 is tried) or not answering.
 */
const remoteUrl = process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123';
storeContract('remote', async () => {
  const opts = {
    url: remoteUrl,
    username: process.env.CLICKHOUSE_USER ?? 'default',
    password: process.env.CLICKHOUSE_PASSWORD ?? '',
    database: `metronome_test_${process.pid}`,
  };
  const probe = createClient({ url: opts.url, username: opts.username, password: opts.password, request_timeout: 3000 });
  const ping = await probe.ping().catch((e: unknown) => ({ success: false as const, error: e as Error }));
  await probe.close();
  if (!ping.success) {
    const why = process.env.CLICKHOUSE_URL ? `CLICKHOUSE_URL=${remoteUrl}` : `CLICKHOUSE_URL is not set and ${remoteUrl}`;
    return { skip: `no ClickHouse server reachable (${why} did not answer: ${ping.error?.message ?? 'ping failed'})` };
  }
  await RemoteStore.ensureDatabase(opts);
  const store = new RemoteStore(opts);
  return {
    store,
    cleanup: async () => {
      await store.command(sql`DROP DATABASE IF EXISTS ${ident(opts.database)}`);
      await store.close();
    },
  };
});
