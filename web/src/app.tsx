import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Link } from './components/Link.js';
import { ThemeToggle } from './components/ThemeToggle.js';
import ServicesPage from './pages/Services.js';
import { matchPath, navigate, useLocation } from './router.js';

/** Pages other than the home page load on first visit: the initial bundle stays small. */
function lazyPage<P extends object>(load: () => Promise<{ default: ComponentType<P> }>): ComponentType<P> {
  let Comp: ComponentType<P> | null = null;
  let pending: Promise<void> | null = null;
  return function LazyPage(props: P) {
    const [, setLoaded] = useState(0);
    const [error, setError] = useState<Error | null>(null);
    useEffect(() => {
      if (Comp) return;
      pending ??= load().then((m) => {
        Comp = m.default;
      });
      pending.then(
        () => setLoaded(1),
        (e) => {
          pending = null;
          setError(e);
        },
      );
    }, []);
    if (error) return <div class="error-box">Could not load this page: {error.message}. Reload to try again.</div>;
    if (!Comp) return <div class="empty" aria-busy="true">Loading…</div>;
    return <Comp {...props} />;
  };
}

const ServicePage = lazyPage<{ name: string }>(() => import('./pages/Service.js'));
const ExplorePage = lazyPage<object>(() => import('./pages/Explore.js'));
const AlertsPage = lazyPage<{ path: string }>(() => import('./pages/Alerts.js'));
const StatusPage = lazyPage<object>(() => import('./pages/Status.js'));
const ScorecardPage = lazyPage<{ name: string }>(() => import('./pages/Scorecard.js'));
const DashboardsPage = lazyPage<object>(() => import('./pages/Dashboards.js'));
const DashboardPage = lazyPage<{ id: string }>(() => import('./pages/Dashboard.js'));

const NAV = [
  { href: '/', label: 'Services', key: 's', active: (p: string) => p === '/' || p.startsWith('/services') },
  { href: '/dashboards', label: 'Dashboards', key: 'd', active: (p: string) => p.startsWith('/dashboards') },
  { href: '/explore', label: 'Explore', key: 'e', active: (p: string) => p.startsWith('/explore') },
  { href: '/alerts', label: 'Alerts', key: 'a', active: (p: string) => p.startsWith('/alerts') },
  { href: '/status', label: 'Status', key: 't', active: (p: string) => p.startsWith('/status') },
];

function route(path: string) {
  if (path === '/' || path === '/services') return <ServicesPage />;
  const card = matchPath('/services/:name/scorecard', path);
  if (card) return <ScorecardPage key={card.name} name={card.name} />;
  const svc = matchPath('/services/:name', path);
  if (svc) return <ServicePage key={svc.name} name={svc.name} />;
  if (path === '/dashboards') return <DashboardsPage />;
  const dash = matchPath('/dashboards/:id', path);
  if (dash) return <DashboardPage key={dash.id} id={dash.id} />;
  if (path === '/explore') return <ExplorePage />;
  if (path === '/alerts' || path.startsWith('/alerts/')) return <AlertsPage path={path} />;
  if (path === '/status') return <StatusPage />;
  return (
    <div class="empty">
      <h1>Page not found</h1>
      <p>
        Nothing lives at <code>{path}</code>. <Link href="/">Go to the services</Link>.
      </p>
    </div>
  );
}

/** Keyboard: "g" then s/e/a/t goes to a page; "/" focuses the page's search or query box. */
function useShortcuts() {
  useEffect(() => {
    let g = 0;
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (e.ctrlKey || e.metaKey || e.altKey || t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName)) return;
      if (e.key === '/') {
        const box = document.querySelector<HTMLElement>('[data-shortcut-focus]');
        if (box) {
          e.preventDefault();
          box.focus();
        }
        return;
      }
      if (e.key === 'g') {
        g = Date.now();
        return;
      }
      if (Date.now() - g < 1500) {
        const n = NAV.find((x) => x.key === e.key);
        if (n) navigate(n.href);
        g = 0;
      }
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);
}

export function App() {
  const loc = useLocation();
  useShortcuts();
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <Link href="/" class="brand" aria-label="Metronome home">
          <svg viewBox="0 0 16 16" aria-hidden="true">
            <path d="M5 1h6l4 14H1z" fill="var(--accent)" />
            <path d="M8 12 12 3" stroke="var(--surface)" stroke-width="1.5" />
          </svg>
          Metronome
        </Link>
        <nav class="nav" aria-label="Main">
          {NAV.map((n) => (
            <Link key={n.href} href={n.href} aria-current={n.active(loc.path) ? 'page' : undefined} title={`${n.label} (g ${n.key})`}>
              {n.label}
            </Link>
          ))}
        </nav>
        <div class="spacer" />
        <ThemeToggle />
      </header>
      <main id="main" tabIndex={-1}>
        {route(loc.path)}
      </main>
    </>
  );
}
