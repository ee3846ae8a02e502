import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heroic, postJson, startTestServer, type TestServer } from './helpers.js';

/**
 * Bad input on the read side: the Prometheus query API (query, query_range, series, labels,
 * label values, export, metadata) and Heroic's metadata endpoints get random, truncated, huge,
 * deeply nested and wrongly typed input. Every answer must be a 2xx, or a 4xx with a message;
 * never a 5xx, never a hang (each request has a deadline), and the server must stay up with
 * bounded memory.
 */

let srv: TestServer;
let startRss = 0;
const now = Date.now();
beforeAll(async () => {
  srv = await startTestServer({ QUERY_TIMEOUT_MS: '10000' });
  const body = [];
  for (const job of ['api', 'db']) {
    for (const instance of ['a:1', 'b:2']) {
      const pts = (f: (i: number) => number) => Array.from({ length: 20 }, (_, i) => [now - 600_000 + i * 30_000, f(i)] as [number, number]);
      body.push(heroic('up', { job, instance }, pts(() => 1)));
      body.push(heroic('http_requests_total', { job, instance, code: '200' }, pts((i) => i * 10)));
      body.push(heroic('http_request_duration_seconds_bucket', { job, instance, le: '0.5' }, pts((i) => i)));
      body.push(heroic('http_request_duration_seconds_bucket', { job, instance, le: '+Inf' }, pts((i) => i * 2)));
    }
  }
  expect((await postJson(`${srv.url}/write`, body)).status).toBe(200);
  startRss = process.memoryUsage().rss;
});
afterAll(async () => {
  await srv?.destroy();
});

interface Answer {
  status: number;
  text: string;
}

/** Send a request with a deadline; a timeout fails the property (a hang). */
async function send(method: 'GET' | 'POST', path: string, init: { body?: string | Uint8Array; type?: string } = {}): Promise<Answer> {
  const res = await fetch(`${srv.url}${path}`, {
    method,
    headers: init.type ? { 'content-type': init.type } : {},
    body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : new Uint8Array(init.body),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: res.status, text: await res.text() };
}

/** A 2xx, or a 4xx whose body says what was wrong. */
function acceptable(a: Answer, what: string): void {
  expect(a.status, `${what} -> ${a.status} ${a.text.slice(0, 300)}`).toBeLessThan(500);
  if (a.status >= 400) {
    let msg = '';
    try {
      const j = JSON.parse(a.text);
      msg = typeof j.error === 'string' ? j.error : (j.error?.message ?? j.message ?? '');
    } catch {
      msg = a.text;
    }
    expect(msg.length, `${what} -> ${a.status} without a message: ${a.text.slice(0, 200)}`).toBeGreaterThan(0);
  }
}

const form = (params: [string, string][]) => params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
/** lone surrogates cannot be percent-encoded: send them as U+FFFD, as a browser would. */
const wellFormed = (s: string) => s.replace(/[\ud800-\udfff]/g, (c, i, str) => (/[\ud800-\udbff][\udc00-\udfff]/.test(str.slice(i - 1, i + 1)) || /[\ud800-\udbff][\udc00-\udfff]/.test(str.slice(i, i + 2)) ? c : '\ufffd'));

// ---- PromQL, valid then broken ----
const metric = fc.constantFrom('up', 'http_requests_total', 'http_request_duration_seconds_bucket', 'nope', 'x');
const label = fc.constantFrom('job', 'instance', 'code', 'le', '__name__', 'zz');
const value = fc.oneof(fc.constantFrom('api', 'db', 'a:1', '.*', '', '+Inf'), fc.string({ maxLength: 8 }));
const matcher = fc.tuple(label, fc.constantFrom('=', '!=', '=~', '!~'), value).map(([l, op, v]) => `${l}${op}${JSON.stringify(v)}`);
const selector = fc.tuple(metric, fc.array(matcher, { maxLength: 3 })).map(([m, ms]) => (ms.length ? `${m}{${ms.join(',')}}` : m));
const duration = fc.constantFrom('1m', '5m', '30s', '1h', '1d', '15s');
const promql: fc.Arbitrary<string> = fc.letrec<{ expr: string }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    selector,
    fc.double({ noNaN: false }).map(String),
    fc.tuple(fc.constantFrom('rate', 'increase', 'avg_over_time', 'max_over_time', 'deriv', 'changes'), selector, duration).map(([f, s, d]) => `${f}(${s}[${d}])`),
    fc.tuple(fc.constantFrom('sum', 'avg', 'max', 'count', 'stddev'), fc.constantFrom('', ' by (job)', ' without (instance)'), tie('expr')).map(([a, g, e]) => `${a}${g}(${e})`),
    fc.tuple(fc.constantFrom('abs', 'ceil', 'sort', 'vector', 'scalar', 'timestamp', 'absent'), tie('expr')).map(([f, e]) => `${f}(${e})`),
    fc.tuple(fc.constantFrom('topk', 'bottomk', 'quantile'), fc.double(), tie('expr')).map(([f, k, e]) => `${f}(${k}, ${e})`),
    fc.tuple(tie('expr'), fc.constantFrom('+', '-', '*', '/', '%', '^', '==', '>', '<=', ' and ', ' or ', ' unless ', ' > bool '), fc.constantFrom('', ' on (job) ', ' ignoring (code) ', ' on (job) group_left '), tie('expr')).map(
      ([a, op, m, b]) => `${a} ${op}${m} ${b}`,
    ),
    fc.tuple(tie('expr'), duration, duration).map(([e, r, s]) => `(${e})[${r}:${s}]`),
    fc.tuple(selector, duration).map(([s, d]) => `${s} offset ${d}`),
    fc.tuple(tie('expr')).map(([e]) => `histogram_quantile(0.9, ${e})`),
    fc.tuple(tie('expr')).map(([e]) => `label_replace(${e}, "dst", "$1", "job", "(.*)")`),
    fc.tuple(tie('expr')).map(([e]) => `-(${e})`),
  ),
})).expr;

