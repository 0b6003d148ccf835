import { useState } from 'preact/hooks';
import type { RunListResponse } from '../api-types.js';
import { getJson, query } from './api.js';
import { AgentBadge, Card, ErrorBox, RunLink, StatusBadge } from './components.js';
import { duration, money, time, tokens } from './format.js';
import { useLiveResource } from './live.js';

export const AGENTS = ['architect', 'code-developer', 'code-reviewer', 'project-manager', 'bug-fixer'];
export const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'timed_out', 'stopped', 'orphaned'];

export function RunsPage() {
  const [status, setStatus] = useState('');
  const [agent, setAgent] = useState('');
  const [more, setMore] = useState<RunListResponse | null>(null);
  const filters = { status, agent };
  const { data, error } = useLiveResource<RunListResponse>({
    key: `runs:${status}:${agent}`,
    load: () => {
      setMore(null);
      return getJson<RunListResponse>(`/api/runs${query({ ...filters, limit: 50 })}`);
    },
    reduce: (state, name) => (name === 'run.queued' || name === 'run.ended' || name === 'run.started' ? 'reload' : state),
  });
  const runs = [...(data?.runs ?? []), ...(more?.runs ?? [])];
  const nextBefore = more ? more.nextBefore : (data?.nextBefore ?? null);
  const loadMore = () => {
    if (nextBefore === null) return;
    void getJson<RunListResponse>(`/api/runs${query({ ...filters, limit: 50, before: nextBefore })}`).then((page) =>
      setMore((previous) => ({ runs: [...(previous?.runs ?? []), ...page.runs], total: page.total, nextBefore: page.nextBefore })),
    );
  };
  return (
    <div class="page">
      <ErrorBox error={error} />
      <Card
        title={`Runs${data ? ` (${data.total.toLocaleString('en-US')})` : ''}`}
        actions={
          <div class="filters">
            <select value={status} onChange={(event) => setStatus((event.target as HTMLSelectElement).value)} aria-label="status">
              <option value="">any status</option>
              {STATUSES.map((value) => (
                <option key={value} value={value}>
                  {value}
                </option>
              ))}
            </select>
            <select value={agent} onChange={(event) => setAgent((event.target as HTMLSelectElement).value)} aria-label="agent">
              <option value="">any agent</option>
              {AGENTS.map((value) => (
                <option key={value} value={value}>
                  {value}
                </option>
              ))}
            </select>
          </div>
        }
      >
        <table class="grid" data-table="runs">
          <thead>
            <tr>
              <th>run</th>
              <th>agent</th>
              <th>work item / task</th>
              <th>status</th>
              <th>created</th>
              <th class="num">duration</th>
              <th class="num">turns</th>
              <th class="num">tokens in/out</th>
              <th class="num">cost</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((run) => (
              <tr key={run.id} data-run-id={run.id}>
                <td>
                  <RunLink run={run} />
                </td>
                <td>
                  <AgentBadge agent={run.agent} />
                </td>
                <td class="truncate">{run.workItemTitle ?? run.taskKind}</td>
                <td>
                  <StatusBadge status={run.status} />
                </td>
                <td>{time(run.createdAt)}</td>
                <td class="num">{duration(run.durationMs)}</td>
                <td class="num">{run.numTurns}</td>
                <td class="num">
                  {tokens(run.inputTokens + run.cacheCreationInputTokens + run.cacheReadInputTokens)} / {tokens(run.outputTokens)}
                </td>
                <td class="num">{money(run.costUsd)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {nextBefore !== null && (
          <button class="more" onClick={loadMore}>
            Load more
          </button>
        )}
      </Card>
    </div>
  );
}
