import { describe, expect, it } from 'vitest';
import { alertMatchesFilter, splitMatchers } from './filters.js';

describe('alerts page helpers', () => {
  it('filters alerts by label=value terms and bare words, case-insensitively', () => {
    const labels = { alertname: 'HighLatency', service: 'payments', severity: 'page' };
    expect(alertMatchesFilter(labels, '')).toBe(true);
    expect(alertMatchesFilter(labels, 'service=pay severity="page"')).toBe(true);
    expect(alertMatchesFilter(labels, 'service=checkout')).toBe(false);
    expect(alertMatchesFilter(labels, 'team=x')).toBe(false);
    expect(alertMatchesFilter(labels, 'latency')).toBe(true);
    expect(alertMatchesFilter(labels, 'latency, disk')).toBe(false);
  });

  it('splits silence matchers on commas outside quotes', () => {
    expect(splitMatchers('alertname="A,B", instance=~"db-.*" ,')).toEqual(['alertname="A,B"', 'instance=~"db-.*"']);
  });
});