/** Break a query: cut it, splice junk in, repeat a piece, or leave it be. */
const broken = fc
  .tuple(promql, fc.nat(), fc.nat(), fc.constantFrom('cut', 'splice', 'repeat', 'keep', 'nest'), fc.string({ maxLength: 6 }))
  .map(([q, a, b, how, junk]) => {
    const i = q.length ? a % (q.length + 1) : 0;
    const j = q.length ? b % (q.length + 1) : 0;
    if (how === 'cut') return q.slice(0, i);
    if (how === 'splice') return q.slice(0, i) + junk + q.slice(i);
    if (how === 'repeat') return q.slice(0, i) + q.slice(Math.min(i, j), Math.max(i, j)).repeat(1 + (b % 50)) + q.slice(i);
    if (how === 'nest') return '('.repeat(1 + (a % 3000)) + q + ')'.repeat(1 + (b % 3000));
    return q;
  });

const timeText = fc.oneof(
  fc.constantFrom(String(now / 1000), String((now - 600_000) / 1000), '2030-01-01T00:00:00Z', '1e400', '-1e20', 'NaN', 'Infinity', '', ' ', '0x10', '1_000', '2024-13-45T99:99:99Z'),
  fc.double().map(String),
  fc.integer().map(String),
  fc.string({ maxLength: 12 }),
);
const stepText = fc.oneof(fc.constantFrom('15', '15s', '1m', '0', '-1', '0.001', '1e-9', '1y', '5m30s', 'abc', ''), fc.double().map(String), fc.string({ maxLength: 6 }));
/** A parameter sent once, twice (an array), or not at all. */
const maybe = (arb: fc.Arbitrary<string>) => fc.oneof(fc.constant([] as string[]), arb.map((v) => [v]), fc.tuple(arb, arb).map(([a, b]) => [a, b]));

