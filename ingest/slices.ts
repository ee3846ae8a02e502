import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Decoders as generators that yield every few thousand items, so a large body is decoded in
 * slices with the event loop served in between (issue 11: /readyz must answer within 100 ms
 * during any single request; a 100,000-line Influx body alone held the loop 90-180 ms, and
 * BODY_LIMIT_BYTES allows far more). `drain` runs one to the end synchronously (tests, the
 * Influx route's second pass for line numbers); `drainSliced` gives the loop a turn whenever a
 * slice has run longer than SLICE_MS.
 *
 * Decoders share caches across requests (label sets, series parts): two requests decoding at
 * once may each see the other's marks on a cached entry, which only makes a series appear
 * twice in a batch (the write path accepts that), never mixes their samples.
 */
const SLICE_MS = 10;

export function drain<T>(g: Generator<void, T>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

export async function drainSliced<T>(g: Generator<void, T>, sliceMs = SLICE_MS): Promise<T> {
  let start = performance.now();
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
    if (performance.now() - start >= sliceMs) {
      await nextTurn();
      start = performance.now();
    }
  }
}
