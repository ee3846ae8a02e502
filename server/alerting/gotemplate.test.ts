import { describe, expect, it } from 'vitest';
import { GoTemplateError, TemplateSet } from './gotemplate.js';
import { NotifyTemplates, templateData } from './notify-templates.js';
import { sampleNotification } from './receivers/testing.js';

const run = (src: string, data: unknown = templateData(sampleNotification()), html = false) => {
  const set = new TemplateSet();
  return set.execute(set.parse(src), data, { html });
};

describe('Go templates for notifications', () => {
  it('walks Alertmanager template data: range, if/else, with, fields and methods', () => {
    expect(run('{{ .Status | toUpper }} {{ len .Alerts.Firing }}/{{ len .Alerts }} {{ .GroupLabels.alertname }}')).toBe('FIRING 2/3 HighLatency');
    expect(run('{{ range .Alerts.Firing }}{{ .Labels.instance }};{{ end }}')).toBe('web-1:9100;web-2:9100;');
    expect(run('{{ range $i, $a := .Alerts }}{{ if $i }}, {{ end }}{{ $i }}={{ $a.Status }}{{ end }}')).toBe('0=firing, 1=firing, 2=resolved');
    expect(run('{{ .CommonLabels.SortedPairs.Values | join " " }}|{{ (.CommonLabels.Remove .GroupLabels.Names).Names | join "," }}')).toBe('HighLatency api page|job,severity');
    expect(run('{{ range .CommonLabels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}')).toBe('alertname=HighLatency job=api severity=page ');
    expect(run('{{ if eq .Status "resolved" }}ok{{ else if gt (len .Alerts.Firing) 1 }}many{{ else }}one{{ end }}')).toBe('many');
    expect(run('{{ with .CommonAnnotations.nothing }}x{{ else }}none{{ end }} {{ with .GroupLabels }}{{ .alertname }}{{ end }}')).toBe('none HighLatency');
    expect(run('{{ $n := len .Alerts }}{{ $n = 7 }}{{ $n }} {{ range .Alerts }}{{ if eq .Status "resolved" }}{{ break }}{{ end }}x{{ end }}')).toBe('7 xx');
    expect(run('{{- /* trimmed */ -}}  a  {{- "b" -}}  c')).toBe('abc');
    expect(run('{{ (index .Alerts 0).StartsAt.Format "2006-01-02 15:04 MST" }} {{ (index .Alerts 0).StartsAt | tz "Europe/Paris" | date "15:04 -07:00" }}')).toBe('2024-01-02 02:54 UTC 03:54 +01:00');
  });

  it('has define, template and block, and Alertmanager\'s functions', () => {
    const set = new TemplateSet();
    set.parse('{{ define "t.title" }}[{{ .Status | toUpper }}] {{ template "t.labels" .GroupLabels }}{{ end }}{{ define "t.labels" }}{{ range .SortedPairs }}{{ .Name }}={{ .Value }}{{ end }}{{ end }}', 'x.tmpl');
    expect(set.execute('t.title', templateData(sampleNotification()))).toBe('[FIRING] alertname=HighLatency');
    expect(run('{{ block "b" . }}default {{ .Receiver }}{{ end }}')).toBe('default team-api');
    expect(run('{{ reReplaceAll "(\\\\w+)-(\\\\d)" "$2-$1" "web-1" }} {{ match "^web" "web-2" }} {{ title "hello world" }} {{ trimSpace "  x " }}')).toBe('1-web true Hello World x');
    expect(run('{{ humanize 1234567 }} {{ humanize1024 2048 }} {{ humanizePercentage 0.123 }} {{ humanizeDuration 3661 }} {{ printf "%05.1f|%-4s|%q" 3.14159 "ab" "c" }}')).toBe('1.235M 2ki 12.3% 1h 1m 1s 003.1|ab  |"c"');
    expect(run('{{ stringSlice "a" "b" | join "+" }} {{ toJson .GroupLabels }} {{ "x" | urlquery }} {{ and 1 0 }} {{ or 0 "y" }} {{ not true }}')).toBe('a+b {"alertname":"HighLatency"} x 0 y false');
    expect(run('<b>{{ .GroupLabels.alertname }}</b>{{ "<i>" }}{{ "<u>" | safeHtml }}', templateData(sampleNotification()), true)).toBe('<b>HighLatency</b>&lt;i&gt;<u>');
  });

  it('reports a bad template with file:line:column when it is loaded', () => {
    const bad: [string, RegExp][] = [
      ['ok\n{{ if .Status }}\nno end', /^f\.tmpl:2:1: unclosed \{\{if\}\}/],
      ['{{ define "a" }}x{{ end }}\n  {{ nosuch . }}', /^f\.tmpl:2:6: function "nosuch" not defined/],
      ['{{ "unterminated }}', /^f\.tmpl:1:4: unterminated quoted string/],
      ['{{ end }}', /^f\.tmpl:1:1: unexpected \{\{end\}\}/],
      ['a\n\n   {{ printf "%400000000d" 1 }}', /^f\.tmpl:3:14: printf width or precision 400000000/],
    ];
    for (const [src, re] of bad) {
      let e: unknown;
      try {
        new TemplateSet().parse(src, 'f.tmpl');
      } catch (x) {
        e = x;
      }
      expect(e, src).toBeInstanceOf(GoTemplateError);
      expect((e as Error).message, src).toMatch(re);
    }
  });

  it('stops a template that would grow without bound: output, depth and steps', () => {
    expect(() => run(`{{ range .Alerts }}${'x'.repeat(30_000)}{{ end }}`)).toThrow(/template output exceeds 65536 bytes/);
    const set = new TemplateSet();
    set.parse('{{ define "loop" }}{{ template "loop" . }}{{ end }}');
    expect(() => set.execute('loop', {})).toThrow(/maximum template depth/);
    // 2^30 calls, 30 deep, no output.
    set.parse(Array.from({ length: 30 }, (_, i) => `{{ define "f${i}" }}{{ template "f${i + 1}" . }}{{ template "f${i + 1}" . }}{{ end }}`).join('') + '{{ define "f30" }}{{ end }}');
    expect(() => set.execute('f0', {})).toThrow(/evaluation steps/);
    expect(() => run('{{ printf (print "%" "9999999" "d") 1 }}')).toThrow(/exceeds the limit of 1024/);
  });

  it('calls Alertmanager\'s default templates by name', () => {
    const t = new NotifyTemplates();
    const n = sampleNotification();
    expect(t.expand('{{ template "slack.default.title" . }}', n)).toBe('[FIRING:2] HighLatency (api page)');
    expect(t.expand('{{ template "__text_alert_list" .Alerts.Resolved }}', n)).toContain(' - instance = web-3:9100\n');
    expect(t.expand('{{ template "missing" . }}', n)).toBe('<error expanding template: no such template "missing">');
  });
});
