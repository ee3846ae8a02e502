import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, heroic, mentions, postJson, startTestServer, wrapStore, type TestServer } from './helpers.js';

/**
 * A slow rule must not stall the others. Real time (system clock) and 1 s groups; the real
 * store is wrapped so that any query reading `slow_metric` takes 5 s, well past the 2 s query
 * timeout.
 */
let srv: TestServer;

function slowFor(marker: string, ms: number) {
  return wrapStore({
    query: async (real, q, opts) => {
      if (mentions(q, marker)) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, ms);
          opts?.signal?.addEventListener('abort', () => {
            clearTimeout(t);
            resolve();
          });
        });
        opts?.signal?.throwIfAborted();
      }
      return real(q, opts);
    },
  });
}

beforeAll(async () => {
  srv = await startTestServer({ QUERY_TIMEOUT_MS: '2000' }, { wrapStore: slowFor('slow_metric', 5000) });
});
afterAll(async () => {
  await srv?.destroy();
});

describe('rule evaluation isolation', () => {
  it('keeps evaluating other groups and independent rules while one rule hangs, and times the hung rule out', async () => {
    const now = Date.now();
    for (const key of ['slow_metric', 'fast_metric']) {
      const r = await postJson(`${srv.url}/write`, heroic(key, { job: 'x' }, [[now - 60_000, 1], [now - 1000, 1]]));
      expect(r.status).toBe(200);
    }
    const rules = [
      { group: 'slowgroup', interval: '1s', alert: 'SlowRule', expr: 'slow_metric > 0' },
      { group: 'slowgroup', alert: 'FastSibling', expr: 'fast_metric > 0' },
      { group: 'fastgroup', interval: '1s', alert: 'FastRule', expr: 'fast_metric > 0' },
    ];
    for (const r of rules) expect((await postJson(`${srv.url}/api/v1/alerting/rules`, r)).status).toBe(201);

    const started = Date.now();
    const fastEvals = new Set<string>();
    let sibling: { state: string; health: string } | undefined;
    while (Date.now() - started < 4_500) {
      const groups = (await getJson(`${srv.url}/api/v1/rules`)).body.data.groups as { name: string; lastEvaluation: string; rules: { name: string; state: string; health: string; lastError?: string }[] }[];
      const fast = groups.find((g) => g.name === 'fastgroup')!;
      if (fast.rules[0].state === 'firing') fastEvals.add(fast.lastEvaluation);
      sibling = groups.find((g) => g.name === 'slowgroup')!.rules.find((r) => r.name === 'FastSibling');
      await new Promise((r) => setTimeout(r, 100));
    }
    // The fast group ran every second or so while the slow group was stuck on its query.
    expect(fastEvals.size).toBeGreaterThanOrEqual(3);
    // The independent rule of the slow group was evaluated without waiting for its sibling.
    expect(sibling).toMatchObject({ state: 'firing', health: 'ok' });
    const slow = (await getJson(`${srv.url}/api/v1/rules?rule_name[]=SlowRule`)).body.data.groups[0].rules[0];
    expect(slow.health).toBe('err');
    expect(slow.lastError).toMatch(/timed out/);
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    expect(metrics).toMatch(/metronome_rule_group_iterations_missed_total\{rule_group="slowgroup"\} [1-9]/);
    expect(metrics).toMatch(/metronome_rule_evaluation_failures_total\{rule_group="slowgroup"\} [1-9]/);
  });
});
