import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { ServerInfo } from '../api-types.js';
import { getJson } from './api.js';
import { NotifyToggle } from './browser-notifications.js';
import { MessagesPage } from './messages.js';
import { NowPage } from './now-page.js';
import { RunPage } from './run-page.js';
import { RunsPage } from './runs-page.js';
import { UsagePage } from './usage-page.js';
import { WorkItemsPage } from './work-items-page.js';
import './styles.css';

type Route = { page: 'now' } | { page: 'runs' } | { page: 'run'; id: string; speed: 'instant' | 1 | 10 | null } | { page: 'work-items'; focus: string | null } | { page: 'usage' } | { page: 'messages' };

function parseRoute(hash: string): Route {
  const [path = '', search = ''] = hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean);
  if (parts[0] === 'runs' && parts[1]) {
    const replay = new URLSearchParams(search).get('replay');
    const speed = replay === '1' ? 1 : replay === '10' ? 10 : replay === 'instant' ? 'instant' : null;
    return { page: 'run', id: decodeURIComponent(parts[1]), speed };
  }
  if (parts[0] === 'runs') return { page: 'runs' };
  if (parts[0] === 'work-items') return { page: 'work-items', focus: new URLSearchParams(search).get('item') };
  if (parts[0] === 'usage') return { page: 'usage' };
  if (parts[0] === 'messages') return { page: 'messages' };
  return { page: 'now' };
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

const NAV: [Route['page'], string, string][] = [
  ['now', '#/now', 'Now'],
  ['runs', '#/runs', 'Runs'],
  ['work-items', '#/work-items', 'Work items'],
  ['usage', '#/usage', 'Usage'],
  ['messages', '#/messages', 'Messages'],
];

function App() {
  const route = useRoute();
  const [info, setInfo] = useState<ServerInfo | null>(null);
  const [infoError, setInfoError] = useState<string | null>(null);
  useEffect(() => {
    getJson<ServerInfo>('/api/info')
      .then(setInfo)
      .catch((error: unknown) => setInfoError(error instanceof Error ? error.message : String(error)));
  }, []);
  return (
    <div class="shell">
      <header class="top">
        <a class="brand" href="#/now">
          ◉ Orchestrator
        </a>
        <nav>
          {NAV.map(([page, href, label]) => (
            <a key={page} href={href} class={route.page === page || (route.page === 'run' && page === 'runs') ? 'active' : ''}>
              {label}
            </a>
          ))}
        </nav>
        <span class="spacer" />
        <NotifyToggle />
        {info && (
          <span class="muted small" title={`database ${info.database}`}>
            {info.repoRoot ?? ''} · {info.live ? <span class="live-badge">live</span> : <span title="no orchestrator in this process: showing the store">store only</span>}
          </span>
        )}
      </header>
      {infoError && <div class="error-box">{infoError}</div>}
      <main>
        {route.page === 'now' && <NowPage />}
        {route.page === 'runs' && <RunsPage />}
        {route.page === 'run' && <RunPage key={route.id} id={route.id} initialSpeed={route.speed} />}
        {route.page === 'work-items' && <WorkItemsPage focus={route.focus} />}
        {route.page === 'usage' && <UsagePage />}
        {route.page === 'messages' && <MessagesPage />}
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
