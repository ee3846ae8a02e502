import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, postJson, startTestServer, type TestServer } from './helpers.js';
import { baseTime, loadSeries, promGet } from './promql-helpers.js';

/**
 * Heroic's query API against the PromQL engine on the same data: each Heroic aggregation is
 * compared with the PromQL expression that means the same (through /api/v1/query_range), never
 * with numbers written here. Data: cpu.usage {host: web-1|web-2|db-1, role: web|web|db} every
 * 10 s for an hour after B (from B + 10 s, so a bucket (T - 60 s, T] holds six samples and
 * nothing lies before the range), values from a seeded generator.
 */
const SEED = Number(process.env.HEROIC_TEST_SEED ?? 20261202);
const B = baseTime(6);
const HOUR = 3_600_000;
const HOSTS = [
  { host: 'web-1', role: 'web' },
  { host: 'web-2', role: 'web' },
  { host: 'db-1', role: 'db' },
];
let srv: TestServer;

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

beforeAll(async () => {
  srv = await startTestServer();
  const r = rng(SEED);
  const now = Date.now();
  const live = Math.floor(now / 10_000) * 10_000;
  await loadSeries(srv.ctx.store, [
    ...HOSTS.map((t) => ({
      labels: { __name__: 'cpu.usage', ...t, site: 'lon' },
      samples: Array.from({ length: 360 }, (_, i): [number, number] => [B + (i + 1) * 10_000, Math.round(r() * 1000) / 10]),
    })),
    // Recent data for relative ranges (what Grafana sends for "last 1 hour").
    { labels: { __name__: 'live.gauge', host: 'a' }, samples: Array.from({ length: 720 }, (_, i): [number, number] => [live - 2 * HOUR + i * 10_000, Math.round(r() * 100)]) },
  ]);
});
afterAll(async () => {
  await srv?.destroy();
});

const post = (path: string, body: unknown) => postJson(`${srv.url}${path}`, body);
const RANGE = { type: 'absolute', start: B, end: B + HOUR };
const CPU = ['key', 'cpu.usage'];
const sampling = { unit: 'seconds', value: 60 };

type Series = Map<string, [number, number][]>;

/** PromQL range answer at Heroic's bucket times (T = start + 60 s ... end), keyed by chosen labels. */
async function prom(expr: string, by: string[], start = B + 60_000, end = B + HOUR, step = 60): Promise<Series> {
  const r = await promGet(srv.url, '/api/v1/query_range', { query: expr, start: start / 1000, end: end / 1000, step });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const out: Series = new Map();
  for (const s of r.body.data.result) {
    const vals = (s.values as [number, string][]).map(([t, v]): [number, number] => [Math.round(t * 1000), Number(v)]).filter(([, v]) => !Number.isNaN(v));
    out.set(keyOf(s.metric, by), vals);
  }
  return out;
}

/** Heroic answer keyed the same way (by the group's tags). */
function heroicSeries(body: any, by: string[]): Series {
  const out: Series = new Map();
  for (const g of body.result) out.set(keyOf(g.tags, by), g.values);
  return out;
}

function keyOf(labels: Record<string, string>, by: string[]): string {
  return by.map((k) => `${k}=${labels[k] ?? ''}`).join(',');
}

function expectSame(heroic: Series, promql: Series) {
  expect([...heroic.keys()].sort()).toEqual([...promql.keys()].sort());
  let compared = 0;
  for (const [k, want] of promql) {
    const got = heroic.get(k)!;
    expect(got.map(([t]) => t), k).toEqual(want.map(([t]) => t));
    got.forEach(([, v], i) => {
      expect(v).toBeCloseTo(want[i][1], 6);
      compared++;
    });
  }
  // Guard against agreeing on nothing.
  expect(compared).toBeGreaterThan(10);
}

async function query(body: Record<string, unknown>) {
  const r = await post('/query/metrics', { range: RANGE, filter: CPU, ...body });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}

const group = (of: string[] | null, each: Record<string, unknown>) => ({ type: 'group', of, each });
const sel = '{__name__="cpu.usage"}';

