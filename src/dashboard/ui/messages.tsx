import { useEffect, useState } from 'preact/hooks';
import type { AgentMessageRecord, AgentMessagesResponse, AnswerResponse, PostMessageResponse, QuestionRecord } from '../api-types.js';
import { ApiError, getJson, postJson } from './api.js';
import { Card, ErrorBox, GridHead, RunLink } from './components.js';
import { time } from './format.js';

const errorText = (error: unknown): string => (error instanceof ApiError ? `${error.message}${error.hint ? ` (${error.hint})` : ''}` : String(error));

/** Who sent a message, in words. */
export function senderText(message: AgentMessageRecord): string {
  switch (message.senderKind) {
    case 'human':
      return `a person${message.senderLabel ? ` (${message.senderLabel})` : ''}`;
    case 'agent':
      return `${message.senderRole ?? message.senderLabel ?? 'agent'}${message.workItemId ? ` of ${message.workItemId}` : ''}`;
    case 'orchestrator':
      return 'the orchestrator';
  }
}

/** Whom a message is for, in words. */
export function recipientText(message: AgentMessageRecord): string {
  switch (message.recipientKind) {
    case 'run':
      return `run ${message.recipientRunId?.slice(0, 12) ?? '?'}`;
    case 'role':
      return `${message.recipientRole ?? '?'} of ${message.recipientWorkItemId ?? '?'}`;
    case 'work_item':
      return message.recipientWorkItemId ?? '?';
    case 'human':
      return 'a person';
  }
}

/** A person's message into a running session; it is read at the session's next turn boundary. */
export function MessageBox({ runId, onSent }: { runId: string; onSent?: (message: AgentMessageRecord) => void }) {
  const [text, setText] = useState('');
  const [phase, setPhase] = useState<'idle' | 'sending' | 'sent'>('idle');
  const [error, setError] = useState<string | null>(null);
  const sendIt = (event: Event) => {
    event.preventDefault();
    if (text.trim().length === 0) return;
    setPhase('sending');
    setError(null);
    postJson<PostMessageResponse>(`/api/runs/${encodeURIComponent(runId)}/messages`, { text })
      .then((response) => {
        setText('');
        setPhase('sent');
        onSent?.(response.message);
      })
      .catch((failure: unknown) => {
        setPhase('idle');
        setError(errorText(failure));
      });
  };
  return (
    <form class="message-box" data-field="message-box" onSubmit={sendIt}>
      <textarea
        name="message"
        rows={2}
        placeholder="Tell this agent something: it reads it at its next turn (it grants no permission)"
        value={text}
        onInput={(event) => setText((event.target as HTMLTextAreaElement).value)}
      />
      <button type="submit" data-action="send-message" disabled={phase === 'sending' || text.trim().length === 0}>
        {phase === 'sending' ? 'Sending…' : 'Send'}
      </button>
      {phase === 'sent' && <span class="muted small" data-field="message-sent">sent: it goes in at the next turn</span>}
      {error && <span class="error-text">{error}</span>}
    </form>
  );
}

/** The messages of a run or of the whole queue, oldest first. */
export function AgentMessageList({ messages }: { messages: readonly AgentMessageRecord[] }) {
  if (messages.length === 0) return <p class="muted empty">No messages.</p>;
  return (
    <table class="grid" data-table="agent-messages">
      <GridHead columns={['#', 'sent', 'from', 'to', 'delivered', 'text']} />
      <tbody>
        {messages.map((message) => (
          <tr key={message.id} data-message-id={message.id}>
            <td class="num">{message.id}</td>
            <td>{time(message.createdAt)}</td>
            <td>{message.senderRunId ? <>{senderText(message)} <RunLink run={{ id: message.senderRunId }} /></> : senderText(message)}</td>
            <td>{recipientText(message)}</td>
            <td data-field="delivered">{message.deliveredAt ? <>{time(message.deliveredAt)} {message.deliveredToRun && <RunLink run={{ id: message.deliveredToRun }} />}</> : message.recipientKind === 'human' ? '—' : <span class="muted">waiting</span>}</td>
            <td class="message-body">{message.body}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function AnswerBox({ question, onAnswered }: { question: QuestionRecord; onAnswered: () => void }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const answer = (value: string) => {
    if (value.trim().length === 0) return;
    setSending(true);
    setError(null);
    postJson<AnswerResponse>(`/api/questions/${question.id}/answer`, { text: value })
      .then(() => onAnswered())
      .catch((failure: unknown) => {
        setSending(false);
        setError(errorText(failure));
      });
  };
  return (
    <form
      class="message-box"
      data-field="answer-box"
      onSubmit={(event) => {
        event.preventDefault();
        answer(text);
      }}
    >
      {question.choices?.map((choice) => (
        <button type="button" key={choice} data-choice={choice} disabled={sending} onClick={() => answer(choice)}>
          {choice}
        </button>
      ))}
      <textarea name="answer" rows={1} placeholder="Your answer" value={text} onInput={(event) => setText((event.target as HTMLTextAreaElement).value)} />
      <button type="submit" data-action="answer" disabled={sending || text.trim().length === 0}>
        Answer
      </button>
      {error && <span class="error-text">{error}</span>}
    </form>
  );
}

/** Questions agents asked that wait for a person: each with its answer box (the first answer wins). */
export function QuestionsCard({ questions, onAnswered }: { questions: readonly QuestionRecord[]; onAnswered: () => void }) {
  if (questions.length === 0) return null;
  return (
    <Card title={`Waiting for you (${questions.length})`}>
      <ul class="questions" data-list="questions">
        {questions.map((question) => (
          <li key={question.id} data-question-id={question.id}>
            <div>
              <strong>question {question.id}</strong> from {question.role ?? 'agent'}
              {question.workItemId ? ` of ${question.workItemId}` : ''} <RunLink run={{ id: question.runId }} /> <span class="muted">{time(question.createdAt)}</span>
              {question.deadlineAt && <span class="muted"> · until {time(question.deadlineAt)}</span>}
            </div>
            <p class="question-text">{question.text}</p>
            <AnswerBox question={question} onAnswered={onAnswered} />
          </li>
        ))}
      </ul>
    </Card>
  );
}

/** Every message between agents and people, and the open questions. */
export function MessagesPage() {
  const [data, setData] = useState<AgentMessagesResponse | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    getJson<AgentMessagesResponse>('/api/agent-messages')
      .then((response) => {
        setData(response);
        setError(null);
      })
      .catch((failure: unknown) => setError(errorText(failure)));
  }, [version]);
  const reload = () => setVersion((value) => value + 1);
  return (
    <div class="page">
      <ErrorBox error={error} />
      {data && <QuestionsCard questions={data.openQuestions} onAnswered={reload} />}
      <Card title={`Messages${data ? ` (${data.messages.length})` : ''}`} actions={<button onClick={reload}>refresh</button>}>
        {data === null ? <p class="muted">loading…</p> : <AgentMessageList messages={data.messages} />}
      </Card>
    </div>
  );
}
