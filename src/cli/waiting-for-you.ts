import type { QuestionRecord, Store } from '../store/index.js';
import type { Paint } from './format.js';

/**
 * The runs waiting for a person (open `ask_human` questions), as `ps` and `status` show them, with how to answer;
 * empty when there are none.
 */
export async function waitingForYouText(store: Store, paint: Paint): Promise<string> {
  const questions = await store.listQuestions({ state: 'open' });
  if (questions.length === 0) return '';
  return `${paint.bold(`Waiting for you (${questions.length})`)}\n${questions.map(questionLine).join('')}${paint.dim('  answer with: orchestrator answer <question> "…"\n')}\n`;
}

function questionLine(question: QuestionRecord): string {
  return `  question ${question.id} from run ${question.runId.slice(0, 12)}: ${question.text.replace(/\s+/g, ' ').slice(0, 160)}\n`;
}
