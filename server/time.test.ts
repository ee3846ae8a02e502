import { describe, expect, it } from 'vitest';
import { DurationSyntax, parseDuration, parsePromDuration, PROM_DURATION_UNITS } from './time.js';

describe('parsePromDuration', () => {
  it('adds up Prometheus duration terms, reading ms before m', () => {
    expect(parsePromDuration('1h30m')).toBe(5_400_000);
    expect(parsePromDuration('250ms')).toBe(250);
    expect(parsePromDuration('5m')).toBe(300_000);
    expect(parsePromDuration('1m500ms')).toBe(60_500);
    expect(parsePromDuration('2w1d')).toBe(15 * 86_400_000);
    expect(parsePromDuration('1y')).toBe(31_536_000_000);
  });

  it('refuses what is not one: no unit, a fraction, spaces, unknown units', () => {
    for (const bad of ['', '0', '30', '1.5h', ' 5m', '5m ', '5 m', '5M', '1H', 'h', '5mm', '-5m']) expect(parsePromDuration(bad), bad).toBeNull();
  });

  it('takes "0" only when asked, as model.ParseDuration does for rule files and Alertmanager', () => {
    expect(parsePromDuration('0', { zero: true })).toBe(0);
    expect(parsePromDuration('00', { zero: true })).toBeNull();
    expect(parsePromDuration('5m', { zero: true })).toBe(300_000);
  });
});

describe('parseDuration (query parameters)', () => {
  it('takes a Prometheus duration or float seconds, and names the parameter when neither', () => {
    expect(parseDuration('1m')).toBe(60_000);
    expect(parseDuration('1.5')).toBe(1500);
    expect(() => parseDuration('1 minute', 'timeout')).toThrow('invalid parameter "timeout": cannot parse "1 minute" to a valid duration');
  });
});

describe('DurationSyntax', () => {
  const single = new DurationSyntax({ ...PROM_DURATION_UNITS, H: 3_600_000 }, { compound: false, bareUnitMs: 1 });

  it('reads a dialect with its own units, one term, and bare numbers in the given unit', () => {
    expect(single.parse('2H')).toBe(7_200_000);
    expect(single.parse('2h')).toBe(7_200_000);
    expect(single.parse('30')).toBe(30);
    expect(single.parse('5ms')).toBe(5);
    expect(single.parse('1h30m')).toBeNull();
    expect(single.parse('1x')).toBeNull();
  });

  it('gives a bare number no meaning unless the dialect has a unit for it', () => {
    expect(new DurationSyntax(PROM_DURATION_UNITS, { compound: true }).parse('30')).toBeNull();
  });
});
