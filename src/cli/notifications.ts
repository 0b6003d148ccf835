import { Notifier } from '../notify/index.js';
import { redactText } from '../lib/redact.js';
import type { CommandContext } from './context.js';

/** How long an exiting orchestrator waits for notifications still being delivered (retries included). */
export const NOTIFY_EXIT_GRACE_MS = 10_000;

/**
 * The webhooks of the config, started on the context's bus; null when none is configured (or none has a URL).
 * With workers, the coordinator alone notifies: it hears its own pipeline on its bus, and questions asked in
 * workers' sessions through the store.
 */
export async function openNotifications(ctx: CommandContext): Promise<Notifier | null> {
  const { config, stderr } = ctx;
  for (const hook of config.webhooks) {
    if (hook.url === null) stderr.write(`notifications: webhook ${hook.name} is skipped: ${hook.problem ?? 'it has no URL'}\n`);
  }
  const webhooks = config.webhooks.flatMap((hook) => (hook.url === null ? [] : [{ name: hook.name, url: hook.url, target: hook.target, kinds: hook.events }]));
  if (webhooks.length === 0) return null;
  const { maxAttempts, retryBaseDelayMs, retryMaxDelayMs, timeoutMs, queueSize } = config.notifications;
  return new Notifier({
    bus: ctx.bus,
    store: ctx.store,
    webhooks,
    policy: { maxAttempts, retryBaseDelayMs, retryMaxDelayMs, timeoutMs, queueSize },
    followStore: config.workers.enabled,
    warn: (line) => stderr.write(`${redactText(line)}\n`),
  }).start();
}
