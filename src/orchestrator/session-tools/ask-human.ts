import { z } from 'zod';
import { redactText } from '../../lib/redact.js';
import { nowIso } from '../../lib/time.js';
import { defineTool } from '../../mcp/index.js';
import { MAX_AGENT_MESSAGE_CHARS, type QuestionRecord } from '../../store/index.js';
import { waitForQuestion } from '../question-wait.js';
import { DEFAULT_SESSION_TOOL_SETTINGS, type SessionToolContext } from './context.js';

const input = z
  .object({
    question: z.string().trim().min(1).max(MAX_AGENT_MESSAGE_CHARS).describe('What you need a person to decide or tell you, with the context they need to answer.'),
    choices: z.array(z.string().trim().min(1).max(500)).min(2).max(10).optional().describe('The answers you offer, if the question has a few (the person may still write another).'),
  })
  .strict();

/** What the tool says when nobody answered within the limit. */
export function noAnswerText(timeoutMs: number): string {
  const minutes = timeoutMs / 60_000;
  const count = minutes >= 1 ? Math.round(minutes) : Math.max(1, Math.round(timeoutMs / 1000));
  const within = `${count} ${minutes >= 1 ? 'minute' : 'second'}${count === 1 ? '' : 's'}`;
  return `No answer from a person within ${within}: decide yourself, and say what you assumed.`;
}

/** What the tool says at once when nobody can answer in this run (`--until-idle`, no dashboard and no terminal). */
export const UNATTENDED_TEXT = 'No person can answer now (the orchestrator runs unattended): decide yourself, and say what you assumed.';

/**
 * `ask_human`: a question for a person, with optional choices. Recorded (the dashboard's Now page shows "waiting for
 * you" with an answer box; `orchestrator ps` shows the run waiting; a webhook tells whoever is configured), then the
 * call waits until a person answers (dashboard, or `orchestrator answer` run outside any session), its limit passes
 * (the question expires and the agent is told to decide), or the session ends (the question is cancelled). While it
 * waits, neither the inactivity watchdog nor the session's wall-clock limit counts (the runtime holds both during
 * our tool calls); budgets still apply. No tool answers a question.
 */
export const askHumanTool = defineTool<SessionToolContext, typeof input>({
  name: 'ask_human',
  title: 'Ask a person',
  description:
    'Ask a person a question and wait for the answer: when you cannot decide something yourself (a product choice, an ambiguous requirement, a risky action). ' +
    'The answer comes from the orchestrator\'s dashboard or command line. If nobody answers in time you are told so: then decide yourself and say what you assumed. Do not ask about what you can find out yourself.',
  input,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  run: async (args, context, call) => {
    const timeoutMs = context.settings.askHumanTimeoutMs ?? DEFAULT_SESSION_TOOL_SETTINGS.askHumanTimeoutMs;
    const mode = context.settings.askHuman ?? DEFAULT_SESSION_TOOL_SETTINGS.askHuman;
    const askedAt = Date.now();
    const text = redactText(args.question);
    const question = await context.store.addQuestion({
      runId: context.runId,
      workItemId: context.workItemId,
      role: context.role,
      text,
      choices: args.choices?.map(redactText) ?? null,
      at: nowIso(),
      deadlineAt: new Date(askedAt + (mode === 'fallback' ? 0 : timeoutMs)).toISOString(),
    });
    context.bus?.emit('question.asked', { questionId: String(question.id), runId: context.runId, workItemId: context.workItemId, text });
    if (mode === 'fallback') {
      await context.store.expireQuestion(question.id, nowIso());
      return { text: `${UNATTENDED_TEXT} (Question ${question.id} is recorded.)` };
    }
    const settled = await waitForQuestion(context.store, question.id, { deadline: askedAt + timeoutMs, signal: call.signal });
    if (settled?.state === 'open') {
      // The first settlement wins: an answer that came in just now is taken rather than the fallback.
      const expired = call.signal.aborted ? await context.store.cancelQuestion(question.id, nowIso()) : await context.store.expireQuestion(question.id, nowIso());
      if (!expired) return replyOf((await context.store.getQuestion(question.id)) ?? settled, timeoutMs);
      return call.signal.aborted ? { text: 'The session is ending: the question was cancelled.', isError: true } : { text: noAnswerText(timeoutMs) };
    }
    return replyOf(settled ?? question, timeoutMs);
  },
});

function replyOf(question: QuestionRecord, timeoutMs: number): { text: string; isError?: boolean } {
  switch (question.state) {
    case 'answered':
      return { text: `A person (${question.answeredBy ?? 'unknown'}) answered question ${question.id}:\n${question.answer ?? ''}` };
    case 'expired':
      return { text: noAnswerText(timeoutMs) };
    case 'cancelled':
      return { text: `Question ${question.id} was cancelled before anyone answered it: decide yourself, and say what you assumed.` };
    case 'open':
      return { text: noAnswerText(timeoutMs) };
  }
}
