import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver } from './alerting-helpers.js';
import { heroic, tempDir } from './helpers.js';
import { startServerProcess, stopServerProcess, type ServerProcess } from './server-process.js';

/**
 * Alerting through kill -9: a real server (child process) evaluates a rule every second and
 * notifies a real webhook receiver while it is SIGKILLed at random moments and restarted on
 * the same DATA_DIR. Four alerts fire and resolve at staggered times across the kills; each
 * must be announced firing once and resolved once, in that order. Delivery is at-least-once
 * (as Alertmanager's): a notification may repeat only when the kill landed between the
 * receiver's answer and the notification log's write, so a repeat is accepted only when a kill
 * followed the first delivery within KILL_WINDOW_MS. The waits are real (a real child process
 * on the wall clock); ALERTING_CRASH_SEED=<n> replays a run's kill moments, and every failure
 * names it.
 */

const KILLS = 4;
const KILL_WINDOW_MS = 500;
const INSTANCES = ['a', 'b', 'c', 'd'];

/** A new seed each run (a fixed one would hide timing classes) unless ALERTING_CRASH_SEED is set. */
const seed = Number(process.env.ALERTING_CRASH_SEED ?? Date.now() % 100_000);
const replay = `replay with ALERTING_CRASH_SEED=${seed}`;
let state = seed;
/** A random number in [0, 1) from the seed. */
const rand = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;

/** The live server's count of evaluations of the rule group `crash` (0 when it cannot answer). */
async function evaluations(url: string): Promise<number> {
  const text = await fetch(`${url}/metrics`).then((r) => r.text(), () => '');
  return Number(/metronome_rule_evaluations_total\{rule_group="crash"\} (\d+)/.exec(text)?.[1] ?? 0);
}

let hook: Awaited<ReturnType<typeof startReceiver>>;
let dir: string;
let dataDir: string;
beforeAll(async () => {
  hook = await startReceiver();
  dir = tempDir('metronome-alert-crash-');
  dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  writeFileSync(
    join(dir, 'crash.rules.yml'),
    `groups:
  - name: crash
    interval: 1s
    rules:
      - alert: CrashProbe
        expr: crash_probe > 0
        labels: { severity: page }
        annotations: { summary: "{{ $labels.instance }} is up to something" }
`,
  );
  writeFileSync(
    join(dir, 'alertmanager.yml'),
    `route:
  receiver: hook
  group_by: [alertname, instance]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs: [{ url: '${hook.url}/hook', send_resolved: true }]
`,
  );
});
afterAll(async () => {
  await hook?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('alerting through kill -9', () => {
  it(`announces every alert firing once and resolved once across ${KILLS} SIGKILLs (ALERTING_CRASH_SEED replays)`, async () => {
    const env = { DATA_DIR: dataDir, RULE_FILES: join(dir, '*.rules.yml'), NOTIFY_CONFIG: join(dir, 'alertmanager.yml') };
    let server: ServerProcess | null = await startServerProcess(env);
    const t0 = Date.now();
    // Instance i is above zero from 2 + 6i s to 20 + 6i s after t0. A server lives 3-6 s between
    // kills and takes ~5 s to restart, so every window spans kills and restarts, yet holds at
    // least one whole lifetime (an alert that fires and resolves while the server is down, or
    // within group_wait, is never announced: Alertmanager's semantics too).
    const firing = (i: number, t: number) => t >= t0 + 2000 + 6000 * i && t < t0 + 20_000 + 6000 * i;
    const end = t0 + 20_000 + 6000 * (INSTANCES.length - 1);
    const kills: number[] = [];
    let scraping = true;

    // A scraper pushing each instance's current value every 250 ms to whichever server is up.
    const scraper = (async () => {
      while (scraping) {
        const s = server;
        const now = Date.now();
        if (s) {
          const body = INSTANCES.map((inst, i) => heroic('crash_probe', { instance: inst, job: 'probe' }, [[now, firing(i, now) ? 1 : 0]]));
          await fetch(`${s.url}/write`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).catch(() => undefined);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    })();

    try {
      for (let k = 0; k < KILLS; k++) {
        await new Promise((r) => setTimeout(r, 3000 + rand() * 3000));
        const s: ServerProcess = server!;
        server = null;
        s.kill('SIGKILL');
        kills.push(Date.now());
        await s.exited;
        server = await startServerProcess(env);
      }
      // Wait for what the server does, bounded: the last resolution evaluated, grouped and sent...
      const deadline = Math.max(Date.now(), end) + 30_000;
      const resolvedAll = () => INSTANCES.every((inst) => hook.bodies('/hook').some((b) => b.groupLabels.instance === inst && b.status === 'resolved'));
      while (Date.now() < deadline && !resolvedAll()) await new Promise((r) => setTimeout(r, 250));
      // ...then 4 more evaluations of the group on the live server (group_wait + group_interval
      // + one): a repeat would have been sent by then. Counted on the server, not in wall time,
      // so a server slowed by load still gets its full chance to send one.
      const live = server!;
      const from = await evaluations(live.url);
      while (Date.now() < deadline + 30_000 && (await evaluations(live.url)) < from + 4) await new Promise((r) => setTimeout(r, 250));
      expect(await evaluations(live.url), `${replay}: the group kept being evaluated`).toBeGreaterThanOrEqual(from + 4);
    } finally {
      scraping = false;
      await scraper;
      if (server) expect(await stopServerProcess(server)).toBe(0);
    }

    expect(kills, replay).toHaveLength(KILLS);
    // The kills did land while alerts were announced and not yet resolved (state had to survive).
    const announced = INSTANCES.map((inst) => {
      const got = hook.received.filter((r) => r.body.groupLabels?.instance === inst);
      return [got.find((r) => r.body.status === 'firing')?.at ?? Infinity, got.find((r) => r.body.status === 'resolved')?.at ?? -Infinity];
    });
    expect(kills.some((k) => announced.some(([f, r]) => k > f && k < r)), `${replay}: no kill between an alert's firing and resolved notifications`).toBe(true);
    for (const inst of INSTANCES) {
      const got = hook.received.filter((r) => r.body.groupLabels?.instance === inst);
      const statuses = got.map((r) => r.body.status as string);
      const describe = `${inst}: ${JSON.stringify(got.map((r) => [r.body.status, r.at - t0]))}; kills at ${JSON.stringify(kills.map((k) => k - t0))}; ${replay}`;
      for (const status of ['firing', 'resolved']) {
        const same = got.filter((r) => r.body.status === status);
        expect(same.length, `${status} lost: ${describe}`).toBeGreaterThanOrEqual(1);
        // A repeat only when a kill cut the first delivery's recording.
        if (same.length > 1) {
          expect(same.length, describe).toBe(2);
          expect(kills.some((k) => k >= same[0].at && k - same[0].at < KILL_WINDOW_MS), `duplicate ${status}: ${describe}`).toBe(true);
        }
      }
      expect(statuses.indexOf('firing'), describe).toBeLessThan(statuses.indexOf('resolved'));
      expect(statuses.lastIndexOf('firing'), describe).toBeLessThan(statuses.indexOf('resolved'));
      const resolved = got.find((r) => r.body.status === 'resolved')!.body;
      expect(resolved.alerts).toHaveLength(1);
      expect(resolved.alerts[0]).toMatchObject({ status: 'resolved', labels: { alertname: 'CrashProbe', instance: inst, severity: 'page' } });
    }
  }, 240_000);
});
