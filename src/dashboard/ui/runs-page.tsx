import { useState } from 'preact/hooks';
import type { RunListResponse } from '../api-types.js';
import { getJson, query } from './api.js';
import { Card, Choice, Cost, ErrorBox, GridHead, RunCells } from './components.js';
import { duration, time, tokens } from './format.js';
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
            <Choice label="status" value={status} options={STATUSES} anyLabel="any status" onChange={setStatus} />
            <Choice label="agent" value={agent} options={AGENTS} anyLabel="any agent" onChange={setAgent} />
          </div>
        }
      >
        <table class="grid" data-table="runs">
          <GridHead columns={['run', 'agent', 'work item / task', 'status', 'created', 'duration', 'turns', 'tokens in/out', 'cost']} numeric={['duration', 'turns', 'tokens in/out', 'cost']} />
          <tbody>
            {runs.map((run) => (
              <tr key={run.id} data-run-id={run.id}>
                <RunCells run={run} />
                <td>{time(run.createdAt)}</td>
                <td class="num">{duration(run.durationMs)}</td>
                <td class="num">{run.numTurns}</td>
                <td class="num">
                  {tokens(run.inputTokens + run.cacheCreationInputTokens + run.cacheReadInputTokens)} / {tokens(run.outputTokens)}
                </td>
                <td class="num">
                  <Cost usd={run.costUsd} estimated={run.costEstimated} />
                </td>
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
