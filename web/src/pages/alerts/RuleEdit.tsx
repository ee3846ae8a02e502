import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { createRule, deleteRule, getRule, updateRule, type RuleInput } from '../../api/alerts.js';
import { queryRange } from '../../api/prom.js';
import { listServices } from '../../api/services.js';
import { panelChartData } from '../../chart/panelData.js';
import { chooseStep, queryGrid } from '../../chart/range.js';
import { TimeSeriesChart } from '../../chart/TimeSeriesChart.js';
import { Link } from '../../components/Link.js';
import { QueryEditor } from '../../components/QueryEditor.js';
import { useAsync, useDebounced } from '../../hooks.js';
import { navigate } from '../../router.js';
import { AlertingError } from './common.js';
import { issuesOf, issueSentence, refusal, ruleField, type Issue } from './wording.js';

/** Create or edit an alerting rule, with a live preview graph of its expression over the last 3 hours. */

interface Form {
  alert: string;
  expr: string;
  for: string;
  group: string;
  severity: string;
  service: string;
  summary: string;
  description: string;
  runbook: string;
  noData: string;
  labels: [string, string][];
}

const EMPTY: Form = { alert: '', expr: '', for: '5m', group: 'default', severity: 'warning', service: '', summary: '', description: '', runbook: '', noData: 'ok', labels: [] };
const RESERVED = new Set(['severity', 'service']);

