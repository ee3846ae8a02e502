/** One panel's draw, as the render benchmark reads it (window.__metronomePerf on the service page). */
export interface PanelMeasure {
  id: string;
  series: number;
  /** performance.now() when the panel's data arrived. */
  dataAt: number;
  /** Main-thread milliseconds to turn the data into columns and build and draw the chart. */
  renderMs: number;
  /** performance.now() when the chart was drawn. */
  drawnAt: number;
}

/** Lets a page hold every panel's data until all of it has arrived (render benchmarks). */
export interface Barrier {
  arrive(): Promise<unknown>;
}

/** A barrier that opens when `n` panels have arrived. */
export function makeBarrier(n: number): Barrier {
  let count = 0;
  let release!: () => void;
  const all = new Promise<void>((r) => (release = r));
  return {
    arrive() {
      if (++count >= n) {
        performance.mark('metronome:data-complete');
        release();
      }
      return all;
    },
  };
}
