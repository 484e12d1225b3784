import { useEffect, useState } from 'preact/hooks';
import type { StreamStatus } from './events.js';
import { seesAll, useSession } from './context.js';
import { useLocation } from './router.js';
import { Link } from './components/link.js';
import type { Theme } from './theme.js';
import { applyTheme, savedTheme } from './theme.js';
import { Overview } from './pages/overview.js';
import { Jobs } from './pages/jobs.js';
import { JobDetail } from './pages/job-detail.js';
import { Workflows } from './pages/workflows.js';
import { WorkflowDetail } from './pages/workflow-detail.js';
import { Agents } from './pages/agents.js';
import { Scaling } from './pages/scaling.js';
import { Users } from './pages/users.js';

interface Page {
  path: string;
  label: string;
  /** Shown to admins and viewers only (the API refuses users anyway). */
  fleetWide?: boolean;
}

const PAGES: Page[] = [
  { path: '/', label: 'Overview' },
  { path: '/jobs', label: 'Jobs' },
  { path: '/workflows', label: 'Workflows' },
  { path: '/agents', label: 'Agents' },
  { path: '/scaling', label: 'Scaling' },
  { path: '/users', label: 'Users', fleetWide: true },
];

function route(path: string) {
  const job = /^\/jobs\/([^/]+)$/.exec(path);
  if (job?.[1]) return <JobDetail id={decodeURIComponent(job[1])} />;
  const workflow = /^\/workflows\/([^/]+)$/.exec(path);
  if (workflow?.[1]) return <WorkflowDetail id={decodeURIComponent(workflow[1])} />;
  switch (path) {
    case '/':
      return <Overview />;
    case '/jobs':
      return <Jobs />;
    case '/workflows':
      return <Workflows />;
    case '/agents':
      return <Agents />;
    case '/scaling':
      return <Scaling />;
    case '/users':
      return <Users />;
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>
            No page at <code>{path}</code>. <Link href="/">Go to the overview</Link>.
          </p>
        </section>
      );
  }
}

const STATUS_WORDS: Record<StreamStatus, string> = {
  connecting: 'connecting…',
  live: 'live',
  offline: 'offline, reconnecting',
  refused: 'live updates refused',
};

export function Shell() {
  const { me, stream, signOut } = useSession();
  const { path } = useLocation();
  const [status, setStatus] = useState<StreamStatus>(stream.status);
  const [theme, setTheme] = useState<Theme>(savedTheme);
  useEffect(() => stream.onStatus(setStatus), [stream]);
  const section = '/' + (path.split('/')[1] ?? '');

  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand" aria-label="Baton">
          ◆ Baton
        </span>
        <nav aria-label="Pages">
          {PAGES.filter((p) => !p.fleetWide || seesAll(me)).map((p) => (
            <Link key={p.path} href={p.path} aria-current={section === p.path ? 'page' : undefined}>
              {p.label}
            </Link>
          ))}
        </nav>
        <span class={`stream ${status}`} role="status" aria-live="polite" title="Live updates from /api/events">
          ● {STATUS_WORDS[status]}
        </span>
        <label class="theme">
          <span class="sr-only">Theme</span>
          <select
            value={theme}
            onChange={(e) => {
              const t = e.currentTarget.value as Theme;
              applyTheme(t);
              setTheme(t);
            }}
          >
            <option value="system">System theme</option>
            <option value="light">Light</option>
            <option value="dark">Dark</option>
          </select>
        </label>
        <span class="who" title={`role: ${me.role}`}>
          {me.name} <span class="role">{me.role}</span>
        </span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {route(path)}
      </main>
    </div>
  );
}
