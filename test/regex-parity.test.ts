import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../server/alerting/clock.js';
import { compileRegex } from '../server/regex.js';
import { getJson, postJson } from './helpers.js';
import { startAlertingServer, testEpoch, type AlertingServer } from './alerting-helpers.js';
import { loadSeries, promGet } from './promql-helpers.js';

/**
 * One regex engine (issue 10): a pattern means the same in a selector (run by ClickHouse's RE2),
 * in label_replace and in silences (run by re2js), is rejected where it is written when RE2
 * rejects it, and a backtracking bomb such as `(a|a)+` costs linear time everywhere.
 */
let srv: AlertingServer;
const clock = new ManualClock(testEpoch(3));
const T = testEpoch(2);
const sec = T / 1000 + 1;
const BOMB = `${'a'.repeat(40)}b`;

const VALUES = ['x', 'xx', 'PRO', 'pro', 'Production', 'staging', 'abcXYZ', 'abc1', 'é', 'héllo', 'αβγ', 'web', 'api', 'webserver', '503', '200', 'the-foo-service', '😀', 'line1\nfoo', 'a'.repeat(40), BOMB];

/** Prometheus-valid patterns; several are invalid or mean something else in JavaScript. */
const PATTERNS = ['(?P<n>x)', '(?<n>x)x', '(?i:PRO)', '(?i)pro.*', '[[:alpha:]]+', '\\pL+', '\\p{Greek}+', 'api|web', '5..', '.*foo.*', '.', '(a|a)+'];

/** A PromQL string literal (Go escapes are a superset of JSON's). */
const lit = (s: string) => JSON.stringify(s);

beforeAll(async () => {
  srv = await startAlertingServer(clock);
  await loadSeries(
    srv.ctx.store,
    VALUES.map((v) => ({ labels: { __name__: 're_probe', v }, samples: [[T, 1]] as [number, number][] })),
  );
});
afterAll(async () => {
  await srv?.close();
});

async function instant(query: string): Promise<Record<string, string>[]> {
  const r = await promGet(srv.url, '/api/v1/query', { query, time: sec });
  expect(r.status, `${query}: ${JSON.stringify(r.body)}`).toBe(200);
  return r.body.data.result.map((s: { metric: Record<string, string> }) => s.metric);
}

const sorted = (xs: string[]) => [...xs].sort();

describe('one meaning for a pattern', () => {
  it('selects in ClickHouse exactly the values label_replace and RE2 here match, for syntax JavaScript lacks', async () => {
    for (const p of PATTERNS) {
      const expected = VALUES.filter((v) => compileRegex(p, 'prometheus').test(v));
      // Guard against an empty comparison: each pattern matches some values and not all.
      expect(expected.length, p).toBeGreaterThan(0);
      expect(expected.length, p).toBeLessThan(VALUES.length);
      const selected = (await instant(`re_probe{v=~${lit(p)}}`)).map((m) => m.v);
      expect(sorted(selected), p).toEqual(sorted(expected));
      const excluded = (await instant(`re_probe{v!~${lit(p)}}`)).map((m) => m.v);
      expect(sorted(excluded), p).toEqual(sorted(VALUES.filter((v) => !expected.includes(v))));
      const replaced = (await instant(`label_replace(re_probe, "hit", "yes", "v", ${lit(p)})`)).filter((m) => m.hit === 'yes').map((m) => m.v);
      expect(sorted(replaced), p).toEqual(sorted(expected));
    }
  });

  it('silences match the same values as the selector (Alertmanager anchoring, the same RE2 syntax)', async () => {
    for (const p of PATTERNS) {
      const r = await postJson(`${srv.url}/api/v1/silences`, { matchers: [{ name: 'v', value: p, isRegex: true }], createdBy: 'test', comment: p, duration: '1h' });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      const id = r.body.data.silenceID as string;
      const selected = new Set((await instant(`re_probe{v=~${lit(p)}}`)).map((m) => m.v));
      // Alertmanager's `.` does not match a newline; every other value must agree with ClickHouse.
      for (const v of VALUES.filter((x) => !x.includes('\n'))) {
        expect(srv.alerting.silences.mutedBy({ v }).includes(id), `${p} vs ${JSON.stringify(v)}`).toBe(selected.has(v));
      }
    }
  });

  it('applies Heroic ~ filters with the same syntax', async () => {
    const count = async (re: string) => {
      const r = await postJson(`${srv.url}/metadata/series-count`, { filter: ['and', ['key', 're_probe'], ['~', 'v', re]] });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body.count as number;
    };
    expect(await count('(?P<n>x)')).toBe(1);
    expect(await count('[[:alpha:]]+')).toBe(VALUES.filter((v) => /^[A-Za-z]+$/.test(v)).length);
  });
});

