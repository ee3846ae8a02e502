import { useState } from 'preact/hooks';
import { ApiError } from '../api/client.js';
import { getLibraryDashboard, type LibraryDashboard } from '../api/dashboards.js';
import { isRelative } from '../chart/range.js';
import { Link } from '../components/Link.js';
import { RefreshPicker, TimeRangePicker } from '../components/TimeRangePicker.js';
import { DashboardView } from '../dashboards/DashboardView.js';
import { useAsync, useStable, useTitle } from '../hooks.js';
import { useTimeState } from '../timeState.js';

export default function DashboardPage({ id }: { id: string }) {
  const time = useTimeState();
  const [saved, setSaved] = useState(0);
  const dash = useAsync((signal) => getLibraryDashboard(id, signal), [id, saved]);
  const d = useStable<LibraryDashboard | undefined>(dash.data);
  useTitle(d?.title ?? id);

  return (
    <>
      <div class="page-head">
        <h1>
          <Link href="/dashboards" class="subtle">
            Dashboards
          </Link>{' '}
          / {d?.folder ? <span class="subtle">{d.folder} / </span> : null}
          {d?.title ?? id}
        </h1>
        <div class="spacer" />
        <TimeRangePicker value={time.spec} onChange={time.setSpec} />
        <RefreshPicker value={time.refresh} onChange={time.setRefresh} disabled={!isRelative(time.spec)} />
        <button type="button" class="icon" onClick={time.reload} aria-label="Refresh now" title="Refresh now">
          ↻
        </button>
        {d ? (
          <a class="button" href={`/api/v1/dashboards/${encodeURIComponent(id)}/export?format=grafana`} download={`${id}.json`}>
            Export
          </a>
        ) : null}
      </div>
      {dash.error ? (
        <div class="error-box" role="alert">
          {dash.error instanceof ApiError && dash.error.status === 404 ? (
            <>
              There is no dashboard <strong>{id}</strong>. <Link href="/dashboards">Back to the dashboards</Link>.
            </>
          ) : (
            <>Could not load the dashboard: {dash.error.message}</>
          )}
        </div>
      ) : null}
      {d ? (
        <DashboardView dash={d} time={time} onSaved={() => setSaved((n) => n + 1)} />
      ) : !dash.error ? (
        <div class="empty" aria-busy="true">
          Loading…
        </div>
      ) : null}
    </>
  );
}
