import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { onAbort, readSignal } from './abort.js';

describe('onAbort', () => {
  it('puts one listener on a signal however many callers wait on it, and none after the last forgets', () => {
    const ac = new AbortController();
    const offs = Array.from({ length: 50 }, () => onAbort(ac.signal, () => {}));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    for (const off of offs.slice(0, 49)) off();
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    offs[49]();
    offs[49]();
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('calls every waiting caller once when the signal aborts, and not the ones that forgot', () => {
    const ac = new AbortController();
    const called: number[] = [];
    const offs = [0, 1, 2].map((i) => onAbort(ac.signal, () => called.push(i)));
    offs[1]();
    ac.abort();
    expect(called).toEqual([0, 2]);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    for (const off of offs) off();
  });

  it('starts afresh for callers who come after the last one forgot', () => {
    const ac = new AbortController();
    onAbort(ac.signal, () => {})();
    let fired = 0;
    onAbort(ac.signal, () => fired++);
    ac.abort();
    expect(fired).toBe(1);
  });
});

describe('readSignal', () => {
  it("aborts a read's own signal with the parent's reason", () => {
    const parent = new AbortController();
    const reads = Array.from({ length: 20 }, () => readSignal(parent.signal));
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(1);
    const why = new Error('client went away');
    parent.abort(why);
    for (const r of reads) expect(r.signal?.reason).toBe(why);
  });

  it('gives an already aborted signal for an aborted parent and none for no parent', () => {
    const parent = new AbortController();
    parent.abort('gone');
    expect(readSignal(parent.signal).signal?.aborted).toBe(true);
    expect(readSignal(undefined).signal).toBeUndefined();
  });

  it('leaves no listener on the parent once every read is done', () => {
    const parent = new AbortController();
    const reads = Array.from({ length: 20 }, () => readSignal(parent.signal));
    for (const r of reads) r.done();
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0);
  });
});
