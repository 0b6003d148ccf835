import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { InvocationId, MessageRecord, RunId, WorkItemId } from '../../src/events/index.js';
import type { FinishInvocation, NewWorker, Store } from '../../src/store/index.js';

/** The behaviour every Store implementation must have; run against each (SQLite now, PostgreSQL later). */
export function runStoreConformance(name: string, makeStore: () => Promise<{ store: Store; cleanup: () => Promise<void> }>): void {
  describe(`store conformance: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
    });
    afterEach(async () => {
      await store.close();
      await cleanup();
    });

    const run = (id: string, extra: Partial<Parameters<Store['createRun']>[0]> = {}) =>
      store.createRun({ id: id as RunId, agent: 'architect', taskKind: 'spec', prompt: 'p', cwd: '/w', ownerPid: 42, host: 'h', createdAt: '2026-11-24T10:00:00.000Z', ...extra });
    const finished = (extra: Partial<FinishInvocation> = {}): FinishInvocation => ({
      status: 'succeeded',
      endedAt: '2026-11-24T10:01:00.000Z',
      sessionId: 'sess-1',
      model: 'claude-x',
      cliVersion: '2.1.197',
      durationMs: 1500,
      durationApiMs: 700,
      numTurns: 3,
      inputTokens: 1000,
      outputTokens: 200,
      cacheCreationInputTokens: 10,
      cacheReadInputTokens: 20,
      costUsd: 0.0125,
      resultSubtype: 'success',
      resultText: 'done',
      isError: false,
      terminalReason: 'completed',
      apiErrorStatus: null,
      permissionDenials: [{ tool_name: 'Write', message: 'outside' }],
      exitCode: 0,
      signal: null,
      stderrTail: 'warn: x',
      ...extra,
    });
    const message = (runId: string, invocationId: string, seq: number, at: string): MessageRecord => ({
      runId: runId as RunId,
      invocationId: invocationId as InvocationId,
      seq,
      at,
      type: 'assistant',
      subtype: null,
      toolName: seq % 2 === 0 ? 'Write' : null,
      payload: { type: 'assistant', n: seq, nested: { list: [1, 'two'] } },
    });

    it('keeps a run through queued → running → terminal, with the real pid, and the first terminal status wins', async () => {
      const created = await run('01aaa');
      expect(created).toMatchObject({ status: 'queued', pid: null, ownerPid: 42, host: 'h', attempt: 1, startedAt: null });
      await store.markRunRunning('01aaa' as RunId, { pid: 4242, startedAt: '2026-11-24T10:00:01.000Z' });
      expect(await store.getRun('01aaa' as RunId)).toMatchObject({ status: 'running', pid: 4242, startedAt: '2026-11-24T10:00:01.000Z' });
      await store.finishRun('01aaa' as RunId, { status: 'stopped', endedAt: '2026-11-24T10:02:00.000Z', exitCode: 130, errorKind: 'stop_requested', errorMessage: 'by user' });
      await store.finishRun('01aaa' as RunId, { status: 'failed', endedAt: '2026-11-24T10:03:00.000Z' });
      await store.markRunRunning('01aaa' as RunId, { pid: 1, startedAt: 'x' });
      expect(await store.getRun('01aaa' as RunId)).toMatchObject({ status: 'stopped', pid: 4242, endedAt: '2026-11-24T10:02:00.000Z', exitCode: 130, errorKind: 'stop_requested', errorMessage: 'by user' });
      await store.requestRunStop('01aaa' as RunId, '2026-11-24T10:05:00.000Z');
      await store.requestRunStop('01aaa' as RunId, '2026-11-24T10:06:00.000Z');
      expect((await store.getRun('01aaa' as RunId))?.stopRequestedAt).toBe('2026-11-24T10:05:00.000Z');
    });

    it('finds runs by id or unique prefix, and names the candidates of an ambiguous prefix', async () => {
      await run('01abc111');
      await run('01abc222');
      await run('01xyz333');
      expect((await store.findRun('01xyz'))?.id).toBe('01xyz333');
      expect((await store.findRun('01abc222'))?.id).toBe('01abc222');
      expect(await store.findRun('01zzz')).toBeNull();
      await expect(store.findRun('01abc')).rejects.toThrow(/matches 2 runs: 01abc111, 01abc222/);
    });

    it('lists runs newest first with invocation totals, filters and keyset pages', async () => {
      await run('01r1', { agent: 'architect', createdAt: '2026-11-24T10:00:00.000Z' });
      await run('01r2', { agent: 'code-developer', createdAt: '2026-11-24T11:00:00.000Z', workItemId: 'P-1' as WorkItemId });
      await run('01r3', { agent: 'code-developer', createdAt: '2026-11-25T09:00:00.000Z' });
      for (const [id, runId, start] of [['i1', '01r2', '2026-11-24T11:00:01.000Z'], ['i2', '01r2', '2026-11-24T11:05:00.000Z']] as const) {
        await store.createInvocation({ id: id as InvocationId, runId: runId as RunId, prompt: 'p', systemPrompt: null, model: null, resumeSessionId: null, startedAt: start });
      }
      await store.finishInvocation('i1' as InvocationId, finished({ sessionId: 's-old' }));
      await store.finishInvocation('i2' as InvocationId, finished({ sessionId: 's-new', costUsd: 0.5, inputTokens: 1, outputTokens: 2 }));
      const all = await store.listRuns();
      expect(all.map((r) => r.id)).toEqual(['01r3', '01r2', '01r1']);
      const r2 = all[1]!;
      expect(r2).toMatchObject({ invocationCount: 2, sessionId: 's-new', inputTokens: 1001, outputTokens: 202, cacheReadInputTokens: 40, numTurns: 6, durationMs: 3000 });
      expect(r2.costUsd).toBeCloseTo(0.5125, 10);
      expect(all[0]).toMatchObject({ invocationCount: 0, costUsd: 0, sessionId: null, durationMs: null });
      expect((await store.listRuns({ agent: 'code-developer' })).map((r) => r.id)).toEqual(['01r3', '01r2']);
      expect((await store.listRuns({ workItemId: 'P-1' as WorkItemId })).map((r) => r.id)).toEqual(['01r2']);
      expect((await store.listRuns({ since: '2026-11-24T10:30:00.000Z', until: '2026-11-25T00:00:00.000Z' })).map((r) => r.id)).toEqual(['01r2']);
      expect((await store.listRuns({ limit: 2, beforeId: '01r3' as RunId })).map((r) => r.id)).toEqual(['01r2', '01r1']);
      expect((await store.listRuns({ statuses: ['running'] })).length).toBe(0);
      expect(await store.countRuns({ agent: 'code-developer' })).toBe(2);
    });

    it('stores an invocation with every result field, permission denials included', async () => {
      await run('01inv');
      const created = await store.createInvocation({ id: 'iv' as InvocationId, runId: '01inv' as RunId, prompt: 'task', systemPrompt: 'role', model: 'm', resumeSessionId: 'prev', startedAt: '2026-11-24T10:00:00.000Z' });
      expect(created).toMatchObject({ status: 'running', endedAt: null, inputTokens: 0, costUsd: 0, permissionDenials: [] });
      await store.finishInvocation('iv' as InvocationId, finished());
      const [invocation] = await store.listInvocations('01inv' as RunId);
      expect(invocation).toMatchObject({ ...finished(), id: 'iv', runId: '01inv', prompt: 'task', systemPrompt: 'role', resumeSessionId: 'prev' });
      // The CLI's own figures: not an estimate.
      expect(invocation).toMatchObject({ costEstimated: false, costNote: null });
    });

    it('keeps an estimated cost marked as such, and marks the run and usage totals it is part of', async () => {
      await run('01est', { agent: 'code-developer' });
      await run('01exact', { agent: 'architect' });
      for (const [id, runId, start] of [['e1', '01est', '2026-11-24T10:00:01.000Z'], ['e2', '01est', '2026-11-24T10:00:02.000Z'], ['x1', '01exact', '2026-11-24T10:00:03.000Z']] as const) {
        await store.createInvocation({ id: id as InvocationId, runId: runId as RunId, prompt: 'p', systemPrompt: null, model: null, resumeSessionId: null, startedAt: start });
      }
      const note = 'estimated from 3 API message(s) recorded before the session ended without a result';
      await store.finishInvocation('e1' as InvocationId, finished({ status: 'failed', resultSubtype: null, costUsd: 0.0123, costEstimated: true, costNote: note, signal: 'SIGKILL' }));
      await store.finishInvocation('e2' as InvocationId, finished({ costUsd: 0.5 }));
      await store.finishInvocation('x1' as InvocationId, finished({ costUsd: 0.25 }));
      const [estimated, exact] = await store.listInvocations('01est' as RunId);
      expect(estimated).toMatchObject({ costEstimated: true, costNote: note, costUsd: 0.0123, signal: 'SIGKILL' });
      expect(exact).toMatchObject({ costEstimated: false, costNote: null });
      const runs = await store.listRuns();
      expect(runs.map((r) => [r.id, r.costEstimated])).toEqual([['01exact', false], ['01est', true]]);
      expect(runs[1]!.costUsd).toBeCloseTo(0.5123, 10);
      const byAgent = await store.usage({ by: 'agent' });
      expect(byAgent.map((row) => [row.key, row.costEstimated])).toEqual([['architect', false], ['code-developer', true]]);
    });

    it('appends messages in order, reads them by invocation after a seq, and tracks the last event time', async () => {
      await run('01msg');
      const records = Array.from({ length: 25 }, (_, i) => message('01msg', 'inv-a', i + 1, `2026-11-24T10:00:${String(i).padStart(2, '0')}.000Z`));
      await store.appendMessages(records.slice(0, 10));
      await store.appendMessages(records.slice(10));
      const all = await store.listMessages({ invocationId: 'inv-a' as InvocationId });
      expect(all).toEqual(records);
      expect((await store.listMessages({ invocationId: 'inv-a' as InvocationId, afterSeq: 20, limit: 3 })).map((m) => m.seq)).toEqual([21, 22, 23]);
      expect((await store.listMessages({ runId: '01msg' as RunId, limit: 2 })).map((m) => m.seq)).toEqual([1, 2]);
      expect((await store.getRun('01msg' as RunId))?.lastEventAt).toBe('2026-11-24T10:00:24.000Z');
      await expect(store.appendMessages([message('01msg', 'inv-a', 3, 'x')])).rejects.toThrow();
    });

    it('sums usage by agent and by day exactly', async () => {
      await run('01u1', { agent: 'architect', createdAt: '2026-11-23T23:59:59.000Z' });
      await run('01u2', { agent: 'code-developer', createdAt: '2026-11-24T00:00:00.000Z' });
      await run('01u3', { agent: 'code-developer', createdAt: '2026-11-24T12:00:00.000Z' });
      await store.finishRun('01u2' as RunId, { status: 'succeeded', endedAt: 'x' });
      await store.finishRun('01u3' as RunId, { status: 'failed', endedAt: 'x' });
      let n = 0;
      for (const runId of ['01u1', '01u2', '01u3', '01u3']) {
        n += 1;
        await store.createInvocation({ id: `u${n}` as InvocationId, runId: runId as RunId, prompt: 'p', systemPrompt: null, model: null, resumeSessionId: null, startedAt: `2026-11-24T00:00:0${n}.000Z` });
        await store.finishInvocation(`u${n}` as InvocationId, finished({ inputTokens: 100 * n, outputTokens: n, costUsd: 0.25 * n, model: n === 1 ? 'opus' : 'sonnet' }));
      }
      const byAgent = await store.usage({ by: 'agent' });
      expect(byAgent).toEqual([
        { key: 'architect', runs: 1, succeeded: 0, failed: 0, inputTokens: 100, outputTokens: 1, cacheCreationInputTokens: 10, cacheReadInputTokens: 20, costUsd: 0.25, costEstimated: false, totalDurationMs: 1500 },
        { key: 'code-developer', runs: 2, succeeded: 1, failed: 1, inputTokens: 900, outputTokens: 9, cacheCreationInputTokens: 30, cacheReadInputTokens: 60, costUsd: 2.25, costEstimated: false, totalDurationMs: 4500 },
      ]);
      const byDay = await store.usage({ by: 'day' });
      expect(byDay.map((row) => [row.key, row.runs, row.costUsd])).toEqual([['2026-11-23', 1, 0.25], ['2026-11-24', 2, 2.25]]);
      expect((await store.usage({ by: 'day', since: '2026-11-24T00:00:00.000Z' })).map((row) => row.key)).toEqual(['2026-11-24']);
      expect((await store.usage({ by: 'model' })).map((row) => [row.key, row.inputTokens])).toEqual([['opus', 100], ['sonnet', 900]]);
      const slowest = await store.listRuns({ orderBy: 'slowest' });
      expect(slowest.map((row) => [row.id, row.durationMs])).toEqual([['01u3', 3000], ['01u2', 1500], ['01u1', 1500]]);
      expect((await store.listRuns({ orderBy: 'slowest', agent: 'architect' })).map((row) => row.id)).toEqual(['01u1']);
    });

    it('upserts, updates and moves work items by compare-and-set, recording each transition', async () => {
      const id = 'P-2.5' as WorkItemId;
      expect(await store.lastEventId()).toBe(0);
      const item = await store.upsertWorkItem({ id, kind: 'priority', number: '2.5', title: 'Auth', slug: 'auth', state: 'planned', position: 3, dependsOn: ['1'], at: '2026-11-24T10:00:00.000Z' });
      expect(item).toMatchObject({ state: 'planned', dependsOn: ['1'], attempts: {}, specPath: null, blockedReason: null });
      await store.upsertWorkItem({ id, kind: 'priority', number: '2.5', title: 'Auth v2', slug: 'auth-v2', state: 'done', position: 4, at: '2026-11-24T10:01:00.000Z' });
      expect(await store.getWorkItem(id)).toMatchObject({ title: 'Auth v2', state: 'planned', position: 4 });
      await store.updateWorkItem(id, { specPath: 'docs/specs/SPEC-2.5-auth.md', attempts: { architect: 2 }, updatedAt: '2026-11-24T10:02:00.000Z' });
      expect(await store.getWorkItem(id)).toMatchObject({ specPath: 'docs/specs/SPEC-2.5-auth.md', attempts: { architect: 2 }, updatedAt: '2026-11-24T10:02:00.000Z' });
      expect(await store.transitionWorkItem(id, 'specifying', 'spec_ready', 'wrong from', '2026-11-24T10:03:00.000Z')).toBe(false);
      expect(await store.transitionWorkItem(id, 'planned', 'specifying', 'no spec', '2026-11-24T10:03:00.000Z')).toBe(true);
      expect((await store.getWorkItem(id))?.state).toBe('specifying');
      const events = await store.listEvents({ workItemId: id });
      expect(await store.lastEventId()).toBe(events.at(-1)!.id);
      expect(events).toEqual([{ id: events[0]!.id, at: '2026-11-24T10:03:00.000Z', kind: 'work_item.transitioned', runId: null, workItemId: id, message: 'no spec', data: { from: 'planned', to: 'specifying' } }]);
      await store.upsertWorkItem({ id: 'B-1' as WorkItemId, kind: 'bug', number: '1', title: 'Crash', slug: 'crash', state: 'planned', position: 0, severity: 'high', body: 'steps', at: '2026-11-24T10:00:00.000Z' });
      expect((await store.listWorkItems({ kind: 'bug' })).map((w) => [w.id, w.severity, w.body])).toEqual([['B-1', 'high', 'steps']]);
      expect((await store.listWorkItems({ states: ['specifying'] })).map((w) => w.id)).toEqual([id]);
    });

    it("keeps a work item's roadmap note and the last roadmap read with its problems", async () => {
      const id = 'P-3' as WorkItemId;
      await store.upsertWorkItem({ id, kind: 'priority', number: '3', title: 'PyPI', slug: 'pypi', state: 'planned', position: 0, note: '(2025-10-16) - HIGH PRIORITY', at: '2026-11-24T10:00:00.000Z' });
      expect((await store.getWorkItem(id))?.note).toBe('(2025-10-16) - HIGH PRIORITY');
      await store.updateWorkItem(id, { note: 'Phase 4', updatedAt: '2026-11-24T10:01:00.000Z' });
      expect((await store.listWorkItems())[0]?.note).toBe('Phase 4');
      expect(await store.latestRoadmapRead()).toBeNull();
      const problem = { file: 'docs/roadmap/ROADMAP.md', line: 12, severity: 'error' as const, message: 'unknown status "Whenever": PRIORITY 5 is held back', hint: 'Start the status with ✅ Complete' };
      await store.saveRoadmapRead({ path: 'docs/roadmap/ROADMAP.md', branch: 'main', tipSha: 'a'.repeat(40), readAt: '2026-11-24T10:00:00.000Z', itemCount: 9, problems: [problem] });
      await store.saveRoadmapRead({ path: 'docs/roadmap/ROADMAP.md', branch: 'main', tipSha: 'b'.repeat(40), readAt: '2026-11-24T10:05:00.000Z', itemCount: 8, problems: [] });
      expect(await store.latestRoadmapRead()).toEqual({ path: 'docs/roadmap/ROADMAP.md', branch: 'main', tipSha: 'b'.repeat(40), readAt: '2026-11-24T10:05:00.000Z', itemCount: 8, problems: [] });
      await store.saveRoadmapRead({ path: 'docs/roadmap/ROADMAP.md', branch: 'main', tipSha: 'c'.repeat(40), readAt: '2026-11-24T10:06:00.000Z', itemCount: 9, problems: [problem] });
      expect((await store.latestRoadmapRead())?.problems).toEqual([problem]);
    });

    it('appends audit events and pages through them', async () => {
      const first = await store.appendEvent({ at: '2026-11-24T10:00:00.000Z', kind: 'merge.completed', message: 'merged', runId: '01r' as RunId, data: { sha: 'abc' } });
      await store.appendEvent({ at: '2026-11-24T10:00:01.000Z', kind: 'budget.hit', message: 'stop' });
      expect(first).toMatchObject({ kind: 'merge.completed', runId: '01r', workItemId: null, data: { sha: 'abc' } });
      expect((await store.listEvents({ afterId: first.id })).map((e) => e.kind)).toEqual(['budget.hit']);
      expect((await store.listEvents({ runId: '01r' as RunId })).map((e) => e.message)).toEqual(['merged']);
    });

    const worker = (id: string, extra: Partial<NewWorker> = {}) => store.registerWorker({ id, host: `host-${id}`, pid: 100, slots: 2, version: '0.1.0', schemaVersion: 5, ...extra });
    /** Waits (on the database's clock) until it has moved past `time`, so a heartbeat at `time` is older than a tiny lease. */
    const databaseClockPast = async (time: string, ms: number) => {
      const until = Date.parse(time) + ms;
      while (Date.parse(await store.databaseNow()) <= until) await new Promise((resolve) => setTimeout(resolve, 5));
    };

    it('tells the time by the database clock, as UTC ISO-8601 with milliseconds', async () => {
      const now = await store.databaseNow();
      expect(now).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(Math.abs(Date.parse(now) - Date.now())).toBeLessThan(60_000);
    });

    it('creates a repository identity once per key and names the coordinator holding it', async () => {
      const first = await store.ensureRepository({ id: 'repo-a', key: 'remote:example.com/team/app', remoteUrl: 'example.com/team/app' });
      expect(first).toMatchObject({ id: 'repo-a', key: 'remote:example.com/team/app', remoteUrl: 'example.com/team/app' });
      expect(await store.ensureRepository({ id: 'repo-b', key: 'remote:example.com/team/app', remoteUrl: 'example.com/team/app' })).toEqual(first);
      expect((await store.ensureRepository({ id: 'repo-c', key: 'local:abc', remoteUrl: null })).id).toBe('repo-c');
      expect(await store.getCoordinator('repo-a')).toBeNull();
      await store.recordCoordinator({ repositoryId: 'repo-a', host: 'alpha', pid: 11, connectionPid: 900, version: '0.1.0', schemaVersion: 5 });
      expect(await store.getCoordinator('repo-a')).toMatchObject({ repositoryId: 'repo-a', host: 'alpha', pid: 11, connectionPid: 900, version: '0.1.0', schemaVersion: 5 });
      await store.clearCoordinator('repo-a', { host: 'beta', pid: 11 });
      expect((await store.getCoordinator('repo-a'))?.host).toBe('alpha');
      await store.recordCoordinator({ repositoryId: 'repo-a', host: 'beta', pid: 12, connectionPid: null, version: null, schemaVersion: 6 });
      expect(await store.getCoordinator('repo-a')).toMatchObject({ host: 'beta', pid: 12, connectionPid: null, version: null, schemaVersion: 6 });
      await store.clearCoordinator('repo-a', { host: 'beta', pid: 12 });
      expect(await store.getCoordinator('repo-a')).toBeNull();
    });

    it('registers workers with their jobs and moves them active → draining → stopped, never back', async () => {
      const registered = await worker('w1');
      expect(registered).toMatchObject({ id: 'w1', host: 'host-w1', pid: 100, slots: 2, version: '0.1.0', schemaVersion: 5, state: 'active', jobs: [] });
      expect(registered.lastHeartbeatAt).toBe(registered.startedAt);
      await store.startWorkerJob({ workerId: 'w1', jobId: 'job-1', runId: '01run1' as RunId, workItemId: 'P-1' as WorkItemId });
      await store.startWorkerJob({ workerId: 'w1', jobId: 'job-2' });
      expect((await store.getWorker('w1'))?.jobs.map((job) => [job.jobId, job.runId, job.workItemId])).toEqual([
        ['job-1', '01run1', 'P-1'],
        ['job-2', null, null],
      ]);
      await store.finishWorkerJob('w1', 'job-1');
      expect((await store.getWorker('w1'))?.jobs.map((job) => job.jobId)).toEqual(['job-2']);
      expect(await store.setWorkerState('w1', 'draining')).toBe(true);
      expect(await store.heartbeatWorker('w1')).toBe('draining');
      expect(await store.setWorkerState('w1', 'draining')).toBe(false);
      expect(await store.setWorkerState('w1', 'stopped')).toBe(true);
      expect(await store.heartbeatWorker('w1')).toBe('stopped');
      expect(await store.setWorkerState('w1', 'draining')).toBe(false);
      expect(await store.heartbeatWorker('nobody')).toBeNull();
      expect(await store.getWorker('nobody')).toBeNull();
      await worker('w2', { slots: 4 });
      expect((await store.listWorkers()).map((w) => [w.id, w.state])).toEqual([
        ['w1', 'stopped'],
        ['w2', 'active'],
      ]);
      expect((await store.listWorkers({ states: ['active', 'draining', 'lost'] })).map((w) => [w.id, w.slots, w.jobs.length])).toEqual([['w2', 4, 0]]);
    });

    it('marks workers lost once their heartbeat is older than the lease, each once, with their jobs; a lost worker cannot heartbeat back', async () => {
      const quiet = await worker('w-quiet');
      await store.startWorkerJob({ workerId: 'w-quiet', jobId: 'job-q', runId: '01runq' as RunId });
      await worker('w-stopped');
      await store.setWorkerState('w-stopped', 'stopped');
      // The quiet worker is 1.5 s silent when the fresh one registers; a 1 s lease loses only the quiet one, however
      // slow the statements in between are on a busy machine (short of a second each).
      await databaseClockPast(quiet.lastHeartbeatAt, 1_500);
      await worker('w-fresh');
      expect(await store.markLostWorkers(60_000)).toEqual([]);
      const lost = await store.markLostWorkers(1_000);
      expect(lost.map((w) => [w.id, w.state, w.jobs.map((job) => [job.jobId, job.runId])])).toEqual([['w-quiet', 'lost', [['job-q', '01runq']]]]);
      expect(await store.markLostWorkers(1_000)).toEqual([]);
      expect(await store.heartbeatWorker('w-quiet')).toBe('lost');
      expect((await store.getWorker('w-quiet'))?.lastHeartbeatAt).toBe(quiet.lastHeartbeatAt);
      expect(await store.setWorkerState('w-quiet', 'stopped')).toBe(false);
      expect((await store.getWorker('w-stopped'))?.state).toBe('stopped');
      expect((await store.getWorker('w-fresh'))?.state).toBe('active');
      const before = (await store.getWorker('w-fresh'))!.lastHeartbeatAt;
      await databaseClockPast(before, 5);
      expect(await store.heartbeatWorker('w-fresh')).toBe('active');
      expect((await store.getWorker('w-fresh'))!.lastHeartbeatAt > before).toBe(true);
    });
  });
}
