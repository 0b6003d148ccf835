import type { EventBus, JsonValue } from '../events/index.js';
import { ZERO_TOKENS, UsageTally, priceTable, type PriceTable, type TokenCounts } from '../usage/index.js';
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
  /**
   * An estimate for the session still running, from its token counts and the price table (src/usage; a model
   * without a price adds nothing); replaced by the CLI's figure when it ends.
   */
  estimatedCostUsd: number;
}

interface Tracked extends LiveRunState {
  /** Token totals of the run's finished sessions, from their result messages. */
  finished: TokenCounts;
  /** The current session's API messages, each id once (the CLI repeats a message's usage on each content block). */
  session: UsageTally;
  /**
   * The CLI's reported cost per invocation (one CLI process). Its `total_cost_usd` is cumulative for the process,
   * and a steered session can emit several results: the latest figure counts, never their sum.
   */
  costByInvocation: Map<string, number>;
}

/**
 * Follows the event bus and keeps, for each run that has not ended, its last tool call, its tokens so far and
 * an estimate of its cost so far: what the "Now" page shows without reading the messages table.
 */
export class LiveRuns {
  readonly #runs = new Map<string, Tracked>();
  readonly #prices: PriceTable;

  /** `prices`: the built-in table merged with orchestrator.config.json `pricing`; the built-in one by default. */
  constructor(prices: PriceTable = priceTable()) {
    this.#prices = prices;
  }

  attach(bus: EventBus): () => void {
    const offs = [
      bus.on('run.started', (event) => {
        this.#track(event.runId).session.clear();
      }),
      bus.on('run.message', (record) => {
        const run = this.#track(record.runId);
        const digest = digestOf(record);
        run.messageCount += 1;
        run.lastEventAt = record.at;
        if (digest.toolName && record.type === 'assistant') run.lastToolCall = { name: digest.toolName, summary: digest.summary, at: record.at };
        else if (record.type === 'assistant' && digest.summary) run.lastText = digest.summary;
        if (digest.usage) {
          run.session.add(digest.usage);
          this.#recount(run);
        }
        if (record.type === 'result') {
          const invocationCost = Math.max(run.costByInvocation.get(record.invocationId) ?? 0, digest.costUsd ?? 0);
          run.costByInvocation.set(record.invocationId, invocationCost);
          run.reportedCostUsd = [...run.costByInvocation.values()].reduce((total, cost) => total + cost, 0);
          const usage = resultUsage(record.payload.usage);
          if (usage) {
            run.finished.inputTokens += usage.inputTokens;
            run.finished.outputTokens += usage.outputTokens;
            run.finished.cacheCreationInputTokens += usage.cacheCreationInputTokens;
            run.finished.cacheReadInputTokens += usage.cacheReadInputTokens;
          }
          run.session.clear();
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
    const { session: _session, finished: _finished, costByInvocation: _costs, ...state } = run;
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
        session: new UsageTally(),
        finished: { ...ZERO_TOKENS },
        costByInvocation: new Map(),
      };
      this.#runs.set(runId, run);
    }
    return run;
  }

  /** Tokens so far = the finished sessions' totals + this session's API messages (output estimated from content). */
  #recount(run: Tracked): void {
    const estimate = run.session.estimate(this.#prices);
    run.inputTokens = run.finished.inputTokens + estimate.inputTokens;
    run.outputTokens = run.finished.outputTokens + estimate.outputTokens;
    run.cacheCreationInputTokens = run.finished.cacheCreationInputTokens + estimate.cacheCreationInputTokens;
    run.cacheReadInputTokens = run.finished.cacheReadInputTokens + estimate.cacheReadInputTokens;
    run.estimatedCostUsd = estimate.costUsd ?? 0;
  }
}
