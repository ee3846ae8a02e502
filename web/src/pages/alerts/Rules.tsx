import { listRules, type RuleView } from '../../api/alerts.js';
import { Link } from '../../components/Link.js';
import { ago } from '../../format.js';
import { useAsync } from '../../hooks.js';
import { navigate } from '../../router.js';
import { AlertingError, LabelChips, stateClass } from './common.js';

/** Alerting and recording rules by group, with state and health. */
export function RulesView() {
  const res = useAsync((signal) => listRules(signal), [], 15_000);
  const groups = new Map<string, RuleView[]>();
  for (const r of res.data ?? []) groups.set(r.group, [...(groups.get(r.group) ?? []), r]);
  return (
    <>
      <div class="controls" style={{ marginBottom: '12px' }}>
        <span class="subtle">{res.data ? `${res.data.length} rules in ${groups.size} groups` : 'Loading…'}</span>
        <div style={{ flex: 1 }} />
        <button type="button" class="primary" onClick={() => navigate('/alerts/rules/new')}>
          New alert rule
        </button>
      </div>
      {res.error ? <AlertingError error={res.error} /> : null}
      {res.data && res.data.length === 0 ? <div class="card empty">No rules yet. Create one, or enable a service's proposed alerts from its page.</div> : null}
      {[...groups].map(([g, rules]) => (
        <section class="card" key={g} style={{ marginBottom: '12px', overflow: 'auto' }} aria-label={`Group ${g}`}>
          <h2 class="card-head">
            {g} <span class="subtle" style={{ fontWeight: 400 }}>· every {rules[0].interval} · {rules[0].source === 'api' ? 'created here' : rules[0].source === 'slo' ? 'generated from an SLO' : rules[0].file}</span>
          </h2>
          <table class="list">
            <thead>
              <tr>
                <th>State</th>
                <th>Rule</th>
                <th>Expression</th>
                <th>Health</th>
                <th class="num">Evaluated</th>
              </tr>
            </thead>
            <tbody>
              {rules.map((r) => (
                <tr key={r.id} data-rule={r.alert ?? r.record}>
                  <td>{r.type === 'alerting' ? <span class={`badge ${stateClass(r.state)}`}>{r.state}</span> : <span class="badge plain inactive">record</span>}</td>
                  <td>
                    {r.source === 'api' ? (
                      <Link href={`/alerts/rules/${encodeURIComponent(r.id)}`}>
                        <strong>{r.alert ?? r.record}</strong>
                      </Link>
                    ) : (
                      <strong title="Read-only: defined in a rule file or generated">{r.alert ?? r.record}</strong>
                    )}
                    <div>
                      <LabelChips labels={r.labels} />
                    </div>
                  </td>
                  <td class="mono" style={{ maxWidth: '640px', wordBreak: 'break-all' }}>
                    {r.expr}
                    {r.for && r.for !== '0s' ? <span class="subtle"> for {r.for}</span> : null}
                  </td>
                  <td>
                    <span class={`badge ${r.health === 'ok' ? 'ok' : r.health === 'err' || r.health === 'error' ? 'critical' : 'inactive'}`} title={r.lastError || undefined}>
                      {r.health}
                    </span>
                  </td>
                  <td class="num">{r.lastEvaluation ? ago(Date.parse(r.lastEvaluation)) : 'never'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ))}
    </>
  );
}