describe('label_replace replacements', () => {
  const replaced = async (value: string, repl: string, re: string) => {
    const [m] = await instant(`label_replace(re_probe{v=${lit(value)}}, "d", ${lit(repl)}, "v", ${lit(re)})`);
    return m.d;
  };

  it('expands $1$1, ${1}x and named groups as Go does', async () => {
    expect(await replaced('web', '$1$1', '(w)(e)b')).toBe('ww');
    expect(await replaced('web', '${1}x', '(w)(e)b')).toBe('wx');
    expect(await replaced('abc1', '$name-${num}', '(?P<name>[a-z]+)(?P<num>\\d)')).toBe('abc-1');
    expect(await replaced('abc1', '$$1', '(.*)')).toBe('$1');
  });

  it('reads $1x as a group named "1x", which expands to nothing and so drops the label', async () => {
    expect(await replaced('web', '$1x', '(w)(e)b')).toBeUndefined();
  });
});

describe('patterns RE2 rejects', () => {
  it('are rejected at parse with the position of the matcher and Go\'s message', async () => {
    const q = 're_probe{v=~"(?=x)"}';
    const r = await promGet(srv.url, '/api/v1/query', { query: q, time: sec });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ status: 'error', errorType: 'bad_data', code: 'MTR_QUERY_PARSE' });
    expect(r.body.error).toBe('parse error at position 9: invalid regular expression in label matcher v=~"(?=x)": error parsing regexp: invalid or unsupported Perl syntax: `(?=`');
  });

  it('reject a label_replace regex literal at parse, at the literal', async () => {
    const q = 'label_replace(re_probe, "d", "$1", "v", "(a)\\\\1")';
    const r = await promGet(srv.url, '/api/v1/query', { query: q, time: sec });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('MTR_QUERY_PARSE');
    expect(r.body.error).toContain(`parse error at position ${q.indexOf('"(a)')}: invalid regular expression in label_replace()`);
    expect(r.body.error).toContain('invalid escape sequence: `\\1`');
  });

  it('reject a series match[] selector with the parameter named', async () => {
    const r = await getJson(`${srv.url}/api/v1/series?${new URLSearchParams({ 'match[]': 're_probe{v=~"[[:foo:]]"}' })}`);
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('MTR_READ_BAD_PARAM');
    expect(r.body.error).toContain('match[]');
    expect(r.body.error).toContain('invalid character class range');
  });

  it('reject a rule when it is saved, naming the field and the position', async () => {
    const expr = 'sum(re_probe{v=~"a++"})';
    let r = await postJson(`${srv.url}/api/v1/alerting/rules`, { alert: 'BadRegex', expr });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('MTR_ALERT_RULE_INVALID');
    expect(r.body.error.issues[0]).toMatchObject({ code: 'MTR_RULE_PROMQL', path: ['expr'], position: expr.indexOf('v=~') });
    expect(r.body.error.issues[0].message).toContain('invalid nested repetition operator');
    const summary = 'host {{ reReplaceAll "(?=:)" "" $labels.instance }}';
    r = await postJson(`${srv.url}/api/v1/alerting/rules`, { alert: 'BadTemplate', expr: 're_probe', annotations: { summary } });
    expect(r.status).toBe(400);
    expect(r.body.error.issues[0]).toMatchObject({ code: 'MTR_RULE_TEMPLATE', path: ['annotations', 'summary'], position: summary.indexOf('"(?=') });
  });

  it('reject a silence when it is saved, naming the matcher', async () => {
    let r = await postJson(`${srv.url}/api/v1/silences`, { matchers: [{ name: 'v', value: '(?=x)', isRegex: true }], createdBy: 't', comment: 'c', duration: '1h' });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('MTR_SILENCE_INVALID');
    expect(r.body.error.issues[0].path).toEqual(['matchers', 0, 'value']);
    expect(r.body.error.issues[0].message).toContain('invalid or unsupported Perl syntax');
    r = await postJson(`${srv.url}/api/v1/silences`, { matchers: ['v=~"(?P=n)"'], createdBy: 't', comment: 'c', duration: '1h' });
    expect(r.status).toBe(400);
    expect(r.body.error.issues[0]).toMatchObject({ path: ['matchers', 0], position: 3 });
  });

  it('reject a notification config whose route or inhibit rule has one, naming the field', async () => {
    const yaml = `route:
  receiver: x
  routes:
    - receiver: x
      match_re: {v: "(?!x)"}
inhibit_rules:
  - source_matchers: ['a=~"("']
    target_match_re: {b: "\\\\8"}
receivers:
  - name: x
`;
    const r = await fetch(`${srv.url}/api/v1/alerting/notifications/config`, { method: 'PUT', headers: { 'content-type': 'application/yaml' }, body: yaml });
    const body = (await r.json()) as any;
    expect(r.status).toBe(400);
    expect(body.error.code).toBe('MTR_NOTIFY_CONFIG_INVALID');
    const paths = body.error.issues.map((i: { path: string }) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['route.routes[0].match_re.v', 'inhibit_rules[0].source_matchers[0]', 'inhibit_rules[0].target_match_re.b']));
  });

  it('reject a Heroic ~ filter, naming the element', async () => {
    const r = await postJson(`${srv.url}/metadata/series`, { filter: ['and', ['~', 'v', '(?<=a)b']] });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('MTR_METADATA_BAD_REQUEST');
    expect(r.body.error.message).toContain('filter[1][2]');
  });
});

