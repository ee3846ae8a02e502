import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../server/store/index.js';
import { heroic, postJson, startTestServer, wrapStore, type TestServer } from './helpers.js';

/**
 * User strings never change the SQL that runs. Every statement the server sends to the real
 * store is captured (compiled to text + parameters) while the same request is made with a
 * benign value and with hostile ones (quotes, backslashes, SQL fragments, placeholders,
 * control characters, random Unicode): the SQL texts must be identical, only the bound
 * parameters differ, and the hostile value must reach ClickHouse verbatim as a parameter.
 */

const captured: { sql: string; params: Record<string, unknown> }[] = [];
const capture = wrapStore({
  query: (real, q, opts) => {
    captured.push(compile(q));
    return real(q, opts);
  },
  command: (real, q, opts) => {
    captured.push(compile(q));
    return real(q, opts);
  },
});

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({}, { wrapStore: capture });
  const now = Date.now();
  expect((await postJson(`${srv.url}/write`, [heroic('up', { job: 'api' }, [[now - 1000, 1]]), heroic('up', { job: "o'brien\\" }, [[now - 1000, 1]])])).status).toBe(200);
});
afterAll(async () => {
  await srv?.destroy();
});

const HOSTILE = [
  `'; DROP TABLE points; --`,
  `' OR '1'='1`,
  `\\'`,
  `\\`,
  `"`,
  '`',
  `{p0:String}`,
  `{p0:String} OR 1=1`,
  `)) UNION ALL SELECT name FROM system.tables --`,
  `abc' FORMAT JSONEachRow --`,
  `$1`,
  `\u0000`,
  `line\nbreak\ttab`,
  `o'brien\\`,
  `ünïcødé 🚀`,
];

/** A PromQL double-quoted string for `s` (Go escapes, as Prometheus reads them). */
const promString = (s: string) => JSON.stringify(s);
/** A regex matching exactly `s`. */
const reQuote = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface Surface {
  name: string;
  request: (v: string) => { path: string; init?: RequestInit };
  /** Whether the hostile value must appear verbatim among the parameters. */
  verbatim: boolean;
}

const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const q = (expr: string) => `/api/v1/query?query=${encodeURIComponent(expr)}`;
const SURFACES: Surface[] = [
  { name: 'label value', request: (v) => ({ path: q(`up{job=${promString(v)}}`) }), verbatim: true },
  { name: 'negative label value', request: (v) => ({ path: q(`sum(rate(up{job!=${promString(v)}}[5m]))`) }), verbatim: true },
  { name: 'regex label value', request: (v) => ({ path: q(`up{job=~${promString(reQuote(v))}}`) }), verbatim: false },
  { name: 'metric name', request: (v) => ({ path: q(`{__name__=${promString(v)}}`) }), verbatim: true },
  { name: 'range query', request: (v) => ({ path: `/api/v1/query_range?query=${encodeURIComponent(`max_over_time(up{job=${promString(v)}}[1m])`)}&start=${(Date.now() - 600_000) / 1000}&end=${Date.now() / 1000}&step=60` }), verbatim: true },
  { name: 'label_replace replacement', request: (v) => ({ path: q(`label_replace(up, "dst", ${promString(v)}, "job", "(.*)")`) }), verbatim: false },
  { name: 'series match[]', request: (v) => ({ path: `/api/v1/series?match[]=${encodeURIComponent(`up{job=${promString(v)}}`)}` }), verbatim: true },
  { name: 'labels match[]', request: (v) => ({ path: `/api/v1/labels?match[]=${encodeURIComponent(`{job=${promString(v)}}`)}` }), verbatim: true },
  { name: 'export match[]', request: (v) => ({ path: `/api/v1/export?match[]=${encodeURIComponent(`up{job=${promString(v)}}`)}` }), verbatim: true },
  { name: 'metadata metric', request: (v) => ({ path: `/api/v1/metadata?metric=${encodeURIComponent(v)}` }), verbatim: true },
  { name: 'Heroic tag filter', request: (v) => ({ path: '/metadata/series', init: json({ filter: ['and', ['key', 'up'], ['=', 'job', v]] }) }), verbatim: true },
  { name: 'Heroic key filter', request: (v) => ({ path: '/metadata/keys', init: json({ filter: ['key', v] }) }), verbatim: true },
  { name: 'Heroic tag name', request: (v) => ({ path: '/metadata/tags', init: json({ filter: ['=', v, 'api'] }) }), verbatim: true },
  { name: 'Heroic prefix filter', request: (v) => ({ path: '/metadata/series-count', init: json({ filter: ['^', 'job', v] }) }), verbatim: false },
  { name: 'Heroic suggest', request: (v) => ({ path: '/metadata/tag-value-suggest', init: json({ key: 'job', value: v }) }), verbatim: false },
];

async function run(s: Surface, v: string): Promise<{ status: number; statements: typeof captured }> {
  // Every request does its own lookups: the embedded store's series cache would otherwise
  // answer a selection seen before in process, and the statement lists would differ by history.
  (srv.ctx.store as { seriesCache?: { reset(): void } }).seriesCache?.reset();
  captured.length = 0;
  const { path, init } = s.request(v);
  const res = await fetch(`${srv.url}${path}`, init);
  await res.text();
  return { status: res.status, statements: captured.splice(0) };
}

function containsVerbatim(params: Record<string, unknown>, v: string): boolean {
  const has = (x: unknown): boolean => x === v || (Array.isArray(x) && x.some(has)) || (typeof x === 'object' && x !== null && Object.values(x).some(has));
  return Object.values(params).some(has);
}

describe('user strings cannot change the SQL', () => {
  for (const s of SURFACES) {
    it(`${s.name}: the SQL text is the same for benign and hostile values`, async () => {
      // Some routes run one more statement when something matched (export reads the points):
      // compare with a benign value that matches as much as the hostile one.
      const benign = await run(s, 'abc');
      const benignFound = await run(s, 'api');
      expect([benign.status, benignFound.status], s.name).toEqual([200, 200]);
      expect(benign.statements.length, `${s.name} ran no SQL`).toBeGreaterThan(0);
      const check = async (v: string) => {
        const hostile = await run(s, v);
        const texts = (v === "o'brien\\" ? benignFound : benign).statements.map((x) => x.sql);
        expect(hostile.status, `${s.name} ${JSON.stringify(v)}`).toBe(200);
        expect(hostile.statements.map((x) => x.sql), `${s.name} ${JSON.stringify(v)}`).toEqual(texts);
        if (s.verbatim) expect(hostile.statements.some((x) => containsVerbatim(x.params, v)), `${s.name}: ${JSON.stringify(v)} not bound verbatim`).toBe(true);
      };
      for (const v of HOSTILE) await check(v);
      await fc.assert(
        // "key" as a Heroic tag name means the metric key (a different filter, so different SQL).
        fc.asyncProperty(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 }).filter((v) => v !== 'key'), async (v) => check(v)),
        { numRuns: 40 },
      );
    });
  }

  it('finds the series whose label holds quotes and backslashes, by exact value', async () => {
    const r = await fetch(`${srv.url}${q(`up{job=${promString("o'brien\\")}}`)}`).then((x) => x.json() as Promise<any>);
    expect(r.data.result.map((x: { metric: Record<string, string> }) => x.metric.job)).toEqual(["o'brien\\"]);
    const tables = await fetch(`${srv.url}${q('count(up)')}`).then((x) => x.json() as Promise<any>);
    expect(tables.data.result[0].value[1]).toBe('2');
  });
});
