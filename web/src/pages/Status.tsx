import { getCardinality, getStatus, type CardinalityRow } from '../api/status.js';
import { formatValue, trimNumber } from '../chart/units.js';
import { dateTime } from '../format.js';
import { useAsync, useTitle } from '../hooks.js';

/** The server at a glance: ingest, series, storage, queries, build. Refreshes every 10 s. */
export default function StatusPage() {
  useTitle('Status');
  const res = useAsync((signal) => getStatus(signal), [], 10_000);
  const card = useAsync((signal) => getCardinality(signal), [], 30_000);
  const s = res.data;
  return (
    <>
      <div class="page-head">
        <h1>Status</h1>
        <span class="subtle">{s ? `Metronome ${s.build.version} · up ${uptime(s.build.uptimeSec)}` : ''}</span>
      </div>
      {res.error ? <div class="error-box">Could not load the status: {res.error.message}</div> : null}
      {s ? (
        <>
          <div class="stats-grid">
            <Stat label="Ingest rate" value={formatValue(s.ingest.pointsPerSec, 'ops')} note={s.ingest.windowSec ? `points/s over the last ${s.ingest.windowSec} s` : 'measuring…'} />
            <Stat label="Series" value={trimNumber(s.series.count, 6)} note={`${s.series.services} services`} />
            <Stat label="Storage" value={formatValue(s.storage.bytes, 'bytes')} note={s.storage.bytes ? `${trimNumber(s.storage.uncompressedBytes / s.storage.bytes)}× compression` : ''} />
            <Stat label="Query latency p50 / p99" value={`${formatValue(s.queries.p50Sec, 'seconds')} / ${formatValue(s.queries.p99Sec, 'seconds')}`} note={`${s.queries.count} queries since start`} />
            <Stat label="Points accepted" value={trimNumber(s.ingest.pointsAccepted, 9)} note={`${s.ingest.pointsRejected} rejected · ${s.ingest.buffered} buffered`} />
            <Stat label="Alerts" value={s.alerting ? `${s.alerting.firing} firing` : 'off'} note={s.alerting ? `${s.alerting.pending} pending` : 'alerting is not running'} />
          </div>
          <div style={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fit, minmax(360px, 1fr))', gap: '12px' }}>
            <section class="card" aria-labelledby="st-tables">
              <h2 class="card-head" id="st-tables">
                Storage by table
              </h2>
              <table class="list">
                <thead>
                  <tr>
                    <th>Table</th>
                    <th class="num">Rows</th>
                    <th class="num">On disk</th>
                    <th class="num">Parts</th>
                  </tr>
                </thead>
                <tbody>
                  {s.storage.tables.map((t) => (
                    <tr key={t.table}>
                      <td class="mono">{t.table}</td>
                      <td class="num">{trimNumber(t.rows, 9)}</td>
                      <td class="num">{formatValue(t.bytes, 'bytes')}</td>
                      <td class="num">{t.parts}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
            <section class="card" aria-labelledby="st-build">
              <h2 class="card-head" id="st-build">
                Build and runtime
              </h2>
              <table class="list">
                <tbody>
                  <Row k="Version" v={s.build.version} />
                  <Row k="Node.js" v={s.build.node} />
                  <Row k="Platform" v={s.build.platform} />
                  <Row k="Store" v={s.build.store === 'embedded' ? 'embedded ClickHouse (chdb)' : 'remote ClickHouse'} />
                  <Row k="Started" v={dateTime(s.build.startedAt)} />
                  <Row k="Retention" v={`${s.config.retentionDays} days`} />
                  <Row k="Demo data" v={s.config.demo === '0' ? 'off' : s.config.demo === '1' ? 'on' : 'auto (on an empty data directory)'} />
                  <Row k="Queries per second" v={formatValue(s.queries.perSec, 'ops')} />
                </tbody>
              </table>
            </section>
          </div>
          {card.data ? (
            <div style={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fit, minmax(360px, 1fr))', gap: '12px', marginTop: '12px' }}>
              <Offenders title="New series today by service" limitName="MAX_SERIES_PER_SERVICE" rows={card.data.services} />
              <Offenders title="New series today by metric" limitName="MAX_SERIES_PER_KEY" rows={card.data.keys} />
            </div>
          ) : null}
        </>
      ) : res.loading ? (
        <div class="empty">Loading…</div>
      ) : null}
    </>
  );
}

/** The top offenders against a new-series limit (server/limits/cardinality.ts). */
function Offenders({ title, limitName, rows }: { title: string; limitName: string; rows: CardinalityRow[] }) {
  return (
    <section class="card" aria-label={title} data-cardinality={limitName}>
      <h2 class="card-head">{title}</h2>
      <table class="list">
        <thead>
          <tr>
            <th>Name</th>
            <th class="num">New today</th>
            <th class="num">{limitName}</th>
            <th class="num">Active (24 h)</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.name}>
              <td class="mono">{r.name || '(none)'}</td>
              <td class="num">{trimNumber(r.newToday, 9)}</td>
              <td class="num">{r.limit ? `${Math.round((r.newToday / r.limit) * 100)}% of ${trimNumber(r.limit, 9)}` : 'unlimited'}</td>
              <td class="num">{trimNumber(r.series, 9)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Stat({ label, value, note }: { label: string; value: string; note?: string }) {
  return (
    <div class="card card-body">
      <div class="subtle" style={{ fontSize: '12px', fontWeight: 600, textTransform: 'uppercase', letterSpacing: '0.03em' }}>
        {label}
      </div>
      <div class="big">{value}</div>
      {note ? <div class="subtle">{note}</div> : null}
    </div>
  );
}

function Row({ k, v }: { k: string; v: string }) {
  return (
    <tr>
      <th scope="row" style={{ textTransform: 'none', letterSpacing: 0, fontSize: '13px', width: '40%' }}>
        {k}
      </th>
      <td>{v}</td>
    </tr>
  );
}

function uptime(sec: number): string {
  if (sec < 120) return `${sec} s`;
  if (sec < 7200) return `${Math.round(sec / 60)} min`;
  if (sec < 172800) return `${Math.round(sec / 3600)} h`;
  return `${Math.round(sec / 86400)} d`;
}