export function RuleEdit({ id }: { id: string | null }) {
  const [form, setForm] = useState<Form>(EMPTY);
  const [issues, setIssues] = useState<Issue[]>([]);
  const [error, setError] = useState<Error | null>(null);
  const [refused, setRefused] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [loaded, setLoaded] = useState(id === null);
  const services = useAsync((signal) => listServices(signal), []);

  useEffect(() => {
    if (!id) return;
    const ac = new AbortController();
    getRule(id, ac.signal).then(
      (r) => {
        const { severity = '', service = '', ...rest } = r.labels;
        setForm({
          alert: r.alert ?? '',
          expr: r.expr,
          for: r.for ?? '0s',
          group: r.group,
          severity,
          service,
          summary: r.annotations?.summary ?? '',
          description: r.annotations?.description ?? '',
          runbook: r.annotations?.runbook_url ?? '',
          noData: r.no_data_state ?? 'ok',
          labels: Object.entries(rest),
        });
        setLoaded(true);
      },
      (e) => !ac.signal.aborted && setError(e),
    );
    return () => ac.abort();
  }, [id]);

  const set = <K extends keyof Form>(k: K, v: Form[K]) => setForm((f) => ({ ...f, [k]: v }));
  // An issue shows next to its field: top-level fields by name, the severity/service labels and the three annotations by their inputs.
  const fieldOf = (i: Issue) => (i.path[0] === 'labels' && (i.path[1] === 'severity' || i.path[1] === 'service') ? String(i.path[1]) : i.path[0] === 'annotations' && ['summary', 'description', 'runbook_url'].includes(String(i.path[1])) ? String(i.path[1]) : i.path.length === 1 ? String(i.path[0]) : '');
  const fieldIssue = (name: string) => issues.find((i) => fieldOf(i) === name);

  const body = (): RuleInput => {
    const labels: Record<string, string> = {};
    for (const [k, v] of form.labels) if (k.trim() && !RESERVED.has(k.trim())) labels[k.trim()] = v;
    if (form.severity) labels.severity = form.severity;
    if (form.service) labels.service = form.service;
    const annotations: Record<string, string> = {};
    if (form.summary) annotations.summary = form.summary;
    if (form.description) annotations.description = form.description;
    if (form.runbook) annotations.runbook_url = form.runbook;
    return { alert: form.alert.trim(), expr: form.expr.trim(), for: form.for.trim() || '0s', group: form.group.trim() || 'default', labels, annotations, no_data_state: form.noData };
  };

  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setIssues([]);
    setError(null);
    setRefused([]);
    try {
      if (id) await updateRule(id, body());
      else await createRule(body());
      navigate('/alerts/rules');
    } catch (err) {
      const list = issuesOf(err);
      if (list.length) setIssues(list);
      else setRefused(refusal(err, ruleField));
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    if (!id || !confirm(`Delete the rule ${form.alert}?`)) return;
    try {
      await deleteRule(id);
      navigate('/alerts/rules');
    } catch (err) {
      setRefused(refusal(err, ruleField));
    }
  };

  if (!loaded && !error) return <div class="empty">Loading rule…</div>;
  const exprIssue = fieldIssue('expr');
  const SHOWN = ['alert', 'expr', 'for', 'group', 'severity', 'service', 'summary', 'description', 'runbook_url', 'no_data_state'];
  const other = issues.filter((i) => !SHOWN.includes(fieldOf(i)));

  return (
    <form onSubmit={save} aria-label={id ? 'Edit alert rule' : 'New alert rule'} noValidate>
      <div class="controls" style={{ marginBottom: '12px' }}>
        <Link href="/alerts/rules">← Rules</Link>
        <h2 style={{ margin: '0 0 0 8px', fontSize: '16px' }}>{id ? `Edit ${form.alert}` : 'New alert rule'}</h2>
      </div>
      {error ? <AlertingError error={error} /> : null}
      {refused.length ? (
        <div class="error-box" role="alert" data-refusal>
          {refused.join('\n')}
        </div>
      ) : null}
      {issues.length ? (
        <div class="error-box" role="alert" data-refusal>
          The rule was not saved: {issues.length === 1 ? 'one field needs' : `${issues.length} fields need`} a change (shown next to each).
        </div>
      ) : null}
      <div class="card card-body" style={{ marginBottom: '12px' }}>
        <div class="form-grid">
          <Field label="Alert name" issue={fieldIssue('alert')}>
            <input id="rule-alert" type="text" required value={form.alert} onInput={(e) => set('alert', (e.target as HTMLInputElement).value)} placeholder="CheckoutHighErrorRatio" />
          </Field>
          <Field label="Pending for (before firing)" issue={fieldIssue('for')}>
            <input id="rule-for" type="text" value={form.for} onInput={(e) => set('for', (e.target as HTMLInputElement).value)} placeholder="5m" />
          </Field>
          <Field label="Severity" issue={fieldIssue('severity')}>
            <select id="rule-severity" value={form.severity} onChange={(e) => set('severity', (e.target as HTMLSelectElement).value)}>
              {['critical', 'warning', 'info', 'page', 'ticket', ''].map((s) => (
                <option key={s} value={s}>
                  {s || '(none)'}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Service" issue={fieldIssue('service')}>
            <input id="rule-service" type="text" list="rule-services" value={form.service} onInput={(e) => set('service', (e.target as HTMLInputElement).value)} />
            <datalist id="rule-services">
              {(services.data ?? []).map((s) => (
                <option key={s.name} value={s.name} />
              ))}
            </datalist>
          </Field>
          <Field label="Group" issue={fieldIssue('group')}>
            <input id="rule-group" type="text" value={form.group} onInput={(e) => set('group', (e.target as HTMLInputElement).value)} />
          </Field>
          <Field label="When the query returns nothing" issue={fieldIssue('no_data_state')}>
            <select id="rule-nodata" value={form.noData} onChange={(e) => set('noData', (e.target as HTMLSelectElement).value)}>
              <option value="ok">Resolve (Prometheus)</option>
              <option value="alerting">Fire</option>
              <option value="nodata">Fire a NoData alert</option>
              <option value="keep_last">Keep the last state</option>
            </select>
          </Field>
        </div>
        <div style={{ marginTop: '12px' }}>
          <span class="field" style={{ display: 'block', marginBottom: '4px', fontWeight: 500, fontSize: '13px', color: 'var(--text-2)' }}>
            Expression (alerts for every series it returns)
          </span>
          <QueryEditor id="rule-expr" label="Alert expression" value={form.expr} onChange={(v) => set('expr', v)} onRun={() => undefined} errorPos={exprIssue?.position} rows={2} />
          {exprIssue ? (
            <div class="error-box" role="alert">
              {issueSentence(exprIssue, ruleField)}
            </div>
          ) : null}
        </div>
        <Preview expr={form.expr} />
      </div>
      <div class="card card-body" style={{ marginBottom: '12px' }}>
        <div class="form-grid">
          <Field label="Summary" issue={fieldIssue('summary')}>
            <input id="rule-summary" type="text" value={form.summary} onInput={(e) => set('summary', (e.target as HTMLInputElement).value)} placeholder="{{ $labels.service }} fails {{ $value | humanizePercentage }}" />
          </Field>
          <Field label="Description" issue={fieldIssue('description')}>
            <input id="rule-description" type="text" value={form.description} onInput={(e) => set('description', (e.target as HTMLInputElement).value)} />
          </Field>
          <Field label="Runbook URL" issue={fieldIssue('runbook_url')}>
            <input id="rule-runbook" type="text" value={form.runbook} onInput={(e) => set('runbook', (e.target as HTMLInputElement).value)} placeholder="https://…" />
          </Field>
        </div>
        <fieldset style={{ border: 0, padding: 0, margin: '12px 0 0' }}>
          <legend style={{ fontWeight: 500, fontSize: '13px', color: 'var(--text-2)', marginBottom: '6px' }}>Other labels</legend>
          {form.labels.map(([k, v], i) => (
            <div class="kv-row" key={i}>
              <input type="text" aria-label={`Label ${i + 1} name`} value={k} onInput={(e) => set('labels', form.labels.map((x, j) => (j === i ? [(e.target as HTMLInputElement).value, x[1]] : x)))} />
              <input type="text" aria-label={`Label ${i + 1} value`} value={v} onInput={(e) => set('labels', form.labels.map((x, j) => (j === i ? [x[0], (e.target as HTMLInputElement).value] : x)))} />
              <button type="button" aria-label={`Remove label ${k || i + 1}`} onClick={() => set('labels', form.labels.filter((_, j) => j !== i))}>
                ✕
              </button>
            </div>
          ))}
          <button type="button" onClick={() => set('labels', [...form.labels, ['', '']])}>
            Add label
          </button>
        </fieldset>
      </div>
      {other.length ? (
        <div class="error-box" role="alert">
          {other.map((i) => issueSentence(i, ruleField)).join('\n')}
        </div>
      ) : null}
      <div class="controls">
        <button type="submit" class="primary" disabled={busy}>
          {id ? 'Save rule' : 'Create rule'}
        </button>
        <button type="button" onClick={() => navigate('/alerts/rules')}>
          Cancel
        </button>
        <div style={{ flex: 1 }} />
        {id ? (
          <button type="button" class="danger" onClick={remove}>
            Delete rule
          </button>
        ) : null}
      </div>
    </form>
  );
}

function Field({ label, issue, children }: { label: string; issue?: Issue; children: ComponentChildren }) {
  // The label names the field right above, so the message reads on from it ("must not be empty.").
  const text = issue ? issueSentence(issue, () => label) : '';
  return (
    <label class="field">
      <span>{label}</span>
      {children}
      {issue ? (
        <span class="val-critical" role="alert" style={{ fontWeight: 400 }} data-field-issue>
          {text}
        </span>
      ) : null}
    </label>
  );
}

/** The expression over the last 3 hours: what would have been alerting, and with which values. */
function Preview({ expr }: { expr: string }) {
  const q = useDebounced(expr.trim(), 500);
  const res = useAsync(
    async (signal) => {
      if (!q) return null;
      const now = Date.now();
      const grid = queryGrid({ start: now - 3 * 3_600_000, end: now }, chooseStep(now - 3 * 3_600_000, now, 300));
      const r = await queryRange(q, grid.start, grid.end, grid.step, signal);
      return { chart: panelChartData([{ expr: q, series: r.series }], grid), grid };
    },
    [q],
  );
  if (!q) return <p class="subtle">Write an expression to see a preview of its result over the last 3 hours.</p>;
  const active = res.data ? res.data.chart.data.slice(1).filter((col) => (col as (number | null)[])[col.length - 1] !== null).length : 0;
  return (
    <div style={{ marginTop: '12px' }} data-rule-preview>
      <div class="subtle" aria-live="polite">
        Preview (last 3 h):{' '}
        {res.loading ? 'running…' : res.error ? '' : res.data ? `${res.data.chart.series.length} series; ${active} would be active now` : ''}
      </div>
      {res.error ? <div class="error-box">{res.error.message}</div> : null}
      {res.data ? (
        <TimeSeriesChart title="Rule preview" data={res.data.chart.data} series={res.data.chart.series} unit="short" height={180} xRange={[res.data.grid.start, res.data.grid.end]} />
      ) : null}
    </div>
  );
}