describe('bucketed aggregations agree with PromQL', () => {
  it('sums every series into one (sum without a group)', async () => {
    const h = await query({ aggregation: { type: 'sum', sampling } });
    expect(h.result).toHaveLength(1);
    expect(h.result[0]).toMatchObject({ key: 'cpu.usage', tags: { site: 'lon' }, tagCounts: { host: 3, role: 2 }, cadence: 60_000 });
    expectSame(heroicSeries(h, []), await prom(`sum(sum_over_time(${sel}[1m]))`, []));
  });

  it('sum, min, max and count by role', async () => {
    for (const [type, promExpr] of [
      ['sum', `sum by (role) (sum_over_time(${sel}[1m]))`],
      ['min', `min by (role) (min_over_time(${sel}[1m]))`],
      ['max', `max by (role) (max_over_time(${sel}[1m]))`],
      ['count', `sum by (role) (count_over_time(${sel}[1m]))`],
    ]) {
      const h = await query({ aggregation: group(['role'], { type, sampling }) });
      expectSame(heroicSeries(h, ['role']), await prom(promExpr, ['role']));
    }
  });

  it('averages all points of a group, not the averages of its series', async () => {
    const h = await query({ aggregation: group(['role'], { type: 'average', size: '1m' }) });
    expectSame(heroicSeries(h, ['role']), await prom(`sum by (role) (sum_over_time(${sel}[1m])) / sum by (role) (count_over_time(${sel}[1m]))`, ['role']));
  });

  it('stddev is the sample standard deviation, per series and pooled over a group', async () => {
    const each = await query({ aggregation: group(null, { type: 'stddev', sampling }) });
    const n = `count_over_time(${sel}[1m])`;
    expectSame(heroicSeries(each, ['host']), await prom(`sqrt(stdvar_over_time(${sel}[1m]) * ${n} / (${n} - 1))`, ['host']));
    // Pooled: sum of squares from each series' count, variance and mean.
    const pooled = await query({ aggregation: group(['role'], { type: 'stddev', sampling }) });
    const N = `sum by (role) (${n})`;
    const S = `sum by (role) (sum_over_time(${sel}[1m]))`;
    const SS = `sum by (role) (${n} * (stdvar_over_time(${sel}[1m]) + avg_over_time(${sel}[1m]) ^ 2))`;
    expectSame(heroicSeries(pooled, ['role']), await prom(`sqrt((${SS} - ${S} ^ 2 / ${N}) / (${N} - 1))`, ['role']));
  });

  it('quantile picks the sample of rank floor(q n), which is PromQL quantile_over_time where q (n - 1) is whole', async () => {
    // Six samples a bucket: q = 0.8 is rank 4 for both.
    const h = await query({ aggregation: group(null, { type: 'quantile', q: 0.8, sampling }) });
    expectSame(heroicSeries(h, ['host']), await prom(`quantile_over_time(0.8, ${sel}[1m])`, ['host']));
  });

  it('extent longer than size: buckets overlap as PromQL range windows do', async () => {
    const h = await query({ aggregation: group(['role'], { type: 'sum', sampling: { unit: 'minutes', value: 1, extent: 3 } }) });
    expectSame(heroicSeries(h, ['role']), await prom(`sum by (role) (sum_over_time(${sel}[3m]))`, ['role']));
  });

  it('the start strategy names a bucket by its start and holds [T, T + extent)', async () => {
    // Left-closed windows are PromQL's (T - 1 ms + 60 s - 60 s, ...]: shift the evaluation by 60 s - 1 ms.
    const h = await query({ aggregation: group(['role'], { type: 'count', sampling }), options: { bucketStrategy: 'start' } });
    const p = await prom(`sum by (role) (count_over_time(${sel}[1m] offset -59999ms))`, ['role'], B, B + HOUR - 60_000);
    expectSame(heroicSeries(h, ['role']), p);
  });

  it('sum2 is the sum of squares (PromQL: a subquery over the 10 s samples)', async () => {
    const h = await query({ aggregation: group(null, { type: 'sum2', sampling }) });
    expectSame(heroicSeries(h, ['host']), await prom(`sum_over_time((${sel} ^ 2)[1m:10s])`, ['host']));
  });

  it('chains: per-series averages, then their sum', async () => {
    const h = await query({ aggregation: { type: 'chain', chain: [group(null, { type: 'average', sampling }), { type: 'sum', sampling }] } });
    expectSame(heroicSeries(h, []), await prom(`sum(avg_over_time(${sel}[1m]))`, []));
  });
});

