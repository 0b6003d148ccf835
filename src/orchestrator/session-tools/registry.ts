import type { ToolDefinition } from '../../mcp/index.js';
import { askHumanTool } from './ask-human.js';
import type { SessionToolContext } from './context.js';
import { fileBugTool } from './file-bug.js';
import { readMessagesTool } from './read-messages.js';
import { reportProgressTool } from './report-progress.js';
import { sendMessageTool } from './send-message.js';
import { workItemTool } from './work-item.js';

/**
 * Every tool the orchestrator serves to each session, as `mcp__orchestrator__<name>`. A new tool is one module
 * (defineTool with a strict input schema and a run that acts through the SessionToolContext) plus its line here.
 */
export const SESSION_TOOLS: readonly ToolDefinition<SessionToolContext>[] = [
  reportProgressTool,
  fileBugTool,
  workItemTool,
  sendMessageTool,
  readMessagesTool,
  askHumanTool,
];
