import { describe, expect, it } from 'vitest';
import { DEMO_SERVICES } from './catalog.js';
import { DemoTraffic, diurnal, spikeAt, stepTimes } from './traffic.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2025, 5, 1, 0, 0, 0);

function seriesOf(t: DemoTraffic, times: number[]) {
  return t.samples(times, 10_000).series;
}

describe('demo traffic', () => {
  const times = stepTimes(T0, T0 + 30 * 60_000, 10_000);
  const batch = new DemoTraffic(DEMO_SERVICES, 7, T0).samples(times, 10_000);

  it('emits every series at every step, for every demo service', () => {
    expect(times).toHaveLength(180);
    expect(batch.points).toBe(batch.series.reduce((a, s) => a + s.timestamps.length, 0));
    for (const s of batch.series) expect(s.timestamps).toHaveLength(times.length);
    const services = new Set(batch.series.map((s) => s.tags.service ?? s.tags.job));
    expect([...services].sort()).toEqual(DEMO_SERVICES.map((s) => s.name).sort());
    // auth is scraped Prometheus-style: a job label, no service tag.
    expect(batch.series.filter((s) => s.tags.job === 'auth').every((s) => s.tags.service === undefined)).toBe(true);
  });

  it('keeps counters monotonic and whole where they count events', () => {
    // jvm_thread_count is a gauge that happens to end in _count.
    const bad: string[] = [];
    for (const s of batch.series.filter((x) => /_(total|count|bucket)$/.test(x.key) && x.key !== 'jvm_thread_count')) {
      for (let i = 1; i < s.values.length; i++) if (s.values[i] < s.values[i - 1]) bad.push(`${s.key} decreases at ${i}`);
      if (!s.key.endsWith('_seconds_total') && !Number.isInteger(s.values[s.values.length - 1])) bad.push(`${s.key} is fractional`);
    }
    expect(bad).toEqual([]);
  });

  it('writes histogram buckets that are cumulative in le, with +Inf equal to _count', () => {
    const buckets = batch.series.filter((s) => s.key === 'http_request_duration_seconds_bucket' && s.tags.instance === 'frontend-1' && s.tags.route === '/cart' && s.tags.method === 'GET');
    expect(buckets.length).toBe(12);
    const byLe = buckets.sort((a, b) => (a.tags.le === '+Inf' ? 1 : b.tags.le === '+Inf' ? -1 : Number(a.tags.le) - Number(b.tags.le)));
    const last = (s: (typeof byLe)[number]) => s.values[s.values.length - 1];
    for (let i = 1; i < byLe.length; i++) expect(last(byLe[i])).toBeGreaterThanOrEqual(last(byLe[i - 1]));
    const count = batch.series.find((s) => s.key === 'http_request_duration_seconds_count' && s.tags.instance === 'frontend-1' && s.tags.route === '/cart' && s.tags.method === 'GET')!;
    expect(last(byLe[byLe.length - 1])).toBe(count.values[count.values.length - 1]);
  });

  it('follows the time of day and spikes errors on schedule', () => {
    expect(diurnal(T0 + 15 * HOUR)).toBeCloseTo(1, 5);
    expect(diurnal(T0 + 3 * HOUR)).toBeCloseTo(0.25, 5);
    const payments = DEMO_SERVICES.find((s) => s.name === 'payments')!;
    const spikes = stepTimes(T0, T0 + 6 * HOUR, 60_000).filter((t) => spikeAt(payments, t) > 0).length;
    // Every 47 minutes for 4 minutes: about 30 minutes in 6 hours.
    expect(spikes).toBeGreaterThan(24);
    expect(spikes).toBeLessThan(36);
    expect(spikeAt(DEMO_SERVICES.find((s) => s.name === 'frontend')!, T0)).toBe(0);
  });

  it('is deterministic for a seed', () => {
    const a = seriesOf(new DemoTraffic(DEMO_SERVICES, 3, T0), times.slice(0, 5));
    const b = seriesOf(new DemoTraffic(DEMO_SERVICES, 3, T0), times.slice(0, 5));
    expect(a).toEqual(b);
  });
});
