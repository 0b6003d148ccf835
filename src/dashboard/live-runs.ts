import type { EventBus, JsonValue } from '../events/index.js';
import { digestOf } from './message-digest.js';

function resultUsage(value: JsonValue | undefined): { inputTokens: number; outputTokens: number; cacheCreationInputTokens: number; cacheReadInputTokens: number } | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const number = (key: string) => {
    const item = value[key];
    return typeof item === 'number' && Number.isFinite(item) ? item : 0;
  };
  return { inputTokens: number('input_tokens'), outputTokens: number('output_tokens'), cacheCreationInputTokens: number('cache_creation_input_tokens'), cacheReadInputTokens: number('cache_read_input_tokens') };
}

/** What the dashboard knows of a running run beyond its row: what it is doing now and what it has used. */
export interface LiveRunState {
  runId: string;
  messageCount: number;
  lastEventAt: string | null;
  lastToolCall: { name: string; summary: string; at: string } | null;
  lastText: string | null;
  inputTokens: number;
  outputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
  /** Cost reported by the CLI for the run's finished sessions. */
  reportedCostUsd: number;
  /** An estimate for the session still running, from its token counts and list prices; replaced by the CLI's figure when it ends. */
  estimatedCostUsd: number;
}

const CHARS_PER_TOKEN = 4;

/** USD per million tokens: [input, output]. Cache writes cost 1.25× input, cache reads 0.1× input. */
const PRICES: readonly [RegExp, number, number][] = [
  [/opus-4-[5-9]/, 5, 25],
  [/opus/, 15, 75],
  [/sonnet/, 3, 15],
  [/haiku-4/, 1, 5],
  [/haiku/, 0.8, 4],
];

export function estimateCostUsd(model: string | null, usage: { inputTokens: number; outputTokens: number; cacheCreationInputTokens: number; cacheReadInputTokens: number }): number {
  const price = PRICES.find(([pattern]) => pattern.test(model ?? '')) ?? PRICES[2]!;
  const [input, output] = [price[1], price[2]];
  return (usage.inputTokens * input + usage.cacheCreationInputTokens * input * 1.25 + usage.cacheReadInputTokens * input * 0.1 + usage.outputTokens * output) / 1_000_000;
}

interface Tracked extends LiveRunState {
  /** Token totals of the run's finished sessions, from their result messages. */
  finished: { inputTokens: number; outputTokens: number; cacheCreationInputTokens: number; cacheReadInputTokens: number };
  /** Usage per API message id of the current session (the CLI repeats it on each content block). */
  usageByMessage: Map<string, { model: string | null; inputTokens: number; outputTokens: number; cacheCreationInputTokens: number; cacheReadInputTokens: number; contentChars: number }>;
}

/**
 * Follows the event bus and keeps, for each run that has not ended, its last tool call, its tokens so far and
 * an estimate of its cost so far: what the "Now" page shows without reading the messages table.
 */
export class LiveRuns {
  readonly #runs = new Map<string, Tracked>();

  attach(bus: EventBus): () => void {
    const offs = [
      bus.on('run.started', (event) => {
        this.#track(event.runId).usageByMessage.clear();
      }),
      bus.on('run.message', (record) => {
        const run = this.#track(record.runId);
        const digest = digestOf(record);
        run.messageCount += 1;
        run.lastEventAt = record.at;
        if (digest.toolName && record.type === 'assistant') run.lastToolCall = { name: digest.toolName, summary: digest.summary, at: record.at };
        else if (record.type === 'assistant' && digest.summary) run.lastText = digest.summary;
        if (digest.usage) {
          // The CLI repeats a message's usage on each of its content blocks: keep the latest, add up the content.
          const previous = run.usageByMessage.get(digest.usage.messageId);
          run.usageByMessage.set(digest.usage.messageId, { ...digest.usage, contentChars: (previous?.contentChars ?? 0) + digest.usage.contentChars });
          this.#recount(run);
        }
        if (record.type === 'result') {
          run.reportedCostUsd += digest.costUsd ?? 0;
          const usage = resultUsage(record.payload.usage);
          if (usage) {
            run.finished.inputTokens += usage.inputTokens;
            run.finished.outputTokens += usage.outputTokens;
            run.finished.cacheCreationInputTokens += usage.cacheCreationInputTokens;
            run.finished.cacheReadInputTokens += usage.cacheReadInputTokens;
          }
          run.usageByMessage.clear();
          this.#recount(run);
        }
      }),
      bus.on('run.ended', (event) => {
        this.#runs.delete(event.runId);
      }),
    ];
    return () => {
      for (const off of offs) off();
    };
  }

  get(runId: string): LiveRunState | null {
    const run = this.#runs.get(runId);
    if (!run) return null;
    const { usageByMessage: _usage, finished: _finished, ...state } = run;
    return state;
  }

  #track(runId: string): Tracked {
    let run = this.#runs.get(runId);
    if (!run) {
      run = {
        runId,
        messageCount: 0,
        lastEventAt: null,
        lastToolCall: null,
        lastText: null,
        inputTokens: 0,
        outputTokens: 0,
        cacheCreationInputTokens: 0,
        cacheReadInputTokens: 0,
        reportedCostUsd: 0,
        estimatedCostUsd: 0,
        usageByMessage: new Map(),
        finished: { inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 },
      };
      this.#runs.set(runId, run);
    }
    return run;
  }

  /** Tokens so far = the finished sessions' totals + this session's per-message usage. */
  #recount(run: Tracked): void {
    let estimate = 0;
    const session = { ...run.finished };
    for (const usage of run.usageByMessage.values()) {
      // Mid-stream output counts are placeholders: estimate them from the content (about 4 characters a token).
      const outputTokens = Math.max(usage.outputTokens, Math.ceil(usage.contentChars / CHARS_PER_TOKEN));
      session.inputTokens += usage.inputTokens;
      session.outputTokens += outputTokens;
      session.cacheCreationInputTokens += usage.cacheCreationInputTokens;
      session.cacheReadInputTokens += usage.cacheReadInputTokens;
      estimate += estimateCostUsd(usage.model, { ...usage, outputTokens });
    }
    run.inputTokens = session.inputTokens;
    run.outputTokens = session.outputTokens;
    run.cacheCreationInputTokens = session.cacheCreationInputTokens;
    run.cacheReadInputTokens = session.cacheReadInputTokens;
    run.estimatedCostUsd = estimate;
  }
}
