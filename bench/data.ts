import type { BenchSeries } from './protocols.js';

/**
 * TSBS "cpu-only" shaped data: hosts x 10 cpu metrics, tags hostname/region/datacenter/service,
 * one point per 10 s, values a random walk in [0, 100] with two decimals.
 */
export const CPU_FIELDS = [
  'usage_user',
  'usage_system',
  'usage_idle',
  'usage_nice',
  'usage_iowait',
  'usage_irq',
  'usage_softirq',
  'usage_steal',
  'usage_guest',
  'usage_guest_nice',
];
const REGIONS = ['us-east-1', 'us-west-1', 'eu-west-1', 'eu-central-1', 'ap-southeast-1', 'ap-northeast-1', 'sa-east-1'];
export const INTERVAL_MS = 10_000;

export interface Host {
  tags: Record<string, string>;
}

export function hosts(n: number): Host[] {
  return Array.from({ length: n }, (_, i) => {
    const region = REGIONS[i % REGIONS.length];
    return {
      tags: {
        hostname: `host_${i}`,
        region,
        datacenter: `${region}${'abc'[i % 3]}`,
        service: `svc_${i % 20}`,
      },
    };
  });
}

/** A small seeded PRNG so every run generates the same data. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random-walk values, two decimals, for `n` steps. */
export function walk(rand: () => number, n: number): number[] {
  const out = new Array<number>(n);
  let v = rand() * 100;
  for (let i = 0; i < n; i++) {
    v = Math.min(100, Math.max(0, v + (rand() - 0.5) * 2));
    out[i] = Math.round(v * 100) / 100;
  }
  return out;
}

export interface Shape {
  name: 'dense' | 'sparse' | 'wide';
  seriesPerBody: number;
  pointsPerSeries: number;
}

export const SHAPES: Record<string, Shape> = {
  dense: { name: 'dense', seriesPerBody: 50, pointsPerSeries: 100 },
  sparse: { name: 'sparse', seriesPerBody: 5000, pointsPerSeries: 1 },
  // 50,000 single points: the Influx target's request (5,000 lines x 10 fields); use --bodies 20.
  wide: { name: 'wide', seriesPerBody: 50_000, pointsPerSeries: 1 },
};

/**
 * `count` bodies of the given shape, each covering distinct (series, time) points: bodies walk
 * through the series, then move on in time. `end` is the newest timestamp.
 */
export function bodies(shape: Shape, count: number, hostCount: number, end: number, seed = 1): BenchSeries[][] {
  const hs = hosts(hostCount);
  const rand = rng(seed);
  const totalSeries = hostCount * CPU_FIELDS.length;
  const out: BenchSeries[][] = [];
  let seriesCursor = 0;
  let timeCursor = 0; // in steps back from `end`
  for (let b = 0; b < count; b++) {
    const body: BenchSeries[] = [];
    for (let k = 0; k < shape.seriesPerBody; k++) {
      const idx = seriesCursor % totalSeries;
      const h = hs[Math.floor(idx / CPU_FIELDS.length)];
      const field = CPU_FIELDS[idx % CPU_FIELDS.length];
      const first = end - (timeCursor + shape.pointsPerSeries) * INTERVAL_MS;
      const timestamps = Array.from({ length: shape.pointsPerSeries }, (_, i) => first + (i + 1) * INTERVAL_MS);
      body.push({ key: `cpu_${field}`, tags: h.tags, timestamps, values: walk(rand, shape.pointsPerSeries) });
      seriesCursor++;
      if (seriesCursor % totalSeries === 0) timeCursor += shape.pointsPerSeries;
    }
    out.push(body);
  }
  return out;
}