describe('filter aggregations agree with PromQL', () => {
  const inner = group(null, { type: 'average', sampling });
  const area = (vs: [number, number][]) => vs.slice(1).reduce((s, [t, v], i) => s + ((t - vs[i][0]) * (v + vs[i][1])) / 2, 0);

  it('topk and bottomk keep the series with the largest and smallest area', async () => {
    const p = await prom(`avg_over_time(${sel}[1m])`, ['host']);
    const ranked = [...p].sort((a, b) => area(b[1]) - area(a[1])).map(([k]) => k);
    const top = await query({ aggregators: [inner, { type: 'topk', k: 2, of: { type: 'empty' } }] });
    expect(top.result.map((g: any) => keyOf(g.tags, ['host']))).toEqual(ranked.slice(0, 2));
    const bottom = await query({ aggregators: [inner, { type: 'bottomk', k: 1 }] });
    expect(bottom.result.map((g: any) => keyOf(g.tags, ['host']))).toEqual(ranked.slice(-1));
    expectSame(heroicSeries(top, ['host']), new Map([...p].filter(([k]) => ranked.slice(0, 2).includes(k))));
  });

  it('abovek and belowk keep the series whose extreme passes k', async () => {
    const p = await prom(`avg_over_time(${sel}[1m])`, ['host']);
    const maxes = [...p].map(([k, vs]) => [k, Math.max(...vs.map(([, v]) => v))] as const);
    // Thresholds halfway between two series' extremes: Heroic's bucket means and PromQL's
    // compensated ones may differ in the last bits, which must not decide the test.
    const sortedMax = [...maxes].sort((a, b) => a[1] - b[1]);
    const k = (sortedMax[1][1] + sortedMax[2][1]) / 2;
    const above = await query({ aggregators: [inner, { type: 'abovek', k }] });
    expect(above.result.map((g: any) => keyOf(g.tags, ['host'])).sort()).toEqual(maxes.filter(([, m]) => m > k).map(([h]) => h).sort());
    const mins = [...p].map(([key, vs]) => [key, Math.min(...vs.map(([, v]) => v))] as const);
    const sortedMin = [...mins].sort((a, b) => a[1] - b[1]);
    const kb = (sortedMin[0][1] + sortedMin[1][1]) / 2;
    const below = await query({ aggregators: [inner, { type: 'belowk', k: kb }] });
    expect(below.result.map((g: any) => keyOf(g.tags, ['host'])).sort()).toEqual(mins.filter(([, m]) => m < kb).map(([h]) => h).sort());
  });

  it('pointsabove and pointsbelow keep the points past the threshold', async () => {
    // A bucket averages six values of one decimal (a multiple of 1/60), so no average lies within
    // 0.002 of 50.004: at a threshold of exactly 50, a bucket averaging 50 was answered 50 by
    // PromQL (compensated sum, as Prometheus) and 50.00000000000001 by Heroic's plain average,
    // and the two disagreed on the tie, not on pointsabove/pointsbelow.
    const above = await query({ aggregators: [inner, { type: 'pointsabove', threshold: 50.004 }] });
    expectSame(heroicSeries(above, ['host']), await prom(`avg_over_time(${sel}[1m]) > 50.004`, ['host']));
    const below = await query({ aggregators: [inner, { type: 'pointsbelow', threshold: 50.004 }] });
    expectSame(heroicSeries(below, ['host']), await prom(`avg_over_time(${sel}[1m]) < 50.004`, ['host']));
  });
});

