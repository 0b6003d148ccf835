import type { RunId, WorkItemId } from '../../events/index.js';
import { RunNotFoundError } from '../../lib/errors.js';
import { answerQuestionAsPerson, refuseInsideSession, sayToRun, senderOf } from '../../orchestrator/index.js';
import type { AgentMessageRecord } from '../../store/index.js';
import { openContext, type GlobalOptions } from '../context.js';
import { painter, table } from '../format.js';

type Env = Readonly<Record<string, string | undefined>>;

/** `orchestrator say <run> "…"`: a person's message into a running session, at its next turn boundary. */
export async function sayCommand(ref: string, text: string, options: GlobalOptions, env: Env = process.env): Promise<number> {
  refuseInsideSession('say', env);
  const ctx = await openContext(options, {}, env);
  try {
    const { run, message } = await sayToRun(ctx.store, ref, text, { via: 'cli' });
    const when = run.status === 'queued' ? 'when its session starts' : 'at its next turn boundary';
    ctx.stdout.write(`message ${message.id} for run ${run.id} (${run.agent}${run.workItemId ? ` on ${run.workItemId}` : ''}): it goes into the session ${when}\n`);
    return 0;
  } finally {
    await ctx.close();
  }
}

/** `orchestrator answer <question> "…"`: answers an open question (the first answer wins). */
export async function answerCommand(ref: string, text: string, options: GlobalOptions, env: Env = process.env): Promise<number> {
  refuseInsideSession('answer', env);
  const ctx = await openContext(options, {}, env);
  try {
    const question = await answerQuestionAsPerson(ctx.store, ref, text, { by: 'cli' });
    ctx.stdout.write(`question ${question.id} answered; run ${question.runId} gets the answer\n`);
    return 0;
  } finally {
    await ctx.close();
  }
}

/** Whom a message is for, in words. */
function recipientOf(message: AgentMessageRecord): string {
  switch (message.recipientKind) {
    case 'run':
      return `run ${message.recipientRunId?.slice(0, 12) ?? '?'}`;
    case 'role':
      return `${message.recipientRole ?? '?'} of ${message.recipientWorkItemId ?? '?'}`;
    case 'work_item':
      return `${message.recipientWorkItemId ?? '?'}`;
    case 'human':
      return 'a person';
  }
}

const oneLine = (text: string, max: number): string => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

/** `orchestrator messages [--run R] [--item P-3]`: the agent message queue, oldest first. */
export async function messagesCommand(options: GlobalOptions & { run?: string; item?: string; limit?: number; json?: boolean }): Promise<number> {
  const ctx = await openContext(options);
  try {
    let runId: RunId | undefined;
    if (options.run !== undefined) {
      const run = await ctx.store.findRun(options.run);
      if (!run) throw new RunNotFoundError(options.run);
      runId = run.id;
    }
    const messages = await ctx.store.listAgentMessages({ ...(runId ? { runId } : {}), ...(options.item ? { workItemId: options.item as WorkItemId } : {}), limit: options.limit ?? 50 });
    const questions = (await ctx.store.listQuestions({ state: 'open', ...(runId ? { runId } : {}), ...(options.item ? { workItemId: options.item as WorkItemId } : {}) }));
    if (options.json) {
      ctx.stdout.write(`${JSON.stringify({ messages, openQuestions: questions }, null, 2)}\n`);
      return 0;
    }
    const paint = painter(ctx.stdout);
    if (messages.length === 0) ctx.stdout.write('no messages\n');
    else {
      const rows = messages.map((message) => [
        String(message.id),
        message.createdAt.replace('T', ' ').slice(0, 19),
        oneLine(senderOf(message), 40),
        recipientOf(message),
        message.deliveredAt ? `run ${message.deliveredToRun?.slice(0, 12) ?? '?'}` : message.recipientKind === 'human' ? '-' : 'waiting',
        oneLine(message.body, 80),
      ]);
      ctx.stdout.write(`${table(['ID', 'SENT (UTC)', 'FROM', 'TO', 'DELIVERED TO', 'TEXT'], rows)}\n`);
    }
    if (questions.length > 0) {
      ctx.stdout.write(`\n${paint.bold(`Waiting for you (${questions.length})`)}\n`);
      for (const question of questions) {
        ctx.stdout.write(`  question ${question.id} from run ${question.runId.slice(0, 12)}${question.workItemId ? ` (${question.role ?? 'agent'} of ${question.workItemId})` : ''}: ${oneLine(question.text, 200)}\n`);
        if (question.choices) ctx.stdout.write(`    choices: ${question.choices.join(' | ')}\n`);
      }
      ctx.stdout.write(paint.dim('  answer with: orchestrator answer <question> "…"\n'));
    }
    return 0;
  } finally {
    await ctx.close();
  }
}
