import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers.js';

/**
 * Dashboards send many panel queries at once and cancel them when the range changes. A query's
 * reads share its budget's abort signal; with a listener per read a query of a dozen selectors
 * passed Node's 10 and logged MaxListenersExceededWarning (254 in an hour, issue 14). Here a
 * server answers and cancels panel queries while `process.on('warning')` listens.
 */

let srv: TestServer;
const warnings: Error[] = [];
const onWarning = (w: Error) => warnings.push(w);

beforeAll(async () => {
  process.on('warning', onWarning);
  srv = await startTestServer({ DEMO: '1', DEMO_BACKFILL_HOURS: '1' });
  await srv.demo!.ready;
}, 180_000);
afterAll(async () => {
  process.off('warning', onWarning);
  await srv?.destroy();
});

/** The generated checkout dashboard's panel queries, variables at their "all" value. */
async function panelQueries(): Promise<string[]> {
  const res = await fetch(`${srv.url}/api/v1/dashboards/service:checkout`);
  const dash = (await res.json()).data as { panels: { queries?: { expr: string }[] }[] };
  return dash.panels.flatMap((p) => p.queries ?? []).map((q) => q.expr.replace(/\$\{?\w+\}?/g, (v) => (/interval|win/.test(v) ? '5m' : '.*')));
}

describe('panel queries and abort listeners', () => {
  it('answers and cancels many panel queries without a MaxListenersExceededWarning', async () => {
    const exprs = await panelQueries();
    expect(exprs.length).toBeGreaterThan(4);
    // A panel query of twelve selectors: twelve reads under one signal at once.
    exprs.push(Array.from({ length: 12 }, (_, i) => `sum(rate(http_requests_total{code=~"${i % 2 ? '2' : '5'}.."}[5m]))`).join(' + '));
    const end = Date.now() / 1000;
    const start = end - 3600;
    let answered = 0;
    let cancelled = 0;
    for (let round = 0; round < 4; round++) {
      await Promise.all(
        exprs.flatMap((expr, i) =>
          [0, 1].map(async (copy) => {
            const ac = new AbortController();
            const url = `${srv.url}/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${start}&end=${end}&step=15`;
            const res = fetch(url, { signal: ac.signal });
            // Every other copy is cancelled mid-flight, as a dashboard does on a new range.
            if (copy === 1) setImmediate(() => ac.abort());
            try {
              const r = await res;
              expect(r.status, expr).toBe(200);
              await r.text();
              answered++;
            } catch (e) {
              if ((e as Error).name !== 'AbortError') throw e;
              cancelled++;
            }
            return i;
          }),
        ),
      );
    }
    expect(answered).toBeGreaterThan(exprs.length * 4 - 1);
    expect(cancelled).toBeGreaterThan(0);
    expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([]);
  }, 120_000);
});
