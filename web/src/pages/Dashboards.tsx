import { useState } from 'preact/hooks';
import { importDashboard, listDashboards, type ImportNote } from '../api/dashboards.js';
import { Link } from '../components/Link.js';
import '../dashboards/dashboards.css';
import { useAsync, useDebounced, useTitle } from '../hooks.js';
import { setQuery, useLocation } from '../router.js';

/** Every dashboard by folder, with search, tag filter and Grafana import. */
export default function DashboardsPage() {
  useTitle('Dashboards');
  const loc = useLocation();
  const [search, setSearch] = useState(loc.query.get('search') ?? '');
  const q = useDebounced(search, 200);
  const tag = loc.query.get('tag') ?? undefined;
  const list = useAsync((signal) => listDashboards({ search: q || undefined, tag }, signal), [q, tag]);
  const [importing, setImporting] = useState(false);

  const byFolder = new Map<string, NonNullable<typeof list.data>['data']>();
  for (const d of list.data?.data ?? []) byFolder.set(d.folder, [...(byFolder.get(d.folder) ?? []), d]);

  return (
    <>
      <div class="page-head">
        <h1>Dashboards</h1>
        <div class="spacer" />
        <input
          type="search"
          placeholder="Search dashboards"
          aria-label="Search dashboards"
          data-shortcut-focus
          value={search}
          onInput={(e) => {
            const v = (e.target as HTMLInputElement).value;
            setSearch(v);
            setQuery({ search: v || null }, { replace: true });
          }}
        />
        <button type="button" onClick={() => setImporting(!importing)} aria-expanded={importing}>
          Import Grafana…
        </button>
      </div>
      {tag ? (
        <p>
          Tag <span class="tag">{tag}</span>{' '}
          <button type="button" class="link" onClick={() => setQuery({ tag: null })}>
            clear
          </button>
        </p>
      ) : null}
      {importing ? <ImportForm onDone={() => list.reload()} /> : null}
      {list.error ? <div class="error-box">{list.error.message}</div> : null}
      {list.data?.provisioningErrors?.length ? (
        <div class="error-box">Dashboard files skipped: {list.data.provisioningErrors.map((e) => e.file).join(', ')}</div>
      ) : null}
      {list.data && !list.data.data.length ? <div class="empty">No dashboards match.</div> : null}
      {[...byFolder].map(([folder, ds]) => (
        <section key={folder} class="dash-folder" aria-label={`Folder ${folder}`}>
          <h2>{folder}</h2>
          <ul class="dash-list">
            {ds.map((d) => (
              <li key={d.id}>
                <Link href={`/dashboards/${encodeURIComponent(d.id)}`}>{d.title}</Link>
                {d.source !== 'library' ? <span class="subtle"> · {d.source === 'file' ? 'file' : 'generated'}</span> : null}
                {d.tags.map((t) => (
                  <button key={t} type="button" class="tag" onClick={() => setQuery({ tag: t })}>
                    {t}
                  </button>
                ))}
              </li>
            ))}
          </ul>
        </section>
      ))}
    </>
  );
}

function ImportForm({ onDone }: { onDone: () => void }) {
  const [text, setText] = useState('');
  const [folder, setFolder] = useState('');
  const [result, setResult] = useState<{ id: string; title: string; report: ImportNote[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setResult(null);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      setError(`Not JSON: ${(err as Error).message}`);
      return;
    }
    try {
      setResult(await importDashboard(json, folder || undefined));
      onDone();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <form class="dash-import" onSubmit={submit} aria-label="Import a Grafana dashboard">
      <label>
        Grafana dashboard JSON
        <textarea rows={8} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
      </label>
      <label>
        File{' '}
        <input
          type="file"
          accept=".json,application/json"
          onChange={async (e) => {
            const f = (e.target as HTMLInputElement).files?.[0];
            if (f) setText(await f.text());
          }}
        />
      </label>
      <label>
        Folder <input type="text" value={folder} onInput={(e) => setFolder((e.target as HTMLInputElement).value)} placeholder="General" />
      </label>
      <button type="submit" disabled={!text.trim()}>
        Import
      </button>
      {error ? (
        <div class="error-box" role="alert">
          {error}
        </div>
      ) : null}
      {result ? (
        <div class="dash-import-result" role="status">
          Imported <Link href={`/dashboards/${encodeURIComponent(result.id)}`}>{result.title}</Link>.{' '}
          {result.report.length ? `${result.report.length} item(s) not converted:` : 'Everything converted.'}
          {result.report.length ? (
            <ul class="dash-report">
              {result.report.map((n, i) => (
                <li key={i}>
                  <code>{n.path}</code> {n.title ? <strong>{n.title}</strong> : null} {n.message}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
    </form>
  );
}
