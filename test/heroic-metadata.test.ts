import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startTestServer, type TestServer } from './helpers.js';
import { baseTime, loadSeries } from './promql-helpers.js';

/**
 * Heroic's metadata and suggest endpoints over the series table. Series:
 *   cpu.usage  {host: web-1|web-2|db-1, role: web|web|db, site: lon}
 *   cpu.idle   {host: web-1, role: web, site: sto}
 *   disk.used  {host: db-1, role: db}                  (seen three days ago only)
 */
let srv: TestServer;
const NOW = Date.now();
const B = baseTime(1);

beforeAll(async () => {
  srv = await startTestServer();
  const one = (t: number): [number, number][] => [[t, 1]];
  await loadSeries(srv.ctx.store, [
    { labels: { __name__: 'cpu.usage', host: 'web-1', role: 'web', site: 'lon' }, samples: one(B) },
    { labels: { __name__: 'cpu.usage', host: 'web-2', role: 'web', site: 'lon' }, samples: one(B) },
    { labels: { __name__: 'cpu.usage', host: 'db-1', role: 'db', site: 'lon' }, samples: one(B) },
    { labels: { __name__: 'cpu.idle', host: 'web-1', role: 'web', site: 'sto' }, samples: one(B) },
    { labels: { __name__: 'disk.used', host: 'db-1', role: 'db' }, samples: one(NOW - 3 * 86_400_000) },
  ]);
});
afterAll(async () => {
  await srv?.destroy();
});

const post = (path: string, body: unknown) => postJson(`${srv.url}${path}`, body);

describe('POST /metadata/keys, /tags, /series, /series-count', () => {
  it('lists keys with the number of series examined', async () => {
    const r = await post('/metadata/keys', {});
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ errors: [], keys: ['cpu.idle', 'cpu.usage', 'disk.used'], size: 5, limited: false });
  });

  it('applies a Heroic filter and a relative range', async () => {
    const r = await post('/metadata/keys', { filter: ['and', ['=', 'role', 'db']], range: { type: 'relative', unit: 'DAYS', value: 1 } });
    expect(r.body.keys).toEqual(['cpu.usage']);
  });

  it('lists tags with their values', async () => {
    const r = await post('/metadata/tags', { filter: ['key', 'cpu.usage'] });
    expect(r.body).toMatchObject({ errors: [], size: 3, limited: false, tags: { host: ['db-1', 'web-1', 'web-2'], role: ['db', 'web'], site: ['lon'] } });
  });

  it('lists series and says which limit cut the answer', async () => {
    const r = await post('/metadata/series', { filter: ['^', 'host', 'web'], limit: 2 });
    expect(r.body.series).toHaveLength(2);
    expect(r.body.limited).toBe(true);
    expect(r.body.limit).toEqual({ name: 'limit', value: 2 });
    const all = await post('/metadata/series', { filter: ['^', 'host', 'web'] });
    expect(all.body.limited).toBe(false);
    expect(all.body.limit).toBeUndefined();
    expect(all.body.series).toContainEqual({ key: 'cpu.idle', tags: { host: 'web-1', role: 'web', site: 'sto' } });
  });

  it('counts series, with or/not/has-tag/regex filters', async () => {
    expect((await post('/metadata/series-count', {})).body).toEqual({ errors: [], count: 5, limited: false });
    expect((await post('/metadata/series-count', { filter: ['or', ['key', 'cpu.idle'], ['key', 'disk.used']] })).body.count).toBe(2);
    expect((await post('/metadata/series-count', { filter: ['not', ['+', 'site']] })).body.count).toBe(1);
    expect((await post('/metadata/series-count', { filter: ['~', 'host', 'web-[0-9]'] })).body.count).toBe(3);
    expect((await post('/metadata/series-count', { filter: ['and', ['key', 'cpu.usage'], ['!=', 'role', 'web']] })).body.count).toBe(1);
  });

  it('clamps a huge limit to the server maximum and names it when it cuts', async () => {
    const r = await post('/metadata/series-count', { limit: 2 });
    expect(r.body).toMatchObject({ count: 2, limited: true, limit: { name: 'limit', value: 2 } });
  });
});

describe('suggest endpoints', () => {
  it('suggests keys by prefix, ranked by series count', async () => {
    const r = await post('/metadata/key-suggest', { key: 'CPU' });
    expect(r.body).toEqual({
      errors: [],
      suggestions: [
        { score: 3, key: 'cpu.usage' },
        { score: 1, key: 'cpu.idle' },
      ],
      limited: false,
    });
    const one = await post('/metadata/key-suggest', { key: 'cpu', limit: 1 });
    expect(one.body).toMatchObject({ suggestions: [{ key: 'cpu.usage' }], limited: true, limit: { name: 'limit', value: 1 } });
  });

  it('suggests tag key/value pairs by prefix', async () => {
    const r = await post('/metadata/tag-suggest', { key: 'ro', value: 'w' });
    expect(r.body.suggestions).toEqual([{ score: 3, key: 'role', value: 'web' }]);
    const site = await post('/metadata/tag-suggest', { key: 'site', filter: ['key', 'cpu.usage'] });
    expect(site.body.suggestions).toEqual([{ score: 3, key: 'site', value: 'lon' }]);
  });

  it('suggests values of a tag, most common first', async () => {
    const r = await post('/metadata/tag-value-suggest', { key: 'role' });
    expect(r.body).toEqual({ errors: [], values: ['web', 'db'], limited: false });
    const pre = await post('/metadata/tag-value-suggest', { key: 'host', value: 'db' });
    expect(pre.body.values).toEqual(['db-1']);
  });

  it('suggests only keys and values of series seen in the requested range', async () => {
    const r = await post('/metadata/tag-value-suggest', { key: 'host', value: 'db', range: { type: 'absolute', start: NOW - 4 * 86_400_000, end: NOW - 2 * 86_400_000 } });
    expect(r.body.values).toEqual(['db-1']);
    const keys = await post('/metadata/key-suggest', { key: 'd', range: { type: 'relative', unit: 'HOURS', value: 1 } });
    expect(keys.body.suggestions).toEqual([]);
  });
});

describe('bad requests', () => {
  it('names the bad element of a filter', async () => {
    const r = await post('/metadata/series', { filter: ['and', ['=', 'host']] });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('MTR_METADATA_BAD_REQUEST');
    expect(r.body.error.message).toBe('invalid filter[1]: "=" takes 2 argument(s), got 1');
    const op = await post('/metadata/keys', { filter: ['like', 'a'] });
    expect(op.body.error.message).toContain('unknown filter operator "like"');
  });

  it('rejects a bad limit, range or missing tag key', async () => {
    expect((await post('/metadata/keys', { limit: -1 })).status).toBe(400);
    expect((await post('/metadata/keys', { range: { type: 'absolute', start: 10, end: 5 } })).body.error.message).toBe('invalid range.end: end is before start');
    expect((await post('/metadata/tag-value-suggest', {})).body.error.message).toContain('key');
  });
});
