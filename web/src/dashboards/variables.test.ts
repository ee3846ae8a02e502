import { describe, expect, it } from 'vitest';
import { ALL, interpolate, parseLabelValues, renderValue, selectedValues, type Variable } from './variables.js';

describe('dashboard variables', () => {
  it('parses label_values with and without a selector', () => {
    expect(parseLabelValues('label_values(up{job="$job"}, instance)')).toEqual({ selector: 'up{job="$job"}', label: 'instance' });
    expect(parseLabelValues('label_values(job)')).toEqual({ label: 'job' });
    expect(parseLabelValues('query_result(up)')).toBeNull();
  });

  it('replaces $var and ${var} but leaves unknown and Grafana built-in names', () => {
    const r = { instance: 'a:9100', job: 'node', j: 'X' };
    expect(interpolate('up{instance="$instance",job="${job}"}[$__rate_interval] $other $j', r)).toBe('up{instance="a:9100",job="node"}[$__rate_interval] $other X');
    expect(interpolate('x{job="${job:raw}"}', r)).toBe('x{job="node"}');
  });

  it('renders several values and All as an escaped regex alternation, or allValue', () => {
    const v: Variable = { type: 'query', name: 'instance', query: 'label_values(instance)', multi: true, includeAll: true };
    expect(renderValue(v, ['a.1', 'b'], ['a.1', 'b', 'c'])).toBe('(a\\.1|b)');
    expect(renderValue(v, [ALL], ['a', 'b'])).toBe('(a|b)');
    expect(renderValue({ ...v, allValue: '.+' }, [ALL], ['a'])).toBe('.+');
    expect(renderValue({ type: 'interval', name: 'i', options: ['1m'] }, ['5m'], [])).toBe('5m');
  });

  it('takes the URL first, then the saved value, then All or the first option', () => {
    const v: Variable = { type: 'custom', name: 'code', options: ['2..', '5..'], includeAll: true };
    expect(selectedValues(v, ['5..', '2..'], v.options)).toEqual(['5..']);
    expect(selectedValues({ ...v, multi: true }, ['5..', '2..'], v.options)).toEqual(['5..', '2..']);
    expect(selectedValues(v, [], v.options)).toEqual([ALL]);
    expect(selectedValues({ ...v, includeAll: false }, [], v.options)).toEqual(['2..']);
    expect(selectedValues({ ...v, current: ['5..'] }, [], v.options)).toEqual(['5..']);
  });
});
