import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { SendQueue } from './send-queue.js';

/** A send that stays in flight until `finish` is called. */
function pendingSend() {
  let finish!: (v: string) => void;
  const done = new Promise<string>((r) => (finish = r));
  return { fn: () => done, finish };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('SendQueue', () => {
  it('runs `concurrency` sends, queues `capacity`, and drops the next as queue_full', async () => {
    const clock = new ManualClock(0);
    const q = new SendQueue(clock, 2, 1);
    const sends = [pendingSend(), pendingSend(), pendingSend()];
    const results = sends.map((s) => q.run(s.fn, 1000));
    await tick();
    expect({ running: q.running, queued: q.queued }).toEqual({ running: 2, queued: 1 });
    expect(await q.run(async () => 'never', 1000)).toEqual({ ok: false, reason: 'queue_full' });
    sends[0].finish('a');
    expect(await results[0]).toEqual({ ok: true, value: 'a' });
    // The freed slot passed to the waiter: still two running, none queued.
    await tick();
    expect({ running: q.running, queued: q.queued }).toEqual({ running: 2, queued: 0 });
    sends[1].finish('b');
    sends[2].finish('c');
    expect(await Promise.all(results.slice(1))).toEqual([
      { ok: true, value: 'b' },
      { ok: true, value: 'c' },
    ]);
    expect({ running: q.running, queued: q.queued, timers: clock.pending() }).toEqual({ running: 0, queued: 0, timers: [] });
  });

  it('drops a send as deadline when its wait passes on the clock, or the signal aborts', async () => {
    const clock = new ManualClock(0);
    const q = new SendQueue(clock, 1, 10);
    const busy = pendingSend();
    const running = q.run(busy.fn, 1000);
    let ran = false;
    const late = q.run(async () => (ran = true), 300);
    const ac = new AbortController();
    const stopped = q.run(async () => (ran = true), 5000, ac.signal);
    await tick();
    expect(q.queued).toBe(2);
    await clock.advance(300);
    expect(await late).toEqual({ ok: false, reason: 'deadline' });
    ac.abort(new Error('notifier stopped'));
    expect(await stopped).toEqual({ ok: false, reason: 'deadline' });
    busy.finish('done');
    expect(await running).toEqual({ ok: true, value: 'done' });
    // After the stop, a send is dropped even with a slot free.
    expect(await q.run(async () => (ran = true), 5000, ac.signal)).toEqual({ ok: false, reason: 'deadline' });
    expect({ ran, running: q.running, queued: q.queued, timers: clock.pending() }).toEqual({ ran: false, running: 0, queued: 0, timers: [] });
  });
});