describe('a backtracking bomb', () => {
  // (a|a)+ against 30 a's and a b took 9-30 s in JavaScript's backtracking engine, doubling with
  // each 'a'; 40 would take hours. RE2 runs in time linear in the value, so these return at once.
  it('stays linear in a selector and in label_replace', async () => {
    expect((await instant(`re_probe{v=~"(a|a)+"}`)).map((m) => m.v)).toEqual(['a'.repeat(40)]);
    const out = await instant(`label_replace(re_probe{v=${lit(BOMB)}}, "d", "$1", "v", "(a|a)+")`);
    expect(out).toEqual([{ __name__: 're_probe', v: BOMB }]);
  });

  it('does not block the event loop when an admin silence holds it', async () => {
    const r = await postJson(`${srv.url}/api/v1/silences`, { matchers: ['v=~"(a|a)+"'], createdBy: 'admin', comment: 'bomb', duration: '1h' });
    expect(r.status).toBe(201);
    // How long the loop stays blocked: from a setImmediate queued before the matching until it runs.
    const start = performance.now();
    const blocked = new Promise<number>((resolve) => setImmediate(() => resolve(performance.now() - start)));
    for (let i = 0; i < 100; i++) expect(srv.alerting.silences.mutedBy({ v: BOMB })).not.toContain(r.body.data.silenceID);
    expect(srv.alerting.silences.mutedBy({ v: 'a'.repeat(40) })).toContain(r.body.data.silenceID);
    expect(await blocked).toBeLessThan(1000);
  });
});
