import { useMemo, useState } from 'preact/hooks';
import uPlot from 'uplot';
import type { UsageResponse } from '../api-types.js';
import { getJson, query } from './api.js';
import { Chart } from './chart.js';
import { AgentBadge, Card, Choice, Cost, ErrorBox, GridHead, RunCells } from './components.js';
import { duration, tokens } from './format.js';
import { useLiveResource } from './live.js';
import { AGENTS, STATUSES } from './runs-page.js';

const RANGES: Record<string, number | null> = { '24h': 1, '7d': 7, '30d': 30, all: null };

function bars(): uPlot.Series.PathBuilder | undefined {
  return uPlot.paths.bars?.({ size: [0.6, 48] });
}

export function UsagePage() {
  const [range, setRange] = useState('30d');
  const [agent, setAgent] = useState('');
  const [status, setStatus] = useState('');
  const days = RANGES[range] ?? null;
  const sinceIso = days === null ? undefined : new Date(Date.now() - days * 86_400_000).toISOString();
  const { data, error } = useLiveResource<UsageResponse>({
    key: `usage:${range}:${agent}:${status}`,
    load: () => getJson<UsageResponse>(`/api/usage${query({ since: sinceIso, agent, status })}`),
    reduce: (state, name) => (name === 'run.ended' || name === 'run.started' ? 'reload' : state),
  });

  const perDay = useMemo(() => {
    if (!data) return null;
    const x = data.byDay.map((row) => Date.parse(`${row.key}T00:00:00Z`) / 1000);
    // One day of data still gets a readable axis: a day either side of the days shown.
    const xMin = x[0] ?? 0;
    const xMax = x.at(-1) ?? 0;
    const cost = data.byDay.map((row) => row.costUsd);
    const tokenCounts = data.byDay.map((row) => row.inputTokens + row.outputTokens + row.cacheCreationInputTokens + row.cacheReadInputTokens);
    const options: Omit<uPlot.Options, 'width'> = {
      height: 220,
      series: [
        {},
        { label: 'cost (USD)', stroke: '#2563eb', fill: 'rgba(37,99,235,0.35)', paths: bars(), scale: 'usd', value: (_u, v) => (v === null ? '—' : `$${v.toFixed(4)}`) },
        { label: 'tokens', stroke: '#f59e0b', width: 2, scale: 'tokens', points: { size: 6 }, value: (_u, v) => (v === null ? '—' : tokens(v)) },
      ],
      axes: [{}, { scale: 'usd', values: (_u, ticks) => ticks.map((v) => `$${v.toFixed(2)}`), size: 60 }, { scale: 'tokens', side: 1, grid: { show: false }, values: (_u, ticks) => ticks.map((v) => tokens(v)), size: 60 }],
      scales: { x: { time: true, auto: false, range: [xMin - 86_400, xMax + 86_400] }, usd: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] }, tokens: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] } },
    };
    return { options, data: [x, cost, tokenCounts] as uPlot.AlignedData };
  }, [data]);

  const perAgent = useMemo(() => {
    if (!data) return null;
    const names = data.byAgent.map((row) => row.key);
    const options: Omit<uPlot.Options, 'width'> = {
      height: 220,
      series: [{}, { label: 'cost (USD)', stroke: '#7c3aed', fill: 'rgba(124,58,237,0.4)', paths: bars(), value: (_u, v) => (v === null ? '—' : `$${v.toFixed(4)}`) }],
      axes: [{ values: (_u, ticks) => ticks.map((v) => names[v] ?? ''), space: 30 }, { values: (_u, ticks) => ticks.map((v) => `$${v.toFixed(2)}`), size: 60 }],
      scales: { x: { time: false, range: [-0.5, Math.max(names.length - 0.5, 0.5)] }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] } },
    };
    return { options, data: [names.map((_, index) => index), data.byAgent.map((row) => row.costUsd)] as uPlot.AlignedData };
  }, [data]);

  // Velocity counts the days since the first run in range (a new project is not slow because the range is 30 days).
  const firstDay = data && data.byDay.length > 0 ? Date.parse(`${data.byDay[0]!.key}T00:00:00Z`) : Date.now();
  const spanDays = Math.max(1, Math.min(days ?? Number.POSITIVE_INFINITY, Math.ceil((Date.now() - firstDay) / 86_400_000)));
  const totals = data?.totals;
  return (
    <div class="page">
      <ErrorBox error={error} />
      {data === null && !error && <p class="muted">loading…</p>}
      <div class="filters bar" role="group" aria-label="filters">
        {Object.keys(RANGES).map((name) => (
          <button key={name} class={range === name ? 'on' : ''} onClick={() => setRange(name)}>
            {name}
          </button>
        ))}
        <Choice label="agent" value={agent} options={AGENTS} anyLabel="all agents" onChange={setAgent} />
        <Choice label="status" value={status} options={STATUSES} anyLabel="all statuses" onChange={setStatus} />
      </div>
      {totals && (
        <div class="stats" data-field="totals">
          <div class="stat">
            <div class="stat-value" data-field="total-cost">
              <Cost usd={totals.costUsd} estimated={totals.costEstimated} digits={2} />
            </div>
            <div class="stat-label">cost</div>
          </div>
          <div class="stat">
            <div class="stat-value">{tokens(totals.inputTokens + totals.cacheCreationInputTokens + totals.cacheReadInputTokens)}</div>
            <div class="stat-label">input tokens (incl. cache)</div>
          </div>
          <div class="stat">
            <div class="stat-value">{tokens(totals.outputTokens)}</div>
            <div class="stat-label">output tokens</div>
          </div>
          <div class="stat">
            <div class="stat-value" data-field="total-runs">{totals.runs}</div>
            <div class="stat-label">runs</div>
          </div>
          <div class="stat">
            <div class="stat-value">{totals.runs > 0 ? `${Math.round((100 * totals.succeeded) / totals.runs)}%` : '—'}</div>
            <div class="stat-label">success rate</div>
          </div>
        </div>
      )}
      <div class="two-columns">
        <Card title="Cost and tokens per day">{perDay && perDay.data[0].length > 0 ? <Chart label="usage-per-day" options={perDay.options} data={perDay.data} /> : <p class="muted">No runs in this range.</p>}</Card>
        <Card title="Cost per agent">{perAgent && perAgent.data[0].length > 0 ? <Chart label="cost-per-agent" options={perAgent.options} data={perAgent.data} /> : <p class="muted">No runs in this range.</p>}</Card>
      </div>
      <Card title="Per agent type">
        <table class="grid" data-table="agents">
          <GridHead
            columns={['agent', 'runs', 'succeeded', 'failed', 'success rate', 'velocity', 'mean session', 'tokens in/out', 'cost']}
            numeric={['runs', 'succeeded', 'failed', 'success rate', 'velocity', 'mean session', 'tokens in/out', 'cost']}
          />
          <tbody>
            {(data?.byAgent ?? []).map((row) => (
              <tr key={row.key} data-agent={row.key}>
                <td>
                  <AgentBadge agent={row.key} />
                </td>
                <td class="num">{row.runs}</td>
                <td class="num">{row.succeeded}</td>
                <td class="num">{row.failed}</td>
                <td class="num">{row.runs > 0 ? `${Math.round((100 * row.succeeded) / row.runs)}%` : '—'}</td>
                <td class="num" title="succeeded runs per day since the first run in the range">{(row.succeeded / spanDays).toFixed(1)}/day</td>
                <td class="num">{duration(row.runs > 0 ? row.totalDurationMs / row.runs : null)}</td>
                <td class="num">
                  {tokens(row.inputTokens + row.cacheCreationInputTokens + row.cacheReadInputTokens)} / {tokens(row.outputTokens)}
                </td>
                <td class="num">
                  <Cost usd={row.costUsd} estimated={row.costEstimated} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
      <Card title="Slowest runs (bottlenecks)">
        <table class="grid" data-table="slowest">
          <GridHead columns={['run', 'agent', 'work item / task', 'status', 'session time', 'turns', 'cost']} numeric={['session time', 'turns', 'cost']} />
          <tbody>
            {(data?.slowest ?? []).map((run) => (
              <tr key={run.id}>
                <RunCells run={run} />
                <td class="num">{duration(run.durationMs)}</td>
                <td class="num">{run.numTurns}</td>
                <td class="num">
                  <Cost usd={run.costUsd} estimated={run.costEstimated} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
    </div>
  );
}
