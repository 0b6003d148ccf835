import { isTerminalRunStatus } from '../events/index.js';
import { OrchestratorError, RunNotFoundError, UsageError } from '../lib/errors.js';
import { nowIso } from '../lib/time.js';
import { RUN_MARKER_ENV } from '../runtime/index.js';
import { messageTextProblem, type AgentMessageRecord, type QuestionRecord, type RunRecord, type Store } from '../store/index.js';

/**
 * What a person does to agents: a message to a running session (`say`), an answer to a question (`answer`). A
 * process that carries a session's run id (an agent's Bash, anything it starts) is refused both: a session must not
 * steer runs or answer questions, its own least of all.
 */

/** `say` or `answer` was run by a process of a session (ORCHESTRATOR_RUN_ID in its environment). */
export class InsideSessionError extends OrchestratorError {
  constructor(command: string, runId: string) {
    super('ORCH_INSIDE_SESSION', `\`orchestrator ${command}\` was run inside the session of run ${runId} (${RUN_MARKER_ENV} is set): a session may not steer runs or answer questions`, {
      hint: 'Run it from your own terminal, or use the dashboard. An agent that needs a person asks with its ask_human tool; it talks to other agents with send_message.',
      data: { runId },
    });
  }
}

export class QuestionNotFoundError extends OrchestratorError {
  constructor(ref: string) {
    super('ORCH_QUESTION_NOT_FOUND', `no question ${ref}`, { hint: 'The open questions are on the dashboard\'s Now page; `orchestrator messages` lists messages.' });
  }
}

export class QuestionNotOpenError extends OrchestratorError {
  constructor(question: QuestionRecord) {
    const how = question.state === 'answered' ? `already answered by ${question.answeredBy ?? '?'} at ${question.answeredAt ?? '?'} ("${(question.answer ?? '').slice(0, 80)}")` : `${question.state} at ${question.answeredAt ?? '?'}: its session no longer waits for it`;
    super('ORCH_QUESTION_NOT_OPEN', `question ${question.id} was ${how}`, { hint: 'The first answer is the one the agent got. To tell its run more, use `orchestrator say <run> "…"` while it runs.', data: { state: question.state } });
  }
}

export class RunEndedError extends OrchestratorError {
  constructor(run: RunRecord) {
    super('ORCH_RUN_ENDED', `run ${run.id} has ended (${run.status}): a message to it would never be read`, {
      hint: run.workItemId ? `Say it to the run working on ${run.workItemId} now (\`orchestrator ps\`).` : 'Say it to a run that is working now (`orchestrator ps`).',
    });
  }
}

/** Refuses `command` when `env` carries a session's run id (the marker every session's processes get). */
export function refuseInsideSession(command: string, env: Readonly<Record<string, string | undefined>>): void {
  const runId = env[RUN_MARKER_ENV];
  if (runId !== undefined && runId !== '') throw new InsideSessionError(command, runId);
}

/** A person's message to a run that has not ended; delivered into its session at the next turn boundary. */
export async function sayToRun(store: Store, ref: string, text: string, options: { via: string }): Promise<{ run: RunRecord; message: AgentMessageRecord }> {
  const problem = messageTextProblem(text);
  if (problem) throw new UsageError(problem.message, { hint: problem.hint });
  const run = await store.findRun(ref);
  if (!run) throw new RunNotFoundError(ref);
  if (isTerminalRunStatus(run.status)) throw new RunEndedError(run);
  const message = await store.addAgentMessage({ at: nowIso(), sender: { kind: 'human', label: options.via }, recipient: { kind: 'run', runId: run.id }, workItemId: run.workItemId, body: text });
  return { run, message };
}

/** Answers an open question as a person; the first answer wins (a later one is QuestionNotOpenError). */
export async function answerQuestionAsPerson(store: Store, ref: string, text: string, options: { by: string }): Promise<QuestionRecord> {
  const id = Number(ref.trim());
  if (!Number.isSafeInteger(id) || id < 1) throw new UsageError(`"${ref}" is not a question number`, { hint: 'Give the number the dashboard shows with the question, e.g. orchestrator answer 3 "yes".' });
  const problem = messageTextProblem(text);
  if (problem) throw new UsageError(problem.message.replace('message', 'answer'), { hint: 'Write the answer in quotes: orchestrator answer <question> "…".' });
  const question = await store.getQuestion(id);
  if (!question) throw new QuestionNotFoundError(ref);
  if (!(await store.answerQuestion(id, { answer: text, answeredBy: options.by, at: nowIso() }))) {
    throw new QuestionNotOpenError((await store.getQuestion(id)) ?? question);
  }
  return (await store.getQuestion(id)) ?? question;
}
