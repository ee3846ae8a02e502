import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock, type Clock, type TimerHandle } from '../server/alerting/clock.js';
import { getJson, heroic, mentions, postJson, startTestServer, wrapStore, type TestServer } from './helpers.js';

/**
 * A slow rule must not stall the others. Groups run on wall-clock timers, because what is
 * proved is that one group's timer fires while another group's evaluation is stuck: a
 * ManualClock runs timer callbacks one after another, so it cannot show that. The test never
 * sleeps: the store wrapper says when the slow query arrives, and the clock says each time a
 * timer's work (a group's evaluation) has finished, which is when the test looks again.
 */
let srv: TestServer;

/**
 * The rule query timeout (QUERY_TIMEOUT_MS): long enough for three 1 s fast-group evaluations
 * while the slow rule hangs, with room for a loaded CI machine (5 s failed there once).
 */
const TIMEOUT_MS = 12_000;

/** The system clock, telling waiters each time a timer's callback has run to completion. */
class ObservedClock implements Clock {
  readonly #waiters = new Set<() => void>();

  now(): number {
    return systemClock.now();
  }

  setTimeout(fn: () => unknown, ms: number): TimerHandle {
    return systemClock.setTimeout(async () => {
      try {
        await fn();
      } finally {
        for (const w of [...this.#waiters]) w();
      }
    }, ms);
  }

  clearTimeout(handle: TimerHandle): void {
    systemClock.clearTimeout(handle);
  }

  /** Resolves once the next timer callback has finished. */
  next(): Promise<void> {
    return new Promise((resolve) => {
      const w = () => {
        this.#waiters.delete(w);
        resolve();
      };
      this.#waiters.add(w);
    });
  }

  /** Check `done` now and after every timer callback until it holds. */
  async until(done: () => Promise<boolean> | boolean): Promise<void> {
    for (;;) {
      const next = this.next();
      if (await done()) return;
      await next;
    }
  }
}

const clock = new ObservedClock();

/** Queries reading `slow_metric` hang until their signal aborts; `hung` resolves at the first. */
const slow = {
  held: 0,
  aborted: 0,
  arrived: () => {},
  hung: Promise.resolve(),
};
slow.hung = new Promise<void>((resolve) => (slow.arrived = resolve));
const hangSlowQueries = wrapStore({
  query: async (real, q, opts) => {
    if (mentions(q, 'slow_metric')) {
      slow.held++;
      slow.arrived();
      try {
        await new Promise<never>((_, reject) => opts?.signal?.addEventListener('abort', () => reject(opts.signal!.reason), { once: true }));
      } catch (e) {
        slow.aborted++;
        throw e;
      } finally {
        slow.held--;
      }
    }
    return real(q, opts);
  },
});

type RuleView = { name: string; state: string; health: string; lastError?: string };
type GroupView = { name: string; lastEvaluation: string; rules: RuleView[] };

async function groups(): Promise<GroupView[]> {
  return (await getJson(`${srv.url}/api/v1/rules`)).body.data.groups;
}

function rule(gs: GroupView[], group: string, name: string): RuleView | undefined {
  return gs.find((g) => g.name === group)?.rules.find((r) => r.name === name);
}

beforeAll(async () => {
  srv = await startTestServer({ QUERY_TIMEOUT_MS: String(TIMEOUT_MS) }, { wrapStore: hangSlowQueries, alertingClock: clock });
});
afterAll(async () => {
  await srv?.destroy();
});

describe('rule evaluation isolation', () => {
  it('keeps evaluating other groups and independent rules while one rule hangs, and times the hung rule out', { timeout: 45_000 }, async () => {
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

    await slow.hung;
    const hungSince = Date.now();
    // While the slow rule's first query hangs (it has not finished even once), the fast group
    // is evaluated three more times and the slow rule's independent sibling fires.
    const fastEvals = new Set<number>();
    await clock.until(async () => {
      const gs = await groups();
      expect({ held: slow.held, slowHealth: rule(gs, 'slowgroup', 'SlowRule')?.health }).toEqual({ held: 1, slowHealth: 'unknown' });
      const fast = gs.find((g) => g.name === 'fastgroup')!;
      const t = Date.parse(fast.lastEvaluation);
      if (t >= hungSince && fast.rules[0].state === 'firing') fastEvals.add(t);
      const sibling = rule(gs, 'slowgroup', 'FastSibling');
      return fastEvals.size >= 3 && sibling?.state === 'firing' && sibling.health === 'ok';
    });

    // Then the rule query timeout aborts the hung store query and the slow rule reports it.
    await clock.until(async () => rule(await groups(), 'slowgroup', 'SlowRule')?.health === 'err');
    expect(rule(await groups(), 'slowgroup', 'SlowRule')?.lastError).toMatch(/timed out/);
    expect(slow.aborted).toBeGreaterThanOrEqual(1);
    // Once the slow group's tick has finished, its failure and the iterations it missed are counted.
    const counted = (m: string) =>
      /metronome_rule_evaluation_failures_total\{rule_group="slowgroup"\} [1-9]/.test(m) && /metronome_rule_group_iterations_missed_total\{rule_group="slowgroup"\} [1-9]/.test(m);
    await clock.until(async () => counted(await (await fetch(`${srv.url}/metrics`)).text()));
  });
});
