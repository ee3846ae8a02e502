import { describe, expect, it } from 'vitest';
import { formatValue, trimNumber } from './units.js';

describe('formatValue', () => {
  it('scales seconds to the readable unit', () => {
    expect(formatValue(0.000_25, 'seconds')).toBe('250 µs');
    expect(formatValue(0.0421, 'seconds')).toBe('42.1 ms');
    expect(formatValue(1.5, 'seconds')).toBe('1.5 s');
    expect(formatValue(7200, 'seconds')).toBe('2 h');
    expect(formatValue(250, 'milliseconds')).toBe('250 ms');
  });

  it('uses binary prefixes for bytes and SI prefixes for rates', () => {
    expect(formatValue(1536, 'bytes')).toBe('1.5 KiB');
    expect(formatValue(3 * 1024 ** 3, 'bytes')).toBe('3 GiB');
    expect(formatValue(2048, 'bytesps')).toBe('2 KiB/s');
    expect(formatValue(1234, 'reqps')).toBe('1.23k req/s');
    expect(formatValue(0.5, 'ops')).toBe('0.5/s');
  });

  it('shows ratios as percentages', () => {
    expect(formatValue(0.0123, 'percentunit')).toBe('1.23%');
    expect(formatValue(42, 'percent')).toBe('42%');
  });

  it('shows missing and non-finite values distinctly', () => {
    expect(formatValue(null, 'seconds')).toBe('—');
    expect(formatValue(Infinity)).toBe('+Inf');
    expect(formatValue(NaN)).toBe('—');
  });

  it('trims numbers to significant digits', () => {
    expect(trimNumber(3.14159)).toBe('3.14');
    expect(trimNumber(120)).toBe('120');
    expect(trimNumber(0.000012345)).toBe('0.0000123');
    expect(trimNumber(123456)).toBe('123456');
  });
});
