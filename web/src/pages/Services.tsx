import { useMemo } from 'preact/hooks';
import { listScorecards, listServices, scoreClass, type Service } from '../api/services.js';
import { formatValue } from '../chart/units.js';
import { HealthBadge } from '../components/HealthBadge.js';
import { Link } from '../components/Link.js';
import { ago } from '../format.js';
import { useAsync, useTitle } from '../hooks.js';
import { setQuery, useLocation } from '../router.js';

/** The home page: every service, its owner and its health at a glance. */

type SortKey = 'health' | 'name' | 'rate' | 'errors' | 'p99' | 'alerts' | 'seen' | 'score';

const HEALTH_RANK = { critical: 0, warning: 1, stale: 2, unknown: 3, ok: 4 } as const;

const COLUMNS: { key: SortKey; label: string; num?: boolean }[] = [
  { key: 'health', label: 'Health' },
  { key: 'name', label: 'Service' },
  { key: 'rate', label: 'Requests', num: true },
  { key: 'errors', label: 'Errors', num: true },
  { key: 'p99', label: 'p99', num: true },
  { key: 'alerts', label: 'Alerts', num: true },
  { key: 'seen', label: 'Last seen', num: true },
  { key: 'score', label: 'Score', num: true },
];

function sortValue(s: Service, k: SortKey, scores: Map<string, number>): number | string {
  switch (k) {
    case 'score':
      return scores.get(s.name) ?? -1;
    case 'health':
      return HEALTH_RANK[s.health.status];
    case 'name':
      return s.name;
    case 'rate':
      return s.health.requestRate ?? -1;
    case 'errors':
      return s.health.errorRatio ?? -1;
    case 'p99':
      return s.health.p99 ?? -1;
    case 'alerts':
      return s.health.alerts.firing * 1000 + s.health.alerts.pending;
    case 'seen':
      return s.lastSeen ?? 0;
  }
}

function filterServices(list: Service[], q: string): Service[] {
  const needle = q.trim().toLowerCase();
  if (!needle) return list;
  return list.filter((s) =>
    [s.name, s.description, s.owner?.team, s.tier].some((x) => x && x.toLowerCase().includes(needle)),
  );
}

