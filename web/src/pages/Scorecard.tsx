import { getScorecard, scoreClass } from '../api/services.js';
import { Link } from '../components/Link.js';
import { useAsync, useTitle } from '../hooks.js';

/** One service's golden-path scorecard: every check, what was found, and how to fix a failure. */
export default function ScorecardPage({ name }: { name: string }) {
  useTitle(`${name} scorecard`);
  const res = useAsync((signal) => getScorecard(name, signal), [name], 60_000);
  const c = res.data;
  return (
    <>
      <div class="page-head">
        <h1>
          <Link href={`/services/${encodeURIComponent(name)}`}>{name}</Link> · golden-path scorecard
        </h1>
        {c ? (
          <span class={`badge ${scoreClass(c.score)}`} data-score={c.score}>
            {c.score} / 100
          </span>
        ) : null}
      </div>
      {res.error ? <div class="error-box">Could not load the scorecard: {res.error.message}</div> : null}
      {c ? (
        <div class="card" style={{ overflow: 'auto' }}>
          <table class="list" aria-label="Checks">
            <thead>
              <tr>
                <th>Check</th>
                <th>Result</th>
                <th>Found</th>
                <th>How to fix</th>
              </tr>
            </thead>
            <tbody>
              {c.checks.map((x) => (
                <tr key={x.name} data-check={x.name} data-ok={String(x.ok)}>
                  <td class="mono" style={{ whiteSpace: 'nowrap' }}>
                    {x.name}
                  </td>
                  <td>
                    <span class={`badge ${x.ok ? 'ok' : 'critical'}`}>{x.ok ? 'pass' : 'fail'}</span>
                  </td>
                  <td>{x.detail}</td>
                  <td class="subtle">{x.fix}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <p class="subtle">
        In CI: <code>npx metronome check {name} --min 80</code> exits non-zero below the minimum.
      </p>
    </>
  );
}
