import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigError } from '../lib/errors.js';

/**
 * Scenario files drive the scripted model. A file holds scenarios; each new Claude Code session (identified by
 * the `x-claude-code-session-id` header the CLI sends) is bound to the first scenario whose `match` fits its
 * first request, and then gets that scenario's turns one per request, in order. A retried request (after an
 * error turn) takes the next turn, which is how "529, 529, then success" is scripted.
 *
 * Strings in tool inputs and text may use placeholders: `{{cwd}}` (the session's working directory, read from
 * the request), `{{session_id}}`, and every named group captured by the scenario's `match` regexes.
 */
const usageSchema = z
  .object({
    /** 100 when absent, or the request's estimate when the scenario sets `estimateInputTokens`. */
    input_tokens: z.number().int().nonnegative().optional(),
    output_tokens: z.number().int().nonnegative().default(20),
    cache_creation_input_tokens: z.number().int().nonnegative().default(0),
    cache_read_input_tokens: z.number().int().nonnegative().default(0),
  })
  .strict();

const textBlockSchema = z.object({ type: z.literal('text'), text: z.string() }).strict();
const toolUseBlockSchema = z
  .object({ type: z.literal('tool_use'), name: z.string().min(1), input: z.record(z.string(), z.unknown()) })
  .strict();
const contentBlockSchema = z.discriminatedUnion('type', [textBlockSchema, toolUseBlockSchema]);

/** Flags of an `each` regex: every match (g), `^` and `$` at line ends (m). */
export const EACH_FLAGS = 'gm';

const toolShorthandSchema = z
  .object({
    name: z.string().min(1),
    input: z.record(z.string(), z.unknown()),
    /**
     * A regex (flags g and m) run over the session's first user message (the task prompt): the entry becomes one
     * tool_use per match, in order, each with that match's named groups as placeholders on top of the scenario's
     * own. No match: no tool_use from this entry. E.g. `^PRIORITY (?<n>\d+): (?<title>.+)$` edits every item of a
     * batched project-manager prompt.
     */
    each: z.string().min(1).optional(),
  })
  .strict();

const replyTurnSchema = z
  .object({
    /** Shorthand for one text block. */
    text: z.string().optional(),
    /** Shorthand for tool_use blocks (run in parallel by the CLI when several). */
    tools: z.array(toolShorthandSchema).optional(),
    content: z.array(contentBlockSchema).optional(),
    usage: usageSchema.optional(),
    /** Wait before answering at all. */
    delayMs: z.number().int().nonnegative().optional(),
    /** Wait between streamed chunks (text is streamed in small pieces): makes a slow, live-looking stream. */
    chunkDelayMs: z.number().int().nonnegative().optional(),
  })
  .strict();

const errorTurnSchema = z
  .object({
    error: z
      .object({
        status: z.number().int().min(400).max(599),
        type: z.string().default('api_error'),
        message: z.string().default('scripted error'),
        retryAfterSeconds: z.number().nonnegative().optional(),
      })
      .strict(),
    delayMs: z.number().int().nonnegative().optional(),
  })
  .strict();

/** Never answers: the connection stays open until the server resets or closes. */
const hangTurnSchema = z.object({ hang: z.literal(true) }).strict();
/** Destroys the connection without an answer. */
const dropTurnSchema = z.object({ drop: z.literal(true), delayMs: z.number().int().nonnegative().optional() }).strict();

export const turnSchema = z.union([errorTurnSchema, hangTurnSchema, dropTurnSchema, replyTurnSchema]);

export const scenarioSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    match: z
      .object({
        /** Regex tested against the text of the session's first user message (the task prompt). */
        prompt: z.string().optional(),
        /** Regex tested against the system prompt. */
        system: z.string().optional(),
      })
      .strict()
      .optional(),
    /** How many sessions may bind to this scenario (default: unlimited). */
    maxSessions: z.number().int().positive().optional(),
    /**
     * Reply turns whose usage gives no `input_tokens` report an estimate from the request the CLI really sent
     * (see `estimateInputTokens` in server.ts) instead of 100: token figures measured rather than scripted.
     */
    estimateInputTokens: z.boolean().optional(),
    turns: z.array(turnSchema).min(1),
  })
  .strict()
  .superRefine((scenario, ctx) => {
    for (const [turnIndex, turn] of scenario.turns.entries()) {
      if (!('tools' in turn) || !turn.tools) continue;
      for (const [toolIndex, tool] of turn.tools.entries()) {
        if (tool.each === undefined) continue;
        const problem = regexProblem(tool.each);
        if (problem !== null) {
          ctx.addIssue({
            code: 'custom',
            path: ['turns', turnIndex, 'tools', toolIndex, 'each'],
            message: `scenario "${scenario.name}": \`each\` is not a valid regex (${problem})`,
          });
        }
      }
    }
  });

function regexProblem(pattern: string): string | null {
  try {
    new RegExp(pattern, EACH_FLAGS);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * The placeholder values of every match of an `each` regex in `text`, in order: one record of named groups per
 * match (a group that did not take part is left out). A regex that can match the empty string still advances.
 */
export function eachMatch(pattern: string, text: string): Record<string, string>[] {
  const found: Record<string, string>[] = [];
  for (const match of text.matchAll(new RegExp(pattern, EACH_FLAGS))) {
    const groups: Record<string, string> = {};
    for (const [name, value] of Object.entries(match.groups ?? {})) if (value !== undefined) groups[name] = value;
    found.push(groups);
  }
  return found;
}

export const scenarioFileSchema = z.union([
  z.object({ scenarios: z.array(scenarioSchema).min(1) }).strict(),
  scenarioSchema.transform((scenario) => ({ scenarios: [scenario] })),
]);

export type ScenarioTurn = z.infer<typeof turnSchema>;
export type ReplyTurn = z.infer<typeof replyTurnSchema>;
export type Scenario = z.infer<typeof scenarioSchema>;
export type ScenarioInput = z.input<typeof scenarioSchema>;
export type ScenarioFile = { scenarios: Scenario[] };

export function parseScenarios(value: unknown, source = 'scenario'): Scenario[] {
  const parsed = scenarioFileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw new ConfigError(`${source}: invalid scenario${where}: ${issue?.message ?? 'unknown problem'}`, {
      hint: 'A scenario file is {"scenarios":[{"name","match"?,"turns":[…]}]}; see "Scripted model" in docs/architecture.md.',
    });
  }
  return parsed.data.scenarios;
}

export async function loadScenarioFile(path: string): Promise<Scenario[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read scenario file ${path}`, { cause: error, hint: 'Check the --scenario path.' });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  return parseScenarios(json, path);
}

export function isErrorTurn(turn: ScenarioTurn): turn is z.infer<typeof errorTurnSchema> {
  return 'error' in turn;
}
export function isHangTurn(turn: ScenarioTurn): turn is z.infer<typeof hangTurnSchema> {
  return 'hang' in turn;
}
export function isDropTurn(turn: ScenarioTurn): turn is z.infer<typeof dropTurnSchema> {
  return 'drop' in turn;
}
