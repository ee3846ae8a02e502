/**
 * Read-then-write batching for chart creation: every chart measures its box in one phase and
 * builds its canvas in the next, inside one animation frame. Creating twelve charts in a row
 * otherwise forces a layout per chart (each build dirties the layout the next one reads).
 */

const reads: (() => void)[] = [];
const writes: (() => void)[] = [];
let scheduled = false;

function flush(): void {
  scheduled = false;
  for (const fn of reads.splice(0)) fn();
  for (const fn of writes.splice(0)) fn();
  if (reads.length || writes.length) schedule();
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(flush);
}

/** Run `fn` in the next frame's read phase (measure the DOM there, do not change it). */
export function measure(fn: () => void): () => void {
  reads.push(fn);
  schedule();
  return () => {
    const i = reads.indexOf(fn);
    if (i >= 0) reads.splice(i, 1);
  };
}

/** Run `fn` in the write phase of the current or next frame (change the DOM there). */
export function mutate(fn: () => void): () => void {
  writes.push(fn);
  schedule();
  return () => {
    const i = writes.indexOf(fn);
    if (i >= 0) writes.splice(i, 1);
  };
}