describe('fuzzing the query API', () => {
  it('answers /api/v1/query with 2xx or a 4xx with a message, for valid, broken and random expressions', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(broken, fc.string({ unit: 'binary', maxLength: 60 })), maybe(timeText), fc.boolean(), async (q, times, post) => {
        const params: [string, string][] = [['query', wellFormed(q)], ...times.map((t) => ['time', t] as [string, string])];
        const a = post ? await send('POST', '/api/v1/query', { body: form(params), type: 'application/x-www-form-urlencoded' }) : await send('GET', `/api/v1/query?${form(params)}`);
        acceptable(a, `query ${JSON.stringify(params).slice(0, 300)}`);
      }),
      { numRuns: 500 },
    );
  });

  it('answers /api/v1/query_range likewise, whatever start, end and step are', async () => {
    await fc.assert(
      fc.asyncProperty(broken, maybe(timeText), maybe(timeText), maybe(stepText), async (q, start, end, step) => {
        const params: [string, string][] = [['query', q], ...start.map((v) => ['start', v] as [string, string]), ...end.map((v) => ['end', v] as [string, string]), ...step.map((v) => ['step', v] as [string, string])];
        acceptable(await send('POST', '/api/v1/query_range', { body: form(params), type: 'application/x-www-form-urlencoded' }), `query_range ${JSON.stringify(params).slice(0, 300)}`);
      }),
      { numRuns: 400 },
    );
  });

  it('answers series, labels, label values, export and metadata likewise', async () => {
    const path = fc.constantFrom('/api/v1/series', '/api/v1/labels', '/api/v1/label/job/values', '/api/v1/label/__name__/values', '/api/v1/export', '/api/v1/metadata');
    const name = fc.oneof(fc.constantFrom('match[]', 'start', 'end', 'limit', 'metric', 'limit_per_metric'), fc.string({ maxLength: 8 }));
    const val = fc.oneof(selector, broken, timeText, fc.string({ unit: 'binary', maxLength: 20 }));
    await fc.assert(
      fc.asyncProperty(path, fc.array(fc.tuple(name, val), { maxLength: 6 }), fc.boolean(), async (p, params, post) => {
        const safe = params.map(([k, v]) => [wellFormed(k), wellFormed(v)] as [string, string]);
        const a = post ? await send('POST', p, { body: form(safe), type: 'application/x-www-form-urlencoded' }) : await send('GET', `${p}?${form(safe)}`);
        acceptable(a, `${p} ${JSON.stringify(safe).slice(0, 300)}`);
      }),
      { numRuns: 400 },
    );
  });

  it('answers label values for any label name in the path', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }), async (n) => {
        acceptable(await send('GET', `/api/v1/label/${encodeURIComponent(wellFormed(n))}/values`), `label ${JSON.stringify(n)}`);
      }),
      { numRuns: 100 },
    );
  });

  it('answers Heroic metadata endpoints likewise for random, deep and wrongly typed JSON and for raw bytes', async () => {
    const endpoint = fc.constantFrom('/metadata/keys', '/metadata/tags', '/metadata/series', '/metadata/series-count', '/metadata/key-suggest', '/metadata/tag-suggest', '/metadata/tag-value-suggest');
    const op = fc.constantFrom('and', 'or', 'not', 'key', '=', 'q', 'true', 'false', 'starts_with', 'regex', '^', 'has', 'nope');
    const filter: fc.Arbitrary<unknown> = fc.letrec<{ f: unknown }>((tie) => ({
      f: fc.oneof(
        { depthSize: 'small' },
        fc.jsonValue({ maxDepth: 2 }),
        fc.tuple(op, fc.array(fc.oneof(fc.string({ maxLength: 6 }), tie('f')), { maxLength: 3 })).map(([o, args]) => [o, ...args]),
      ),
    })).f;
    const range = fc.oneof(
      fc.jsonValue({ maxDepth: 1 }),
      fc.record({ type: fc.constantFrom('relative', 'absolute', 'x'), unit: fc.constantFrom('HOURS', 'DAYS', 'SECONDS', 'x'), value: fc.oneof(fc.double(), fc.integer()), start: fc.oneof(fc.double(), fc.integer(), fc.string()), end: fc.oneof(fc.double(), fc.integer()) }, { requiredKeys: [] }),
    );
    const body = fc.oneof(
      fc.record({ filter, range, limit: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null)), key: fc.oneof(fc.string(), fc.integer()), value: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.nat(20_000).map((n) => `{"filter":${'["not",'.repeat(n)}["key","up"]${']'.repeat(n)}}`),
      fc.nat(50_000).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')),
      fc.string({ maxLength: 40 }).map((s) => `{"filter": ${s}`),
    );
    await fc.assert(
      fc.asyncProperty(endpoint, body, async (p, b) => {
        acceptable(await send('POST', p, { body: b, type: 'application/json' }), `${p} ${b.slice(0, 200)}`);
      }),
      { numRuns: 400 },
    );
  });

  it('answers the known nasty cases with a 4xx naming the problem', async () => {
    const q = (s: string) => `/api/v1/query?query=${encodeURIComponent(s)}`;
    const cases: [string, string, RegExp][] = [
      ['deep parentheses', '('.repeat(20_000) + '1' + ')'.repeat(20_000), /parse error/],
      ['a time of 1e20 s', `/api/v1/query?query=up&time=-1e20`, /out of range/],
      ['a million-year range', q('rate(up[1000000y])'), /out of range/],
      ['an @ far in the future', q('up @ 1e300'), /out of range/],
      ['an invalid \\x escape', q('up{job="\\xZZ"}'), /invalid escape sequence/],
      ['a code point past U+10FFFF', q('up{job="\\U00110000"}'), /invalid escape sequence/],
      ['a surrogate \\u escape', q('up{job="\\ud800"}'), /invalid escape sequence/],
      ['an unknown escape', q('up{job="\\q"}'), /unknown escape sequence/],
      ['a bad regex', q('{__name__=~"["}'), /invalid regular expression/],
      ['too many steps', '/api/v1/query_range?query=up&start=0&end=1e9&step=1', /maximum resolution/],
      ['zero step', '/api/v1/query_range?query=up&start=0&end=10&step=0', /step/],
      ['end before start', '/api/v1/query_range?query=up&start=100&end=10&step=1', /end/],
      ['export over all time', `/api/v1/export?match[]=up&start=-1e30&end=1e30`, /out of range/],
      ['invalid percent-encoding', '/api/v1/query?query=%FF%FE%', /./],
    ];
    for (const [what, path, message] of cases) {
      const a = await send(path.length > 8000 ? 'POST' : 'GET', path.length > 8000 ? '/api/v1/query' : path, path.length > 8000 ? { body: form([['query', path]]), type: 'application/x-www-form-urlencoded' } : {});
      expect(a.status, `${what}: ${a.text.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
      acceptable(a, what);
      expect(a.text, what).toMatch(message);
    }
    const deep = await send('POST', '/metadata/series', { body: `{"filter":${'["and",'.repeat(30_000)}["key","up"]${']'.repeat(30_000)}}`, type: 'application/json' });
    expect(deep.status).toBe(400);
    expect(deep.text).toMatch(/MTR_INPUT_TOO_DEEP|MTR_METADATA_BAD_REQUEST/);
  });

  it('is still up afterwards, within bounded memory', async () => {
    for (let i = 0; i < 20; i++) await send('POST', '/api/v1/query', { body: form([['query', `sum by (job) (rate(http_requests_total[5m]))${' + 0'.repeat(i)}`]]), type: 'application/x-www-form-urlencoded' });
    expect((await send('GET', '/healthz')).status).toBe(200);
    const r = await send('GET', `/api/v1/query?query=${encodeURIComponent('sum(up)')}`);
    expect(JSON.parse(r.text).data.result[0].value[1]).toBe('4');
    // The server shares this process: the whole fuzzing run must not have grown it without bound.
    expect(process.memoryUsage().rss - startRss).toBeLessThan(512 * 1024 * 1024);
  });
});
