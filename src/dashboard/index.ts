export { createDashboardApp, type DashboardAppOptions, type DashboardControls, type DocumentReader } from './app.js';
export type * from './api-types.js';
export { EventLog, type LoggedEvent } from './event-log.js';
export { LiveRuns } from './live-runs.js';
export { digestMessage } from './message-digest.js';
export { startDashboard, type RunningDashboard, type StartDashboardOptions } from './server.js';
export { StoreFeed } from './store-feed.js';
