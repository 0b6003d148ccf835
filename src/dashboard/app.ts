import { Hono } from 'hono';
import type { RunId } from '../events/index.js';
import { RUN_PROGRESS_EVENT, isTerminalRunStatus } from '../events/index.js';
import { mayContainSecret, redactValue } from '../lib/redact.js';
import { nowIso } from '../lib/time.js';
import { LISTED_WORKER_STATES, messageTextProblem, summarizeRun, viewWorkers, type InvocationRecord, type RunRecord, type RunSummary, type Store, type UsageRow, type WorkItemRecord } from '../store/index.js';
import type {
  AgentMessagesResponse,
  AnswerResponse,
  PostMessageResponse,
  ApiErrorBody,
  DocumentResponse,
  MessagesResponse,
  NowResponse,
  RunDetailResponse,
  RunProgress,
  RunListResponse,
  RunView,
  ServerInfo,
  StopResponse,
  UsageResponse,
  WorkItemDetailResponse,
  WaitingItem,
  WorkItemView,
  WorkItemsResponse,
  WorkerJobView,
  WorkerPanelView,
  WorkersResponse,
} from './api-types.js';
import type { EventLog } from './event-log.js';
import type { LiveRuns } from './live-runs.js';
import { BadRequest, parseAgent, parseFlag, parseId, parseLimit, parseOptionalId, parseRunId, parseSeq, parseStatuses, parseTime } from './query-params.js';
import { hostNameOf, isLoopbackAddress, presentedToken, tokenMatches } from './request-guards.js';
import { eventStreamResponse } from './sse.js';
import { serveStatic } from './static-files.js';

/** What the dashboard may do to runs; given by the process that hosts it (the dashboard never signals processes itself). */
export interface DashboardControls {
  /** Starts stopping a run (interrupt, then the process group after the grace period); resolves once the stop is under way. */
  stopRun(run: RunRecord): Promise<'stopping' | 'already_ended' | 'other_host'>;
}

/** Reads a work item's spec or review as committed in the repository (the dashboard has no git of its own). */
export interface DocumentReader {
  read(item: WorkItemRecord, kind: 'spec' | 'review'): Promise<{ path: string; ref: string; text: string } | null>;
}

export interface DashboardAppOptions {
  store: Store;
  /** Present when the dashboard runs inside a process with an event bus (the orchestrator, a demo). */
  events: { log: EventLog; liveRuns: LiveRuns } | null;
  controls: DashboardControls | null;
  documents?: DocumentReader | null;
  info: Omit<ServerInfo, 'live' | 'canStop' | 'startedAt'>;
  /** When set, every /api request must present it. Required when bound to a non-loopback address. */
  token: string | null;
  /** The address the server is bound to: a loopback bind answers only to loopback Host headers (DNS rebinding). */
  boundHost: string;
  /** Built web UI (index.html + assets); null serves the API alone. */
  staticDir: string | null;
  /** The workers' lease (config workers.leaseSeconds): a live worker silent for longer is flagged late. */
  workerLeaseSeconds?: number;
  onError?: (error: unknown) => void;
}

/** The default of workers.leaseSeconds, for a dashboard that is not told. */
export const DEFAULT_WORKER_LEASE_SECONDS = 30;

const MAX_URL_LENGTH = 8_192;

/** Sends JSON through the redaction layer (stored data is redacted when recorded; this is the second guard). */
function send<T>(body: T, status: 200 | 202 | 400 | 401 | 403 | 404 | 409 | 414 | 421 | 500 = 200): Response {
  const text = JSON.stringify(body);
  const safe = mayContainSecret(text) ? JSON.stringify(redactValue(JSON.parse(text) as unknown)) : text;
  return new Response(safe, {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' },
  });
}

function errorBody(code: string, message: string, hint?: string): ApiErrorBody {
  return { error: { code, message, ...(hint === undefined ? {} : { hint }) } };
}

function totalsOf(rows: readonly UsageRow[]): UsageRow {
  const total: UsageRow = { key: 'total', runs: 0, succeeded: 0, failed: 0, inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0, costUsd: 0, costEstimated: false, totalDurationMs: 0 };
  for (const row of rows) {
    total.runs += row.runs;
    total.succeeded += row.succeeded;
    total.failed += row.failed;
    total.inputTokens += row.inputTokens;
    total.outputTokens += row.outputTokens;
    total.cacheCreationInputTokens += row.cacheCreationInputTokens;
    total.cacheReadInputTokens += row.cacheReadInputTokens;
    total.costUsd += row.costUsd;
    total.costEstimated ||= row.costEstimated;
    total.totalDurationMs += row.totalDurationMs;
  }
  return total;
}

