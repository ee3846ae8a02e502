import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { clickhouseUrls, Failover, unreachable } from './failover.js';

/**
 * Failover through CLICKHOUSE_URL's list with real @clickhouse/client instances over real
 * sockets: a port nobody listens on (connection refused), and small HTTP servers that answer the
 * way ClickHouse's HTTP interface does (200 with the rows, or 500 with an exception), counting
 * what reaches them. What a real server answers is the remote store's contract test's business
 * (server/store/store.test.ts); this checks where calls go.
 */
interface Fake {
  url: string;
  hits: number;
  server: Server;
}

async function fake(status: number, body: string): Promise<Fake> {
  const f = { url: '', hits: 0, server: null as unknown as Server };
  f.server = createServer((req, res) => {
    f.hits++;
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'text/plain', ...(status >= 500 ? { 'x-clickhouse-exception-code': '60' } : {}) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => f.server.listen(0, '127.0.0.1', resolve));
  f.url = `http://127.0.0.1:${(f.server.address() as AddressInfo).port}`;
  return f;
}

/** A URL whose port was just freed: connecting is refused. */
async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return `http://127.0.0.1:${port}`;
}

let ok: Fake;
let failing: Fake;
let dead: string;

beforeAll(async () => {
  ok = await fake(200, '{"x":1}\n');
  failing = await fake(500, "Code: 60. DB::Exception: Unknown table expression identifier 'nope'. (UNKNOWN_TABLE)");
  dead = await deadUrl();
});
afterAll(async () => {
  for (const f of [ok, failing]) await new Promise((resolve) => f?.server.close(resolve));
});

function failover(urls: string[], seen: string[] = []) {
  return new Failover(
    urls.map((url) => createClient({ url, request_timeout: 5_000 })),
    urls,
    (from, to) => seen.push(`${from} -> ${to}`),
  );
}

const select = (c: ReturnType<Failover['client']>) => c.query({ query: 'SELECT 1 AS x', format: 'JSONEachRow' }).then((r) => r.json());

describe('CLICKHOUSE_URL failover', () => {
  it('goes to the next server when one cannot be reached, and stays there', async () => {
    const seen: string[] = [];
    const f = failover([dead, ok.url], seen);
    const before = ok.hits;
    expect(await select(f.client())).toEqual([{ x: 1 }]);
    expect(seen).toEqual([`${dead} -> ${ok.url}`]);
    expect(await select(f.client())).toEqual([{ x: 1 }]);
    // The second call went straight to the server that answered: no second failover.
    expect(f.failovers).toBe(1);
    expect(ok.hits - before).toBe(2);
    await f.client().close();
  });

  it("does not fail over on a server's error answer: that error is the caller's", async () => {
    const f = failover([failing.url, ok.url]);
    const before = ok.hits;
    await expect(select(f.client())).rejects.toThrow(/UNKNOWN_TABLE|Unknown table/);
    expect(ok.hits).toBe(before);
    expect(f.failovers).toBe(0);
    await f.client().close();
  });

  it('throws the connection error when no server can be reached', async () => {
    const f = failover([dead, await deadUrl()]);
    const err = await select(f.client()).catch((e: unknown) => e);
    expect(unreachable(err)).toBe(true);
    await f.client().close();
  });

  it('reads CLICKHOUSE_URL as one URL or a comma-separated list, and refuses anything else', () => {
    expect(clickhouseUrls('http://a:8123')).toEqual(['http://a:8123']);
    expect(clickhouseUrls(' http://a:8123 , http://b:8123,')).toEqual(['http://a:8123', 'http://b:8123']);
    expect(loadConfig({ CLICKHOUSE_URL: 'http://a:8123,http://b:8123' }).CLICKHOUSE_URL).toBe('http://a:8123,http://b:8123');
    expect(() => loadConfig({ CLICKHOUSE_URL: 'http://a:8123,not a url' })).toThrow(/CLICKHOUSE_URL/);
  });
});
