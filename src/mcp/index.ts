export { ControlChannelTransport, InvalidMcpMessageError } from './control-channel-transport.js';
export { defineTool, type ToolCall, type ToolDefinition, type ToolReply, type ToolSpec } from './tool-definition.js';
export { createToolServer, type ToolServerOptions } from './tool-server.js';
