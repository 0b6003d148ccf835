import { memo } from 'preact/compat';
import type { JsonObject, JsonValue, MessageRecord } from '../api-types.js';
import { duration, money, time } from './format.js';

function asObject(value: JsonValue | undefined): JsonObject | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : null;
}

function asArray(value: JsonValue | undefined): JsonValue[] {
  return Array.isArray(value) ? value : [];
}

/** A scalar for display ('' for anything else). */
function scalar(value: JsonValue | undefined): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
}

function pretty(value: JsonValue | undefined): string {
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

function resultText(content: JsonValue | undefined): string {
  if (typeof content === 'string') return content;
  return asArray(content)
    .map((part) => {
      const item = asObject(part);
      return typeof item?.text === 'string' ? item.text : pretty(part);
    })
    .join('\n');
}

/** The tool name of every tool_use id seen so far, so a tool result can say which call it answers. */
export function toolNamesById(messages: readonly MessageRecord[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const message of messages) {
    if (message.type !== 'assistant') continue;
    for (const block of asArray(asObject(message.payload.message)?.content)) {
      const item = asObject(block);
      if (item?.type === 'tool_use' && typeof item.id === 'string' && typeof item.name === 'string') names.set(item.id, item.name);
    }
  }
  return names;
}

function AssistantBlocks({ message }: { message: MessageRecord }) {
  const blocks = asArray(asObject(message.payload.message)?.content);
  return (
    <>
      {blocks.map((block, index) => {
        const item = asObject(block);
        if (item?.type === 'text' && typeof item.text === 'string') {
          return (
            <div key={index} class="tl-item tl-text" data-kind="text">
              <div class="tl-label">assistant</div>
              <div class="tl-body prose">{item.text}</div>
            </div>
          );
        }
        if (item?.type === 'tool_use') {
          const input = asObject(item.input);
          const body = pretty(input ?? {});
          return (
            <div key={index} class="tl-item tl-tool" data-kind="tool_use" data-tool={scalar(item.name)}>
              <div class="tl-label">
                tool call <span class="tool-name">{scalar(item.name)}</span>
              </div>
              <details class="tl-body" open={body.length < 2000}>
                <summary class="mono">{typeof input?.file_path === 'string' ? input.file_path : typeof input?.command === 'string' ? input.command : 'input'}</summary>
                <ToolInput input={input} />
              </details>
            </div>
          );
        }
        if (item?.type === 'thinking') {
          return (
            <details key={index} class="tl-item tl-thinking" data-kind="thinking">
              <summary class="tl-label">thinking</summary>
              <pre>{typeof item.thinking === 'string' ? item.thinking : ''}</pre>
            </details>
          );
        }
        return null;
      })}
    </>
  );
}

/** A tool call's input: short values inline, long or multi-line ones (file contents, edits) as blocks. */
function ToolInput({ input }: { input: JsonObject | null }) {
  const entries = Object.entries(input ?? {});
  return (
    <div class="tool-input">
      {entries.map(([key, value]) => {
        const text = pretty(value);
        return text.includes('\n') || text.length > 100 ? (
          <div key={key}>
            <div class="muted small">{key}</div>
            <pre>{text}</pre>
          </div>
        ) : (
          <div key={key}>
            <span class="muted small">{key}:</span> <span class="mono">{text}</span>
          </div>
        );
      })}
    </div>
  );
}

function ToolResults({ message, names }: { message: MessageRecord; names: Map<string, string> }) {
  const content = asObject(message.payload.message)?.content;
  const blocks = asArray(content).map(asObject).filter((item) => item?.type === 'tool_result');
  if (blocks.length === 0) {
    const text = resultText(content);
    return (
      <div class="tl-item tl-system" data-kind="user">
        <div class="tl-label">user · {text.slice(0, 300) || '(empty)'}</div>
      </div>
    );
  }
  return (
    <>
      {blocks.map((item, index) => {
        const text = resultText(item?.content);
        const name = typeof item?.tool_use_id === 'string' ? (names.get(item.tool_use_id) ?? 'tool') : 'tool';
        const failed = item?.is_error === true;
        return (
          <details key={index} class={`tl-item tl-result${failed ? ' tl-error' : ''}`} data-kind="tool_result">
            <summary class="tl-label">
              {failed ? 'tool error' : 'tool result'} · {name} <span class="muted">({text.length.toLocaleString('en-US')} chars)</span>
            </summary>
            <pre>{text}</pre>
          </details>
        );
      })}
    </>
  );
}

function ResultItem({ message }: { message: MessageRecord }) {
  const payload = message.payload;
  const failed = payload.is_error === true || (message.subtype !== null && message.subtype !== 'success');
  const usage = asObject(payload.usage);
  return (
    <div class={`tl-item tl-final${failed ? ' tl-error' : ''}`} data-kind="result">
      <div class="tl-label">
        result · {message.subtype ?? 'done'} · {money(typeof payload.total_cost_usd === 'number' ? payload.total_cost_usd : null)} · {typeof payload.num_turns === 'number' ? `${payload.num_turns} turns` : ''} ·{' '}
        {duration(typeof payload.duration_ms === 'number' ? payload.duration_ms : null)}
        {usage ? ` · ${scalar(usage.input_tokens ?? 0)} in / ${scalar(usage.output_tokens ?? 0)} out` : ''}
      </div>
      {typeof payload.result === 'string' && <div class="tl-body prose">{payload.result}</div>}
      {asArray(payload.errors).length > 0 && <pre class="tl-body">{pretty(payload.errors)}</pre>}
    </div>
  );
}

/** One message of the timeline; memoized, so a new message renders one item, not the whole list. */
export const TimelineItem = memo(function TimelineItem({ message, names }: { message: MessageRecord; names: Map<string, string> }) {
  const stamp = <span class="tl-time">{time(message.at)}</span>;
  let body = null;
  switch (message.type) {
    case 'system':
      body =
        message.subtype === 'init' ? (
          <div class="tl-item tl-system" data-kind="init">
            <div class="tl-label">
              session started · {scalar(message.payload.model)} · {asArray(message.payload.tools).length} tools · <span class="mono">{scalar(message.payload.session_id)}</span>
            </div>
          </div>
        ) : (
          <div class="tl-item tl-system" data-kind="system">
            <div class="tl-label">system · {message.subtype}</div>
          </div>
        );
      break;
    case 'assistant':
      body = <AssistantBlocks message={message} />;
      break;
    case 'user':
      body = <ToolResults message={message} names={names} />;
      break;
    case 'result':
      body = <ResultItem message={message} />;
      break;
    default:
      body = (
        <div class="tl-item tl-system" data-kind={message.type}>
          <div class="tl-label">
            {message.type}
            {message.subtype ? ` · ${message.subtype}` : ''}
          </div>
        </div>
      );
  }
  return (
    <li class="tl-entry" data-seq={message.seq} data-type={message.type}>
      {stamp}
      <div class="tl-content">{body}</div>
    </li>
  );
});
