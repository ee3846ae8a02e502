import { describe, expect, it } from 'vitest';
import { compileTemplate, expandTemplate, goFloat, goG, humanize, humanizeDuration, TemplateError } from './template.js';

const data = { labels: { instance: 'web-1:9100', job: 'node' }, value: 0.123456, externalURL: 'http://metronome:8080' };

describe('alert templates', () => {
  it('expands labels, value and pipelines as Prometheus does', () => {
    expect(expandTemplate('{{ $labels.instance }} is down', data)).toBe('web-1:9100 is down');
    expect(expandTemplate('value {{ $value }}', data)).toBe('value 0.123456');
    expect(expandTemplate('{{ $value | humanizePercentage }}', data)).toBe('12.35%');
    expect(expandTemplate('{{ humanize $value }}', data)).toBe('123.5m');
    expect(expandTemplate('{{ printf "%.2f" $value }}', data)).toBe('0.12');
    expect(expandTemplate('{{ index $labels "job" }}/{{ .Labels.job }}', data)).toBe('node/node');
    expect(expandTemplate('{{ $labels.instance | stripPort | toUpper }}', data)).toBe('WEB-1');
    expect(expandTemplate('{{ $labels.missing }}', data)).toBe('');
    expect(expandTemplate('a  {{- $labels.job -}}  b', data)).toBe('anodeb');
    expect(expandTemplate('{{/* note */}}x', data)).toBe('x');
    expect(expandTemplate('{{ $externalURL }}/alerts', data)).toBe('http://metronome:8080/alerts');
  });

  it('formats numbers with Go rules', () => {
    expect(goFloat(1e6)).toBe('1e+06');
    expect(goFloat(123456)).toBe('123456');
    expect(goFloat(1234567)).toBe('1.234567e+06');
    expect(goFloat(0.0001)).toBe('0.0001');
    expect(goFloat(0.00001)).toBe('1e-05');
    expect(goG(1234.5678, 4)).toBe('1235');
    expect(goG(12345678, 4)).toBe('1.235e+07');
    expect(humanize(1234567)).toBe('1.235M');
    expect(humanize(0)).toBe('0');
    expect(humanizeDuration(3725)).toBe('1h 2m 5s');
    expect(humanizeDuration(0.25)).toBe('250ms');
    expect(humanizeDuration(90061)).toBe('1d 1h 1m 1s');
  });

  it('rejects control structures and unknown names with a position', () => {
    const bad: [string, number][] = [
      ['{{ if $value }}x{{ end }}', 3],
      ['ok {{ nosuch $value }}', 6],
      ['{{ $foo }}', 3],
      ['{{ $value ', 0],
    ];
    for (const [src, pos] of bad) {
      let err: unknown;
      try {
        compileTemplate(src);
      } catch (e) {
        err = e;
      }
      expect(err, src).toBeInstanceOf(TemplateError);
      expect((err as TemplateError).position, src).toBe(pos);
    }
  });
});