describe('point-wise aggregations agree with PromQL', () => {
  const inner = group(null, { type: 'average', sampling });
  const avg = `avg_over_time(${sel}[1m])`;
  const change = `(${avg} - avg_over_time(${sel}[1m] offset 1m))`;

  it('delta, deltaPerSecond and notNegative over the buckets of each series', async () => {
    const d = await query({ aggregators: [inner, { type: 'delta' }] });
    expectSame(heroicSeries(d, ['host']), await prom(change, ['host']));
    const r = await query({ aggregators: [inner, { type: 'deltaPerSecond' }] });
    expectSame(heroicSeries(r, ['host']), await prom(`${change} / 60`, ['host']));
    const n = await query({ aggregators: [inner, { type: 'delta' }, { type: 'notNegative' }] });
    expectSame(heroicSeries(n, ['host']), await prom(`${change} >= 0`, ['host']));
  });
});

describe('filters in both forms', () => {
  const web = `sum by (role) (sum_over_time({__name__="cpu.usage", role="web"}[1m]))`;
  for (const [name, filter] of [
    ['array form', ['and', ['key', 'cpu.usage'], ['=', 'role', 'web']]],
    ['HQL string', '$key = "cpu.usage" and role = web'],
    ['HQL inside ["q", ...]', ['and', ['q', 'key = cpu.usage and !(role = db)']]],
    ['prefix and has-tag', ['and', ['key', 'cpu.usage'], ['^', 'host', 'web'], ['+', 'site']]],
    ['HQL in-list', 'key = cpu.usage and host in [web-1, "web-2"]'],
  ] as const) {
    it(`selects the same series as PromQL: ${name}`, async () => {
      const h = await query({ filter, aggregation: group(['role'], { type: 'sum', sampling }) });
      expectSame(heroicSeries(h, ['role']), await prom(web, ['role']));
    });
  }

  it('parses HQL filters to the array form (GET and POST /parser/parse-filter)', async () => {
    const r = await fetch(`${srv.url}/parser/parse-filter`, { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8' }, body: '$key = cpu and (host = a or host != b) and +site' });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual(['and', ['key', 'cpu'], ['or', ['=', 'host', 'a'], ['not', ['=', 'host', 'b']]], ['+', 'site']]);
    const g = await getJson(`${srv.url}/parser/parse-filter?filter=${encodeURIComponent('role ^ we or role ~ "d.*"')}`);
    expect(g.body).toEqual(['or', ['^', 'role', 'we'], ['~', 'role', 'd.*']]);
    const bad = await getJson(`${srv.url}/parser/parse-filter?filter=${encodeURIComponent('host = ')}`);
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ type: 'error', status: 400, code: 'MTR_HEROIC_BAD_REQUEST', field: 'filter' });
    expect(bad.body.message).toBe('invalid filter: HQL: expected a value at position 7');
  });
});

