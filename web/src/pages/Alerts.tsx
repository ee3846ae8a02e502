import { Link } from '../components/Link.js';
import { useTitle } from '../hooks.js';
import { matchPath } from '../router.js';
import { FiringView } from './alerts/Firing.js';
import { HistoryView } from './alerts/History.js';
import { NotificationsView } from './alerts/Notifications.js';
import { RuleEdit } from './alerts/RuleEdit.js';
import { RulesView } from './alerts/Rules.js';
import { SilencesView } from './alerts/Silences.js';

/** The alerts pages: firing and pending alerts, rules (list, create, edit), silences, history, notifications (routing tree, receivers, test sends). */

const TABS = [
  { href: '/alerts', label: 'Firing & pending' },
  { href: '/alerts/rules', label: 'Rules' },
  { href: '/alerts/silences', label: 'Silences' },
  { href: '/alerts/history', label: 'History' },
  { href: '/alerts/notifications', label: 'Notifications' },
];

export default function AlertsPage({ path }: { path: string }) {
  useTitle('Alerts');
  const edit = matchPath('/alerts/rules/:id', path);
  const current = edit ? '/alerts/rules' : path.replace(/\/$/, '');
  let body;
  if (edit) body = <RuleEdit key={edit.id} id={edit.id === 'new' ? null : edit.id} />;
  else if (current === '/alerts/rules') body = <RulesView />;
  else if (current === '/alerts/silences') body = <SilencesView />;
  else if (current === '/alerts/history') body = <HistoryView />;
  else if (current === '/alerts/notifications') body = <NotificationsView />;
  else body = <FiringView />;
  return (
    <>
      <div class="page-head">
        <h1>Alerts</h1>
      </div>
      <nav class="tabs" aria-label="Alerts sections">
        {TABS.map((t) => (
          <Link key={t.href} href={t.href} aria-current={current === t.href ? 'page' : undefined}>
            {t.label}
          </Link>
        ))}
      </nav>
      {body}
    </>
  );
}