/** The largest JSON body a message or an answer may come in (the text itself is limited by messageTextProblem). */
const MAX_BODY_BYTES = 64 * 1024;

/** The `text` of a JSON body `{ "text": "…" }`, checked (a BadRequest names what is wrong). */
async function textOfBody(request: Request): Promise<string> {
  if (!(request.headers.get('content-type') ?? '').includes('application/json')) throw new BadRequest('send the text as JSON: {"text": "…"} with Content-Type: application/json');
  const raw = await request.text();
  if (raw.length > MAX_BODY_BYTES) throw new BadRequest(`the request body is larger than ${MAX_BODY_BYTES} bytes`);
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new BadRequest('the request body is not JSON: send {"text": "…"}');
  }
  const text = typeof body === 'object' && body !== null ? (body as { text?: unknown }).text : undefined;
  if (typeof text !== 'string') throw new BadRequest('the request body has no "text" string: send {"text": "…"}');
  const problem = messageTextProblem(text);
  if (problem) throw new BadRequest(problem.message);
  return text;
}

/**
 * The dashboard's HTTP surface: a JSON API over the store, the live event stream, the stop action and the
 * built web UI. Every input is validated (a bad id is a 400, never a crash); every response goes through the
 * secret redaction; a token, when configured, guards every API and event-stream request.
 */
