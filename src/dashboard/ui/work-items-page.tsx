import { useEffect, useState } from 'preact/hooks';
import type { DocumentResponse, RoadmapReadRecord, WorkItemDetailResponse, WorkItemsResponse, WorkItemView } from '../api-types.js';
import { getJson } from './api.js';
import { Card, Cost, ErrorBox, GridHead, StatusBadge, WaitInfo } from './components.js';
import { shortId, time, waitSummary } from './format.js';
import { useLiveResource, type Reduction } from './live.js';

const SHORT_AGENT: Record<string, string> = { architect: 'arch', 'code-developer': 'dev', 'code-reviewer': 'review', 'project-manager': 'pm', 'bug-fixer': 'fix' };

function History({ id }: { id: string }) {
  const { data, error } = useLiveResource<WorkItemDetailResponse>({
    key: `work-item:${id}`,
    load: () => getJson<WorkItemDetailResponse>(`/api/work-items/${encodeURIComponent(id)}`),
    reduce: (state, name, payload) => (name === 'work_item.transitioned' && (payload as { workItemId: string }).workItemId === id ? 'reload' : state),
  });
  if (error) return <ErrorBox error={error} />;
  if (!data) return <p class="muted">loading…</p>;
  return (
    <ol class="history" data-history={id}>
      {data.events.map((event) => (
        <li key={event.id}>
          <span class="muted">{time(event.at)}</span> <span class="mono">{event.kind}</span> {event.message}
          {event.kind === 'work_item.transitioned' && typeof event.data.to === 'string' && (
            <>
              {' '}
              → <StatusBadge status={event.data.to} />
            </>
          )}
        </li>
      ))}
    </ol>
  );
}

function Documents({ item }: { item: WorkItemView }) {
  const [shown, setShown] = useState<{ kind: string; document: DocumentResponse | null; error: string | null } | null>(null);
  const open = (kind: 'spec' | 'review') => {
    setShown({ kind, document: null, error: null });
    getJson<DocumentResponse>(`/api/work-items/${encodeURIComponent(item.id)}/documents/${kind}`)
      .then((document) => setShown({ kind, document, error: null }))
      .catch((error: unknown) => setShown({ kind, document: null, error: error instanceof Error ? error.message : String(error) }));
  };
  if (!item.specPath && !item.reviewPath) return null;
  return (
    <div class="documents">
      {item.specPath && (
        <button data-document="spec" class={shown?.kind === 'spec' ? 'on' : ''} onClick={() => open('spec')}>
          spec
        </button>
      )}{' '}
      {item.reviewPath && (
        <button data-document="review" class={shown?.kind === 'review' ? 'on' : ''} onClick={() => open('review')}>
          review
        </button>
      )}
      {shown && (
        <div class="document" data-shown-document={shown.kind}>
          {shown.error ? (
            <ErrorBox error={shown.error} />
          ) : shown.document ? (
            <>
              <div class="muted small mono">
                {shown.document.path} @ {shown.document.ref}
              </div>
              <pre>{shown.document.text}</pre>
            </>
          ) : (
            <p class="muted">loading…</p>
          )}
        </div>
      )}
    </div>
  );
}

function ItemRow({ item, open, focused, onToggle }: { item: WorkItemView; open: boolean; focused: boolean; onToggle: () => void }) {
  return (
    <>
      <tr data-work-item={item.id} class={`${open ? 'open' : ''}${focused ? ' focused' : ''}`}>
        <td>
          <button class="link" onClick={onToggle} aria-expanded={open}>
            {open ? '▾' : '▸'} {item.kind === 'bug' ? `BUG ${item.number}` : `PRIORITY ${item.number}`}
          </button>
        </td>
        <td class="truncate" title={item.title}>
          {item.title}
          {item.severity && <span class={`severity severity-${item.severity}`}>{item.severity}</span>}
          {item.note && (
            <div class="muted small" data-note={item.id} title="the roadmap's note after the status">
              {item.note}
            </div>
          )}
        </td>
        <td>
          <StatusBadge status={item.state} />
        </td>
        <td class="small" data-field="waiting">
          <WaitInfo item={item} />
        </td>
        <td class="runs-cell">
          {[...item.runs].reverse().map((run) => (
            <a key={run.id} href={`#/runs/${run.id}`} class={`run-chip status-${run.status}`} title={`${run.agent} ${shortId(run.id)}: ${run.status}`}>
              {SHORT_AGENT[run.agent] ?? run.agent}
            </a>
          ))}
        </td>
        <td class="mono small">{item.branch ?? '—'}</td>
        <td class="mono small">
          {item.specPath ? <div title="spec">{item.specPath}</div> : null}
          {item.reviewPath ? <div title="review">{item.reviewPath}</div> : null}
          {!item.specPath && !item.reviewPath ? '—' : null}
        </td>
        <td class="num">
          <Cost usd={item.costUsd} estimated={item.costEstimated} />
        </td>
        <td class="error-text small">{item.blockedReason ?? ''}</td>
      </tr>
      {open && (
        <tr class="detail-row">
          <td colSpan={9}>
            <Documents item={item} />
            <History id={item.id} />
          </td>
        </tr>
      )}
    </>
  );
}

