import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/lib/errors.js';
import { REDACTED, mayContainSecret, redactText, redactValue } from '../../../src/lib/redact.js';

async function repoWithConfig(config: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'config-webhooks-'));
  await writeFile(join(dir, 'orchestrator.config.json'), JSON.stringify(config));
  return dir;
}

describe('notifications.webhooks in the config', () => {
  it('reads each URL from the file or its environment variable, names it, and keeps the variable from sessions', async () => {
    const fromEnv = 'https://chat.example.test/hooks/T0ENV/B0ENV/envSecretToken12345';
    const inFile = 'http://127.0.0.1:9/services/T0FILE/B0FILE/fileSecretToken6789';
    const dir = await repoWithConfig({ notifications: { webhooks: [{ name: 'chat', urlEnv: 'CHAT_HOOK' }, { url: inFile, events: ['blocked'] }, { urlEnv: 'UNSET_HOOK' }], maxAttempts: 4 } });
    const config = await loadConfig({ repoRoot: dir, env: { CHAT_HOOK: fromEnv, PATH: '/bin' } });
    expect(config.webhooks).toEqual([
      { name: 'chat', url: fromEnv, target: 'https://chat.example.test/…', events: ['question', 'blocked', 'done', 'budget'], problem: null },
      { name: 'webhook-2', url: inFile, target: 'http://127.0.0.1:9/…', events: ['blocked'], problem: null },
      { name: 'webhook-3', url: null, target: '$UNSET_HOOK', events: ['question', 'blocked', 'done', 'budget'], problem: 'the environment variable UNSET_HOOK is not set' },
    ]);
    expect(config.notifications).toMatchObject({ maxAttempts: 4, retryBaseDelayMs: 1_000, timeoutMs: 10_000, queueSize: 200 });
    expect(config.sessionEnv.CHAT_HOOK).toBeUndefined();
    expect(config.sessionEnv.PATH).toBe('/bin');

    // Registered as secrets: masked wherever text is redacted (logs, the store, the dashboard, printed config).
    expect(redactText(`posting to ${fromEnv} failed`)).toBe(`posting to ${REDACTED} failed`);
    expect(JSON.stringify(redactValue({ config: { webhooks: config.webhooks, notifications: config.notifications } }))).not.toMatch(/envSecretToken|fileSecretToken/);
    // A message that quotes only the path (an HTTP library's error) is masked too.
    expect(redactText('POST /services/T0FILE/B0FILE/fileSecretToken6789 -> 500')).toBe(`POST ${REDACTED} -> 500`);
    expect(mayContainSecret(`x ${inFile}`)).toBe(true);
  });

  it('masks Slack, Discord and Teams webhook URLs even when nobody registered them', () => {
    const slack = 'https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX';
    expect(redactText(`url=${slack} end`)).toBe(`url=https://hooks.slack.com/${REDACTED} end`);
    expect(redactText('https://discord.com/api/webhooks/123456/abcdef-token')).toBe(`https://discord.com/api/webhooks/${REDACTED}`);
    expect(redactText('"https://contoso.webhook.office.com/webhookb2/abc@def/IncomingWebhook/123/456"')).toBe(`"https://contoso.webhook.office.com/${REDACTED}"`);
    expect(mayContainSecret(slack)).toBe(true);
  });

  it('refuses a webhook with both or neither of url and urlEnv, a bad URL, or an unknown kind, saying what to give', async () => {
    const problem = async (webhook: unknown) => ((await loadConfig({ repoRoot: await repoWithConfig({ notifications: { webhooks: [webhook] } }), env: {} }).catch((error: unknown) => error)) as ConfigError).message;
    expect(await problem({ url: 'https://a.test/x', urlEnv: 'X' })).toContain('notifications.webhooks.0: give exactly one of url and urlEnv');
    expect(await problem({ name: 'nothing' })).toContain('give exactly one of url and urlEnv');
    const badUrl = await problem({ url: 'ftp://files.test/secret-path-token' });
    expect(badUrl).toContain('notifications.webhooks.0.url: must be an http:// or https:// URL');
    expect(badUrl).not.toContain('secret-path-token');
    expect(await problem({ urlEnv: 'X', events: ['finished'] })).toMatch(/notifications\.webhooks\.0\.events\.0: .*"question"/);
    expect(await problem({ urlEnv: 'X', secret: true })).toContain('unknown key "notifications.webhooks.0.secret"');
  });
});
