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

  it('runs reReplaceAll and match as Go\'s regexp does: unanchored, RE2 syntax, Go\'s $ expansion', () => {
    expect(expandTemplate('{{ reReplaceAll "(?P<host>[^:]+):(\\\\d+)" "$host on ${2}" $labels.instance }}', data)).toBe('web-1 on 9100');
    expect(expandTemplate('{{ reReplaceAll "-(\\\\d)" "$1x" $labels.instance }}', data)).toBe('web:9100');
    expect(expandTemplate('{{ reReplaceAll "-(\\\\d)" "${1}x" $labels.instance }}', data)).toBe('web1x:9100');
    expect(expandTemplate('{{ $labels.job | reReplaceAll "o*" "." }}', data)).toBe('.n.d.e.');
    expect(expandTemplate('{{ match "^[[:alpha:]]+$" $labels.job }} {{ match "(?i)NODE" $labels.job }} {{ match "^web$" $labels.instance }}', data)).toBe('true true false');
    // A backtracking bomb returns at once on RE2.
    expect(expandTemplate(`{{ match "^(a|a)+$" "${'a'.repeat(40)}b" }}`, data)).toBe('false');
  });

  it('rejects a literal pattern RE2 rejects when the template is compiled, at the pattern', () => {
    const src = 'x {{ reReplaceAll "(?=:)" "" $labels.instance }}';
    expect(() => compileTemplate(src)).toThrow(/invalid regular expression in reReplaceAll: error parsing regexp: invalid or unsupported Perl syntax/);
    try {
      compileTemplate(src);
    } catch (e) {
      expect((e as TemplateError).position).toBe(src.indexOf('"(?='));
    }
    expect(() => compileTemplate('{{ $labels.job | match "a)" }}')).toThrow(TemplateError);
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

describe('template limits', () => {
  it('rejects a printf width over the limit when the template is saved', () => {
    expect(() => compileTemplate('{{ printf "%400000000d" 1 }}')).toThrow(/printf width or precision 400000000 .* exceeds the limit of 1024/);
    expect(() => compileTemplate('{{ printf "%.5000f" $value }}')).toThrow(TemplateError);
    expect(expandTemplate('{{ printf "%1024d" 1 }}', data)).toHaveLength(1024);
  });

  it('refuses a width that arrives at expansion time and caps the output at 64 KB', () => {
    const t = compileTemplate('{{ printf $labels.fmt 1 }}');
    expect(() => t.expand({ ...data, labels: { fmt: '%400000000d' } })).toThrow(/exceeds the limit of 1024/);
    const big = compileTemplate(`${'{{ printf "%1000s" "x" }}'.repeat(66)}`);
    expect(() => big.expand(data)).toThrow(/template output exceeds 65536 bytes/);
    expect(compileTemplate('{{ printf "%1000s" "x" }}'.repeat(65)).expand(data)).toHaveLength(65_000);
  });
});