/** The problems of the orchestrator's last roadmap read: each with file:line and the fix; none stops the others. */
function RoadmapProblems({ roadmap }: { roadmap: RoadmapReadRecord | null }) {
  if (!roadmap || roadmap.problems.length === 0) return null;
  return (
    <Card title={`Roadmap problems (${roadmap.problems.length})`}>
      <p class="muted small">
        {roadmap.path} on {roadmap.branch} at {roadmap.tipSha.slice(0, 7)}, read {time(roadmap.readAt)}: {roadmap.itemCount} item(s). Nothing here stops the other items; an item named as held back is not worked on until its line is fixed.
      </p>
      <ul class="roadmap-problems" data-roadmap-problems="">
        {roadmap.problems.map((problem) => (
          <li key={`${problem.line}:${problem.message}`} data-problem-line={problem.line} class={problem.severity === 'error' ? 'error-text' : ''}>
            <span class="mono">
              {problem.file}:{problem.line}
            </span>{' '}
            <strong>{problem.severity}</strong> {problem.message}
            <div class="muted small">fix: {problem.hint}</div>
          </li>
        ))}
      </ul>
    </Card>
  );
}

/** A wait that began, changed or ended is patched in place; anything else that changes the page reloads it. */
function reduceWorkItems(state: WorkItemsResponse, name: string, payload: unknown): Reduction<WorkItemsResponse> {
  if (name === 'work_item.waiting') {
    const event = payload as { workItemId: string; waitingFor: string | null; waitingDetail: string | null; waitingSince: string | null };
    const index = state.items.findIndex((item) => item.id === event.workItemId);
    if (index === -1) return 'reload';
    const items = [...state.items];
    items[index] = { ...items[index]!, waitingFor: event.waitingFor as WorkItemView['waitingFor'], waitingDetail: event.waitingDetail, waitingSince: event.waitingSince };
    return { ...state, items };
  }
  return name === 'work_item.transitioned' || name === 'run.started' || name === 'run.ended' || name === 'orchestrator.notice' ? 'reload' : state;
}

/** `focus`: an item to open and scroll to (`#/work-items?item=P-1`, where a notification's click leads). */
export function WorkItemsPage({ focus = null }: { focus?: string | null }) {
  const [open, setOpen] = useState<Set<string>>(() => new Set(focus === null ? [] : [focus]));
  const { data, error } = useLiveResource<WorkItemsResponse>({
    key: 'work-items',
    load: () => getJson<WorkItemsResponse>('/api/work-items'),
    reduce: reduceWorkItems,
  });
  const loaded = data !== null;
  useEffect(() => {
    if (focus === null) return;
    setOpen((current) => (current.has(focus) ? current : new Set([...current, focus])));
    if (loaded) document.querySelector(`tr[data-work-item="${CSS.escape(focus)}"]`)?.scrollIntoView({ block: 'center' });
  }, [focus, loaded]);
  const toggle = (id: string) =>
    setOpen((current) => {
      const next = new Set(current);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const counts = new Map<string, number>();
  for (const item of data?.items ?? []) counts.set(item.state, (counts.get(item.state) ?? 0) + 1);
  const waits = waitSummary(data?.items ?? []);
  return (
    <div class="page">
      <ErrorBox error={error} />
      <Card
        title="Work items"
        actions={
          <div class="state-counts">
            {waits && <span class="muted" data-field="wait-summary">waiting: {waits}</span>}
            {[...counts].map(([state, n]) => <span key={state}><StatusBadge status={state} /> {n}</span>)}
          </div>
        }
      >
        {data && data.items.length === 0 ? (
          <p class="muted">No work items yet: `orchestrator start` reads docs/roadmap/ROADMAP.md (`orchestrator plan` shows what it will take), and `orchestrator bug` files bugs.</p>
        ) : (
          <table class="grid" data-table="work-items">
            <GridHead columns={['item', 'title', 'state', 'waiting for', 'runs', 'branch', 'spec / review', 'cost', 'blocked reason']} numeric={['cost']} />
            <tbody>
              {(data?.items ?? []).map((item) => (
                <ItemRow key={item.id} item={item} open={open.has(item.id)} focused={item.id === focus} onToggle={() => toggle(item.id)} />
              ))}
            </tbody>
          </table>
        )}
      </Card>
      <RoadmapProblems roadmap={data?.roadmap ?? null} />
    </div>
  );
}
