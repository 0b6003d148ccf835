import type { ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';

/** One call of a tool, as the server knows it (never who calls: that is the context's, bound to the channel). */
export interface ToolCall {
  /** Aborted when the client cancels the call or the session ends. */
  signal: AbortSignal;
  /** The model's tool_use id, when the CLI sends it (`_meta["claudecode/toolUseId"]`): links a call to its stream line. */
  toolUseId: string | null;
}

/** What a tool answers: its text for the model, and whether it is a refusal or failure (`isError`). */
export interface ToolReply {
  text: string;
  isError?: boolean;
}

/**
 * A tool as written: its name (the model sees `mcp__<server>__<name>`), what it is for, a strict zod object for its
 * arguments (an unknown argument is refused, so no argument can claim to be someone else), and what it does with
 * the context of the session it serves.
 */
export interface ToolSpec<C, S extends z.ZodObject> {
  name: string;
  title?: string;
  description: string;
  input: S;
  annotations?: ToolAnnotations;
  run(args: z.output<S>, context: C, call: ToolCall): Promise<ToolReply>;
}

/** A tool ready to be served: its arguments' type erased, so that tools of any arguments fit one registry. */
export interface ToolDefinition<C> {
  readonly name: string;
  readonly title: string | undefined;
  readonly description: string;
  readonly input: z.ZodObject;
  readonly annotations: ToolAnnotations | undefined;
  /** Parses the arguments with the tool's schema (again: the server already checked them) and runs it. */
  run(args: unknown, context: C, call: ToolCall): Promise<ToolReply>;
}

/** Defines a tool for a registry (one module per tool, each exporting the result of this). */
export function defineTool<C, S extends z.ZodObject>(spec: ToolSpec<C, S>): ToolDefinition<C> {
  return {
    name: spec.name,
    title: spec.title,
    description: spec.description,
    input: spec.input,
    annotations: spec.annotations,
    run: (args, context, call) => spec.run(spec.input.parse(args), context, call),
  };
}
