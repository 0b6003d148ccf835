export { DEFAULT_SESSION_TOOL_SETTINGS, hasTerminal, sessionToolSettingsOf, type AskHumanMode, type SessionToolContext, type SessionToolSettings } from './context.js';
export { SESSION_TOOLS } from './registry.js';
export { SESSION_TOOLS_SERVER, SESSION_TOOL_PREFIX, sessionToolServer, sessionToolsEnv } from './server.js';
export { reportProgressTool } from './report-progress.js';
export { fileBugTool } from './file-bug.js';
export { HISTORY_ENTRIES, MAX_DOCUMENT_CHARS, workItemTool } from './work-item.js';
export { sendMessageTool } from './send-message.js';
export { readMessagesTool } from './read-messages.js';
export { askHumanTool, noAnswerText, UNATTENDED_TEXT } from './ask-human.js';