export function createDashboardApp(options: DashboardAppOptions): Hono {
  const { store, events, controls, token } = options;
  const startedAt = new Date().toISOString();
  const loopbackOnly = isLoopbackAddress(options.boundHost);
  const app = new Hono();

  app.onError((error) => {
    if (error instanceof BadRequest) return send(errorBody(error.code, error.message), 400);
    options.onError?.(error);
    return send(errorBody('ORCH_INTERNAL', 'the dashboard failed to answer this request; the orchestrator log has the details'), 500);
  });
  app.notFound((c) => (c.req.path.startsWith('/api/') ? send(errorBody('ORCH_NOT_FOUND', `no such endpoint: ${c.req.method} ${c.req.path.slice(0, 200)}`), 404) : c.text('not found', 404)));

  app.use('*', async (c, next) => {
    if (c.req.url.length > MAX_URL_LENGTH) return send(errorBody('ORCH_URL_TOO_LONG', `the request URL is longer than ${MAX_URL_LENGTH} characters`), 414);
    const host = c.req.header('host');
    if (loopbackOnly && (!host || !isLoopbackAddress(hostNameOf(host)))) {
      return send(errorBody('ORCH_BAD_HOST', 'this dashboard answers only to 127.0.0.1 or localhost', 'open it by the address it printed'), 421);
    }
    await next();
  });

  app.use('/api/*', async (c, next) => {
    if (token !== null && !tokenMatches(presentedToken(c.req.header('authorization'), c.req.query('token')), token)) {
      return send(errorBody('ORCH_UNAUTHORIZED', 'this dashboard needs its access token', 'open the URL the orchestrator printed (it carries ?token=…), or send Authorization: Bearer <token>'), 401);
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      // A cross-site page can send a simple POST; it cannot send this header without a CORS preflight we never grant.
      if (c.req.header('x-orchestrator-request') !== '1') return send(errorBody('ORCH_FORBIDDEN', 'state-changing requests need the header X-Orchestrator-Request: 1'), 403);
      const origin = c.req.header('origin');
      const host = c.req.header('host');
      if (origin && host && origin !== `http://${host}` && origin !== `https://${host}`) return send(errorBody('ORCH_FORBIDDEN', 'cross-origin requests are refused'), 403);
    }
    await next();
  });

  const workItemTitles = async (): Promise<Map<string, WorkItemRecord>> => new Map((await store.listWorkItems()).map((item) => [item.id, item]));
  const view = (run: RunSummary, items: Map<string, WorkItemRecord>): RunView => ({
    ...run,
    live: isTerminalRunStatus(run.status) ? null : (events?.liveRuns.get(run.id) ?? null),
    workItemTitle: run.workItemId ? (items.get(run.workItemId)?.title ?? null) : null,
    progress: null,
  });
  /** A run's latest progress report, from the audit trail (so a dashboard started later, or in another process, shows it). */
  const latestProgress = async (runId: RunId): Promise<RunProgress | null> => {
    const reports = (await store.listEvents({ runId, limit: 100_000 })).filter((event) => event.kind === RUN_PROGRESS_EVENT);
    const latest = reports.at(-1);
    if (!latest) return null;
    return { status: typeof latest.data.status === 'string' ? latest.data.status : latest.message, percent: typeof latest.data.percent === 'number' ? latest.data.percent : null, at: latest.at };
  };

  app.get('/api/info', () => send<ServerInfo>({ ...options.info, live: events !== null, canStop: controls !== null, startedAt }));

  app.get('/api/now', async () => {
    const items = await workItemTitles();
    const active = await store.listRuns({ statuses: ['queued', 'running'], limit: 200 });
    const recent = (await store.listRuns({ limit: 25 })).filter((run) => isTerminalRunStatus(run.status)).slice(0, 15);
    const waiting = [...items.values()]
      .filter((item) => item.waitingFor !== null)
      .map(({ id, kind, number, title, state, waitingFor, waitingDetail, waitingSince }): WaitingItem => ({ id, kind, number, title, state, waitingFor, waitingDetail, waitingSince }));
    const questions = await store.listQuestions({ state: 'open' });
    const progress = await Promise.all(active.map((run) => latestProgress(run.id)));
    return send<NowResponse>({ runs: active.map((run, index) => ({ ...view(run, items), progress: progress[index] ?? null })), recent: recent.map((run) => view(run, items)), waiting, questions });
  });

  app.get('/api/workers', async (c) => {
    const all = parseFlag(c.req.query('all'), 'all');
    const leaseSeconds = options.workerLeaseSeconds ?? DEFAULT_WORKER_LEASE_SECONDS;
    const [workers, now] = await Promise.all([store.listWorkers(all ? {} : { states: LISTED_WORKER_STATES }), store.databaseNow()]);
    const runIds = new Set(workers.flatMap((worker) => worker.jobs.map((job) => job.runId)).filter((id): id is RunId => id !== null));
    const agents = new Map<string, string>();
    let items = new Map<string, WorkItemRecord>();
    if (runIds.size > 0) {
      // The jobs' runs are mostly the active ones (one query); a lost worker's orphaned runs are read one by one.
      const [active, titles] = await Promise.all([store.listRuns({ statuses: ['queued', 'running'], limit: 500 }), workItemTitles()]);
      items = titles;
      for (const run of active) if (runIds.has(run.id)) agents.set(run.id, run.agent);
      const others = await Promise.all([...runIds].filter((id) => !agents.has(id)).map((id) => store.getRun(id)));
      for (const run of others) if (run) agents.set(run.id, run.agent);
    }
    const panel = viewWorkers(workers, now, leaseSeconds).map(
      (worker): WorkerPanelView => ({
        ...worker,
        jobs: worker.jobs.map((job): WorkerJobView => ({ ...job, agent: job.runId ? (agents.get(job.runId) ?? null) : null, workItemTitle: job.workItemId ? (items.get(job.workItemId)?.title ?? null) : null })),
        running: worker.jobs.length,
        lost: worker.flag === 'lost',
        late: worker.flag === 'late',
      }),
    );
    return send<WorkersResponse>({ now, leaseSeconds, workers: panel });
  });

  app.get('/api/runs', async (c) => {
    const limit = parseLimit(c.req.query('limit'), 50, 500);
    const filter = {
      statuses: parseStatuses(c.req.query('status')),
      agent: parseAgent(c.req.query('agent')),
      workItemId: parseOptionalId(c.req.query('workItem'), 'work item') as WorkItemRecord['id'] | undefined,
      since: parseTime(c.req.query('since'), 'since'),
      until: parseTime(c.req.query('until'), 'until'),
    };
    const before = parseOptionalId(c.req.query('before'), 'run') as RunId | undefined;
    const [runs, total, items] = await Promise.all([
      store.listRuns({ ...filter, ...(before ? { beforeId: before } : {}), limit }),
      store.countRuns(filter),
      workItemTitles(),
    ]);
    return send<RunListResponse>({ runs: runs.map((run) => view(run, items)), total, nextBefore: runs.length === limit ? (runs.at(-1)?.id ?? null) : null });
  });

  app.get('/api/runs/:id', async (c) => {
    const run = await store.getRun(parseRunId(c.req.param('id')));
    if (!run) return send(errorBody('ORCH_RUN_NOT_FOUND', `no run ${c.req.param('id')}`), 404);
    const [invocations, auditEvents, workItem, agentMessages, questions] = await Promise.all([
      store.listInvocations(run.id),
      store.listEvents({ runId: run.id, limit: 1000 }),
      run.workItemId ? store.getWorkItem(run.workItemId) : Promise.resolve(null),
      store.listAgentMessages({ runId: run.id, limit: 500 }),
      store.listQuestions({ runId: run.id }),
    ]);
    const items = new Map(workItem ? [[workItem.id, workItem]] : []);
    return send<RunDetailResponse>({ run: view(summarizeRun(run, invocations), items), invocations, events: auditEvents, workItem, agentMessages, questions });
  });

  app.get('/api/runs/:id/messages', async (c) => {
    const runId = parseRunId(c.req.param('id'));
    const limit = parseLimit(c.req.query('limit'), 1000, 5000);
    const invocation = parseOptionalId(c.req.query('invocation'), 'invocation');
    const after = parseSeq(c.req.query('after'));
    const run = await store.getRun(runId);
    if (!run) return send(errorBody('ORCH_RUN_NOT_FOUND', `no run ${runId}`), 404);
    if (invocation === undefined) {
      const messages = await store.listMessages({ runId, limit });
      return send<MessagesResponse>({ messages, more: messages.length === limit });
    }
    const messages = (await store.listMessages({ invocationId: invocation as InvocationRecord['id'], afterSeq: after, limit })).filter((message) => message.runId === runId);
    return send<MessagesResponse>({ messages, more: messages.length === limit });
  });

  app.post('/api/runs/:id/stop', async (c) => {
    if (!controls) return send(errorBody('ORCH_READ_ONLY', 'this dashboard cannot stop runs', 'use `orchestrator stop <run>`'), 409);
    const run = await store.getRun(parseRunId(c.req.param('id')));
    if (!run) return send(errorBody('ORCH_RUN_NOT_FOUND', `no run ${c.req.param('id')}`), 404);
    const outcome = await controls.stopRun(run);
    const current = (await store.getRun(run.id)) ?? run;
    const invocations = await store.listInvocations(run.id);
    return send<StopResponse>({ outcome, run: view(summarizeRun(current, invocations), new Map()) }, outcome === 'stopping' ? 202 : 200);
  });

  // A person's message into a running session: stored, and delivered by the process that runs the session (this one
  // or a worker) at the session's next turn boundary. The request guards above (token, X-Orchestrator-Request, same
  // origin) apply, as to every POST.
  app.post('/api/runs/:id/messages', async (c) => {
    const run = await store.getRun(parseRunId(c.req.param('id')));
    if (!run) return send(errorBody('ORCH_RUN_NOT_FOUND', `no run ${c.req.param('id')}`), 404);
    const text = await textOfBody(c.req.raw);
    if (isTerminalRunStatus(run.status)) return send(errorBody('ORCH_RUN_ENDED', `run ${run.id} has ended (${run.status}): a message to it would never be read`), 409);
    const message = await store.addAgentMessage({ at: nowIso(), sender: { kind: 'human', label: 'dashboard' }, recipient: { kind: 'run', runId: run.id }, workItemId: run.workItemId, body: text });
    return send<PostMessageResponse>({ message }, 202);
  });

  app.post('/api/questions/:id/answer', async (c) => {
    const id = Number(c.req.param('id'));
    if (!Number.isSafeInteger(id) || id < 1) throw new BadRequest(`not a question id: ${JSON.stringify(c.req.param('id').slice(0, 40))}`);
    const question = await store.getQuestion(id);
    if (!question) return send(errorBody('ORCH_QUESTION_NOT_FOUND', `no question ${id}`), 404);
    const text = await textOfBody(c.req.raw);
    if (!(await store.answerQuestion(id, { answer: text, answeredBy: 'dashboard', at: nowIso() }))) {
      const current = (await store.getQuestion(id)) ?? question;
      return send(errorBody('ORCH_QUESTION_NOT_OPEN', `question ${id} was already ${current.state}${current.answeredBy ? ` by ${current.answeredBy}` : ''}`, 'the first answer is the one the agent got'), 409);
    }
    return send<AnswerResponse>({ question: (await store.getQuestion(id)) ?? question });
  });

  app.get('/api/agent-messages', async (c) => {
    const runId = parseOptionalId(c.req.query('run'), 'run') as RunId | undefined;
    const workItemId = parseOptionalId(c.req.query('workItem'), 'work item') as WorkItemRecord['id'] | undefined;
    const limit = parseLimit(c.req.query('limit'), 200, 2000);
    const [messages, openQuestions] = await Promise.all([
      store.listAgentMessages({ ...(runId ? { runId } : {}), ...(workItemId ? { workItemId } : {}), limit }),
      store.listQuestions({ state: 'open', ...(runId ? { runId } : {}), ...(workItemId ? { workItemId } : {}) }),
    ]);
    return send<AgentMessagesResponse>({ messages, openQuestions });
  });

  app.get('/api/work-items', async () => {
    const items = await store.listWorkItems();
    const byId = new Map(items.map((item) => [item.id as string, item]));
    const views: WorkItemView[] = [];
    for (const item of items) {
      const runs = (await store.listRuns({ workItemId: item.id, limit: 200 })).map((run) => view(run, byId));
      views.push({ ...item, runs, costUsd: runs.reduce((sum, run) => sum + run.costUsd, 0), costEstimated: runs.some((run) => run.costEstimated) });
    }
    return send<WorkItemsResponse>({ items: views, roadmap: await store.latestRoadmapRead() });
  });

  app.get('/api/work-items/:id', async (c) => {
    const item = await store.getWorkItem(parseId(c.req.param('id'), 'work item') as WorkItemRecord['id']);
    if (!item) return send(errorBody('ORCH_NOT_FOUND', `no work item ${c.req.param('id')}`), 404);
    const byId = new Map([[item.id, item]]);
    const runs = (await store.listRuns({ workItemId: item.id, limit: 500 })).map((run) => view(run, byId));
    const auditEvents = await store.listEvents({ workItemId: item.id, limit: 2000 });
    return send<WorkItemDetailResponse>({ item: { ...item, runs, costUsd: runs.reduce((sum, run) => sum + run.costUsd, 0), costEstimated: runs.some((run) => run.costEstimated) }, events: auditEvents });
  });

  app.get('/api/work-items/:id/documents/:kind', async (c) => {
    const kind = c.req.param('kind');
    if (kind !== 'spec' && kind !== 'review') throw new BadRequest(`a work item's documents are spec and review, not ${JSON.stringify(kind.slice(0, 40))}`);
    const item = await store.getWorkItem(parseId(c.req.param('id'), 'work item') as WorkItemRecord['id']);
    if (!item) return send(errorBody('ORCH_NOT_FOUND', `no work item ${c.req.param('id')}`), 404);
    const document = options.documents ? await options.documents.read(item, kind) : null;
    if (!document) return send(errorBody('ORCH_NOT_FOUND', `work item ${item.id} has no ${kind} committed yet`), 404);
    return send<DocumentResponse>(document);
  });

  app.get('/api/usage', async (c) => {
    const query = {
      since: parseTime(c.req.query('since'), 'since'),
      until: parseTime(c.req.query('until'), 'until'),
      agent: parseAgent(c.req.query('agent')),
      statuses: parseStatuses(c.req.query('status')),
    };
    const [byDay, byAgent, slowest, items] = await Promise.all([
      store.usage({ ...query, by: 'day' }),
      store.usage({ ...query, by: 'agent' }),
      store.listRuns({ since: query.since, until: query.until, agent: query.agent, statuses: query.statuses, orderBy: 'slowest', limit: 10 }),
      workItemTitles(),
    ]);
    return send<UsageResponse>({ byDay, byAgent, slowest: slowest.map((run) => view(run, items)), totals: totalsOf(byAgent) });
  });

  app.get('/api/events', (c) => {
    const runFilter = parseOptionalId(c.req.query('run'), 'run');
    const lastEventId = c.req.header('last-event-id') ?? c.req.query('lastEventId') ?? null;
    return eventStreamResponse({ log: events?.log ?? null, runId: runFilter ?? null, lastEventId: lastEventId === '' ? null : lastEventId, signal: c.req.raw.signal });
  });

  if (options.staticDir !== null) {
    const dir = options.staticDir;
    app.get('*', (c) => serveStatic(dir, c.req.path));
  }
  return app;
}