export default function ServicesPage() {
  useTitle('Services');
  const loc = useLocation();
  const q = loc.query.get('q') ?? '';
  const sort = (loc.query.get('sort') as SortKey) || 'health';
  const dir = loc.query.get('dir') === 'desc' ? -1 : 1;
  const res = useAsync((signal) => listServices(signal), [], 30_000);
  // Scores come separately (each reads alert rules and cardinality): the list shows first.
  const cards = useAsync((signal) => listScorecards(signal), [], 60_000);
  const scores = useMemo(() => new Map((cards.data ?? []).map((c) => [c.service, c.score])), [cards.data]);

  const rows = useMemo(() => {
    const list = filterServices(res.data ?? [], q);
    return [...list].sort((a, b) => {
      const va = sortValue(a, sort, scores);
      const vb = sortValue(b, sort, scores);
      const c = typeof va === 'string' ? va.localeCompare(vb as string) : va - (vb as number);
      return c !== 0 ? c * dir : a.name.localeCompare(b.name);
    });
  }, [res.data, q, sort, dir, scores]);

  const toggleSort = (k: SortKey) => {
    const numeric = k !== 'name' && k !== 'health';
    if (k === sort) setQuery({ dir: dir === 1 ? 'desc' : null }, { replace: true });
    else setQuery({ sort: k === 'health' ? null : k, dir: numeric ? 'desc' : null }, { replace: true });
  };

  return (
    <>
      <div class="page-head">
        <h1>Services</h1>
        <span class="subtle">{res.data ? `${rows.length} of ${res.data.length}` : ''}</span>
        <div class="spacer" />
        <label class="visually-hidden" for="svc-search">
          Search services
        </label>
        <input
          id="svc-search"
          type="search"
          placeholder="Search name, owner, tier…  ( / )"
          value={q}
          data-shortcut-focus
          style={{ width: '300px' }}
          onInput={(e) => setQuery({ q: (e.target as HTMLInputElement).value }, { replace: true })}
        />
      </div>
      {res.error ? <div class="error-box">Could not load services: {res.error.message}</div> : null}
      <div class="card" style={{ overflow: 'auto' }}>
        <table class="list" aria-label="Services" aria-busy={res.loading && !res.data}>
          <thead>
            <tr>
              {COLUMNS.map((c) => (
                <th key={c.key} class={c.num ? 'num' : undefined} aria-sort={sort === c.key ? (dir === 1 ? 'ascending' : 'descending') : 'none'}>
                  <button type="button" onClick={() => toggleSort(c.key)}>
                    {c.label}
                    {sort === c.key ? (dir === 1 ? ' ▲' : ' ▼') : ''}
                  </button>
                </th>
              ))}
              <th>Owner</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((s) => (
              <tr key={s.name} class={`health-${s.health.status}`} data-service={s.name}>
                <td>
                  <HealthBadge status={s.health.status} reason={s.health.reason} />
                </td>
                <td>
                  <Link href={`/services/${encodeURIComponent(s.name)}`}>
                    <strong>{s.name}</strong>
                  </Link>{' '}
                  {s.tier ? <span class="tier">{s.tier}</span> : null}
                  {s.slo ? (
                    <span class="tier" title={`SLO ${s.slo.objective * 100}% over ${s.slo.window}`}>
                      SLO {+(s.slo.objective * 100).toPrecision(6)}%
                    </span>
                  ) : null}
                  {s.description ? <div class="subtle">{s.description}</div> : null}
                </td>
                <td class="num">{formatValue(s.health.requestRate, 'reqps')}</td>
                <td class={`num ${errorClass(s.health.errorRatio)}`}>{formatValue(s.health.errorRatio, 'percentunit')}</td>
                <td class="num">{formatValue(s.health.p99, 'seconds')}</td>
                <td class="num">
                  {s.health.alerts.firing ? <span class="badge firing">{s.health.alerts.firing} firing</span> : null}
                  {s.health.alerts.pending ? <span class="badge pending">{s.health.alerts.pending} pending</span> : null}
                  {!s.health.alerts.firing && !s.health.alerts.pending ? <span class="subtle">none</span> : null}
                </td>
                <td class="num" title={s.lastSeen ? new Date(s.lastSeen).toISOString() : undefined}>
                  {ago(s.lastSeen)}
                </td>
                <td class="num" data-col="score">
                  {scores.has(s.name) ? (
                    <Link href={`/services/${encodeURIComponent(s.name)}/scorecard`} class={`badge plain ${scoreClass(scores.get(s.name)!)}`} title="Golden-path scorecard">
                      {scores.get(s.name)}
                    </Link>
                  ) : (
                    <span class="subtle">{cards.error ? '?' : '…'}</span>
                  )}
                </td>
                <td>
                  {s.owner ? (
                    <>
                      {s.owner.team}
                      {s.owner.contact ? <div class="subtle">{s.owner.contact}</div> : null}
                    </>
                  ) : (
                    <span class="subtle">unowned</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {res.data && rows.length === 0 ? (
          <div class="empty">
            {res.data.length === 0 ? (
              <>
                No services yet. Send metrics with a <code>service</code> tag (or a Prometheus <code>job</code> label), or register one with{' '}
                <code>POST /api/v1/services</code>.
              </>
            ) : (
              <>No service matches “{q}”.</>
            )}
          </div>
        ) : null}
      </div>
    </>
  );
}

function errorClass(v: number | null): string {
  if (v === null) return '';
  if (v >= 0.05) return 'val-critical';
  if (v >= 0.01) return 'val-warning';
  return '';
}
