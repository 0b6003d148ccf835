import type { RunId } from '../events/index.js';
import { nowIso } from '../lib/time.js';
import { onQuestionSettled, type QuestionRecord, type Store } from '../store/index.js';

/** How often a wait looks at its question when the store does not announce changes (SQLite), as for messages. */
export const QUESTION_POLL_MS = 500;
/** The safety net when the store announces changes (PostgreSQL NOTIFY). */
export const QUESTION_SAFETY_POLL_MS = 10_000;

export interface QuestionWaitOptions {
  /** When to stop waiting (epoch ms); the question is returned as it stands then (still open). */
  deadline: number;
  /** Stops the wait; the question is returned as it stands. */
  signal: AbortSignal;
  /** Without store announcements, how often to look (default QUESTION_POLL_MS; with them QUESTION_SAFETY_POLL_MS). */
  pollMs?: number;
}

/**
 * Waits until question `id` is no longer open (answered from the dashboard or with `orchestrator answer`, or closed),
 * the deadline passes, or the signal aborts; returns the question as it then stands (null if it is gone). A question
 * settled in this process is heard at once; one settled by another process through the store's announcements
 * (PostgreSQL NOTIFY, from any machine) or, without them (SQLite), at the next poll.
 */
export async function waitForQuestion(store: Store, id: number, options: QuestionWaitOptions): Promise<QuestionRecord | null> {
  const watching = new AbortController();
  const stopWatching = () => watching.abort();
  options.signal.addEventListener('abort', stopWatching, { once: true });
  let wake: () => void = () => {};
  const woken = (): Promise<void> =>
    new Promise((resolve) => {
      wake = resolve;
    });
  try {
    onQuestionSettled((settledId) => {
      if (settledId === id) wake();
    }, { signal: watching.signal });
    const changes = store.changes;
    changes?.subscribe(
      {
        onChange: (change) => {
          if (change.kind === 'question' && change.id === id) wake();
        },
        onResync: () => wake(),
      },
      { signal: watching.signal },
    );
    const pollMs = options.pollMs ?? (changes ? QUESTION_SAFETY_POLL_MS : QUESTION_POLL_MS);
    const stopped = new Promise<void>((resolve) => watching.signal.addEventListener('abort', () => resolve(), { once: true }));
    for (;;) {
      const next = woken();
      const question = await store.getQuestion(id);
      if (!question || question.state !== 'open' || watching.signal.aborted || options.signal.aborted) return question;
      const leftMs = options.deadline - Date.now();
      if (leftMs <= 0) return question;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        next,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, Math.min(pollMs, leftMs));
        }),
        stopped,
      ]);
      clearTimeout(timer);
    }
  } finally {
    options.signal.removeEventListener('abort', stopWatching);
    watching.abort();
  }
}

/**
 * Cancels the open questions of a run that is over (orphaned by a restart or a lost worker): nobody waits for their
 * answers any more, so they must not show as "waiting for you". Its next session asks again if it still needs to.
 * Returns how many it cancelled.
 */
export async function cancelOpenQuestionsOfRun(store: Store, runId: RunId): Promise<number> {
  let cancelled = 0;
  for (const question of await store.listQuestions({ state: 'open', runId })) {
    if (await store.cancelQuestion(question.id, nowIso())) cancelled += 1;
  }
  return cancelled;
}
