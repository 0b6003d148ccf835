import { DEFAULT_AGENTS, parseAgentDefinition } from '../../src/agents/index.js';
import type { WorkItemId } from '../../src/events/index.js';
import type { Role, SessionJob } from '../../src/orchestrator/index.js';

/** A role session as the coordinator would queue it: the built-in agent of `role`, test limits, the item P-1. */
export function roleSessionJob(role: Role, options: { prompt: string; branch: string; paths?: SessionJob['paths'] }): SessionJob {
  return {
    workItemId: 'P-1' as WorkItemId,
    role,
    attempt: 1,
    agent: parseAgentDefinition(DEFAULT_AGENTS[role as keyof typeof DEFAULT_AGENTS]!, `${role}.md`),
    prompt: options.prompt,
    branch: options.branch,
    paths: options.paths ?? {},
    testCommand: 'node --test',
    resumeSessionId: null,
    maxBudgetUsd: null,
    defaultModel: null,
    agentPromptOnly: false,
    limits: { timeoutMs: 120_000, idleTimeoutMs: 60_000, stopGraceMs: 2_000, maxTurns: 20 },
  };
}