describe('what the Grafana Heroic data source sends', () => {
  it('POST /query/batch with aggregators, features, clientContext and an absolute range', async () => {
    // As spotify-heroic-datasource's HeroicQuery.render() and datasource.query() build it.
    const A = {
      filter: ['and', ['key', 'cpu.usage'], ['=', 'role', 'web']],
      aggregators: [{ type: 'group', of: null, each: [{ type: 'average', sampling: { unit: 'seconds', value: 60 } }] }],
      features: ['com.spotify.heroic.distributed_aggregations'],
      range: RANGE,
      clientContext: { dashboardId: 'x', panelId: 1 },
    };
    const Bq = { ...A, aggregators: [{ type: 'group', of: [], each: [{ type: 'sum', sampling: { unit: 'seconds', value: 60 } }] }, { type: 'topk', k: 5, of: { type: 'empty' } }] };
    const r = await post('/query/batch', { queries: { A, B: Bq } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(Object.keys(r.body.results).sort()).toEqual(['A', 'B']);
    const a = r.body.results.A;
    expect(a).toMatchObject({ errors: [], limits: [], range: { start: B, end: B + HOUR }, commonTags: { role: ['web'], site: ['lon'] } });
    expect(typeof a.queryId).toBe('string');
    expect(a.trace.what.name).toBeTruthy();
    expect(a.result[0]).toMatchObject({ type: 'points', key: 'cpu.usage', cadence: 60_000 });
    expectSame(heroicSeries(a, ['host']), await prom(`avg_over_time({__name__="cpu.usage", role="web"}[1m])`, ['host']));
    expect(r.body.results.B.result[0].tagCounts).toEqual({ host: 2 });
    expectSame(heroicSeries(r.body.results.B, []), await prom(`sum(sum_over_time({__name__="cpu.usage", role="web"}[1m]))`, []));
  });

  it('a relative range ends a whole cadence before now (shift_range), and buckets agree with PromQL', async () => {
    const r = await post('/query/batch', {
      queries: { A: { filter: ['and', ['key', 'live.gauge']], aggregators: [{ type: 'group', of: null, each: [{ type: 'max', sampling: { unit: 'seconds', value: 60 } }] }], range: { type: 'relative', unit: 'HOURS', value: 1 } } },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const a = r.body.results.A;
    expect(a.range.end % 60_000).toBe(0);
    expect(a.range.end).toBeLessThanOrEqual(Date.now() - 10_000);
    expect(a.range.end - a.range.start).toBe(HOUR);
    expectSame(heroicSeries(a, ['host']), await prom(`max_over_time({__name__="live.gauge"}[1m])`, ['host'], a.range.start + 60_000, a.range.end));
  });

  it('without sampling, the size is chosen from the range (largest Heroic interval below range / 240)', async () => {
    const h = await query({ aggregation: { type: 'sum' } });
    // 1 h / 240 = 15 s; the largest factor below it is 10 s.
    expect(h.result[0].cadence).toBe(10_000);
    expectSame(heroicSeries(h, []), await prom(`sum(sum_over_time(${sel}[10s]))`, [], B + 10_000, B + HOUR, 10));
  });

  it('annotation queries: no aggregators, the raw points of each series', async () => {
    const r = await post('/query/metrics', { filter: ['and', ['key', 'cpu.usage'], ['=', 'host', 'db-1']], aggregators: [], features: ['com.spotify.heroic.distributed_aggregations'], range: RANGE });
    expect(r.status).toBe(200);
    expect(r.body.result).toHaveLength(1);
    expect(r.body.result[0]).toMatchObject({ key: 'cpu.usage', tags: { host: 'db-1', role: 'db', site: 'lon' }, cadence: -1 });
    const exported = await promGet(srv.url, '/api/v1/query_range', { query: '{__name__="cpu.usage", host="db-1"}', start: (B + 10_000) / 1000, end: (B + HOUR) / 1000, step: 10 });
    expect(r.body.result[0].values).toEqual(exported.body.data.result[0].values.map(([t, v]: [number, string]) => [Math.round(t * 1000), Number(v)]));
  });

  it('template variables: tag-suggest with a ["q", HQL] filter and a null key', async () => {
    const v = await post('/metadata/tag-suggest', { filter: ['and', ['q', 'role = web']], limit: 500, key: 'host' });
    expect(v.status).toBe(200);
    expect(v.body.suggestions.map((x: any) => x.value).sort()).toEqual(['web-1', 'web-2']);
    const keys = await post('/metadata/tag-suggest', { filter: ['true'], limit: 100, key: null });
    expect(keys.status).toBe(200);
    expect(new Set(keys.body.suggestions.map((x: any) => x.key))).toEqual(new Set(['host', 'role', 'site']));
  });

  it('GET /status answers in Heroic shape for "Save & test"', async () => {
    const r = await getJson(`${srv.url}/status`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true, service: { name: 'Metronome' }, backends: { ok: true }, metadataBackend: { ok: true }, consumers: { ok: true } });
    // A browser navigating to /status gets the UI's Status page instead.
    const page = await fetch(`${srv.url}/status`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(page.headers.get('content-type')).toContain('text/html');
  });

  it('POST /metadata/tagkey-count and /metadata/tag-values-suggest', async () => {
    const t = await post('/metadata/tagkey-count', { filter: ['and', ['key', 'cpu.usage']], limit: 100 });
    expect(t.status).toBe(200);
    expect(t.body.suggestions).toEqual([
      { key: 'host', count: 3 },
      { key: 'role', count: 3 },
      { key: 'site', count: 3 },
    ]);
    const v = await post('/metadata/tag-values-suggest', { filter: ['key', 'cpu.usage'], exclude: ['site'] });
    expect(v.body.suggestions).toEqual([
      { key: 'host', values: ['db-1', 'web-1', 'web-2'], limited: false },
      { key: 'role', values: ['web', 'db'], limited: false },
    ]);
  });
});

describe('raw points (no aggregation)', () => {
  it('answers each series with its points in the range', async () => {
    const h = await query({ filter: ['and', ['key', 'cpu.usage'], ['=', 'host', 'web-1']], range: { type: 'absolute', start: B, end: B + 600_000 } });
    expect(h.result).toHaveLength(1);
    expect(h.result[0].cadence).toBe(-1);
    expect(h.result[0].values).toHaveLength(60);
    expect(h.preAggregationSampleSize).toBe(60);
  });
});

describe('bad requests get 400 in Heroic error shape, naming the field', () => {
  const cases: [string, unknown, string][] = [
    ['missing range', { filter: CPU }, 'range'],
    ['range end before start', { range: { type: 'absolute', start: 10, end: 5 } }, 'range.end'],
    ['unknown aggregation', { range: RANGE, aggregation: { type: 'median' } }, 'aggregation.type'],
    ['bad sampling unit', { range: RANGE, aggregation: group(['role'], { type: 'sum', sampling: { unit: 'fortnights', value: 1 } }) }, 'aggregation.each.sampling.unit'],
    ['quantile out of range', { range: RANGE, aggregators: [{ type: 'quantile', q: 2 }] }, 'aggregators[0].q'],
    ['bad filter element', { range: RANGE, filter: ['and', ['=', 'host']] }, 'filter[1]'],
    ['bad HQL', { range: RANGE, filter: 'host = "a' }, 'filter'],
    ['bad regex', { range: RANGE, filter: ['~', 'host', '(?P<x'] }, 'filter[2]'],
    ['unknown feature', { range: RANGE, features: ['com.example.nope'] }, 'features[0]'],
    ['too many buckets', { range: RANGE, aggregation: { type: 'sum', size: 1 } }, 'aggregation.sampling'],
  ];
  for (const [name, body, field] of cases) {
    it(name, async () => {
      const r = await post('/query/metrics', body);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body).toMatchObject({ type: 'error', status: 400, reason: 'Bad Request', code: 'MTR_HEROIC_BAD_REQUEST', field });
      expect(r.body.message).toContain(field);
    });
  }

  it('says what is wrong with a bad filter after naming its element once', async () => {
    const element = await post('/query/metrics', { range: RANGE, filter: ['and', ['=', 'host']] });
    expect(element.body.message).toBe('invalid filter[1]: "=" takes 2 argument(s), got 1');
    const hql = await post('/query/metrics', { range: RANGE, filter: 'host = "a' });
    expect(hql.body.message).toBe('invalid filter: HQL: unterminated string at position 7');
  });

  it('names the query of a batch', async () => {
    const r = await post('/query/batch', { queries: { ok: { range: RANGE, filter: CPU }, broken: { range: RANGE, aggregators: [{ type: 'topk', k: -1 }] } } });
    expect(r.status).toBe(400);
    expect(r.body.field).toBe('queries.broken.aggregators[0].k');
  });
});

describe('POST /write in Heroic shape', () => {
  it('answers {errors, times} when asked, and the usual answer otherwise', async () => {
    const body = { series: { key: 'w.test', tags: { a: 'b' } }, data: { type: 'points', data: [[Date.now() - 60_000, 1]] } };
    const h = await post('/write?format=heroic', body);
    expect(h.status).toBe(200);
    expect(h.body.errors).toEqual([]);
    expect(h.body.times).toHaveLength(1);
    const hdr = await postJson(`${srv.url}/write`, body, { 'x-response-format': 'heroic' });
    expect(Object.keys(hdr.body).sort()).toEqual(['errors', 'times']);
    const plain = await post('/write', body);
    expect(plain.body).toMatchObject({ ok: true, points: 1 });
  });
});
