import { describe, expect, it } from 'vitest';
import { completionContext, rankCandidates } from './complete.js';

const at = (s: string) => completionContext(s.replace('|', ''), s.indexOf('|'));

describe('completionContext', () => {
  it('completes metric names and functions at an identifier', () => {
    expect(at('http_req|')).toEqual({ kind: 'expr', prefix: 'http_req', from: 0 });
    expect(at('sum(rate(http|')).toEqual({ kind: 'expr', prefix: 'http', from: 9 });
    expect(at('|')).toEqual({ kind: 'expr', prefix: '', from: 0 });
  });

  it('completes label names inside a selector, knowing the metric', () => {
    expect(at('http_requests_total{|')).toEqual({ kind: 'label', prefix: '', from: 20, metric: 'http_requests_total' });
    expect(at('http_requests_total{code="200", ro|')).toEqual({ kind: 'label', prefix: 'ro', from: 32, metric: 'http_requests_total' });
    expect(at('{rou|')).toEqual({ kind: 'label', prefix: 'rou', from: 1, metric: null });
  });

  it('completes label values inside quotes', () => {
    expect(at('up{job="api|')).toEqual({ kind: 'value', prefix: 'api', from: 8, metric: 'up', label: 'job' });
    expect(at('rate(x{code=~"5|"}[5m])')).toEqual({ kind: 'value', prefix: '5', from: 14, metric: 'x', label: 'code' });
  });

  it('completes labels in grouping clauses and durations in ranges', () => {
    expect(at('sum by (ro|')).toEqual({ kind: 'label', prefix: 'ro', from: 8, metric: null });
    expect(at('sum by (route, |')).toEqual({ kind: 'label', prefix: '', from: 15, metric: null });
    expect(at('rate(x[5|')).toEqual({ kind: 'duration', prefix: '5', from: 7 });
  });

  it('offers nothing where an operator or a number comes next', () => {
    expect(at('rate(x[5m]) |')).toEqual({ kind: 'none' });
    expect(at('x > 0.|')).toEqual({ kind: 'none' });
    expect(at('"abc|"')).toEqual({ kind: 'none' });
  });

  it('ignores braces inside strings', () => {
    expect(at('x{a="{", b|')).toEqual({ kind: 'label', prefix: 'b', from: 9, metric: 'x' });
  });
});

describe('rankCandidates', () => {
  it('puts prefix matches before substring matches and drops exact matches', () => {
    const items = ['rate', 'irate', 'rate_x', 'sum'].map((name) => ({ name }));
    expect(rankCandidates(items, 'rate').map((x) => x.name)).toEqual(['rate_x', 'irate']);
    expect(rankCandidates(items, '', 2).map((x) => x.name)).toEqual(['rate', 'irate']);
  });
});
