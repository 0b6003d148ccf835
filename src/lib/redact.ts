/**
 * Removes secrets before anything reaches a log, the database or the dashboard. Two layers: values of
 * known secret environment variables (and registered values, such as webhook URLs) are replaced wherever they
 * appear, and anything shaped like an Anthropic/OpenAI/GitHub key, a bearer token or a Slack/Discord/Teams
 * webhook URL is masked even when we were not told about it.
 */
const SECRET_ENV_NAMES = /(_KEY|_TOKEN|_SECRET|PASSWORD|_AUTH|WEBHOOK_URL)$/i;
const SECRET_PATTERNS: readonly RegExp[] = [
  /sk-ant-[A-Za-z0-9_-]{8,}/g,
  /sk-[A-Za-z0-9_-]{16,}/g,
  /gh[pousr]_[A-Za-z0-9]{20,}/g,
  /(Bearer\s+)[A-Za-z0-9._~+/=-]{16,}/gi,
  /(x-api-key["']?\s*[:=]\s*["']?)[^"'\s,}]{8,}/gi,
  // Webhook URLs carry their credential in the path (Slack, Discord, Teams): masked even when not registered.
  /(https:\/\/hooks\.slack\.com\/)[^\s"'<>]+/gi,
  /(https:\/\/(?:[a-z0-9-]+\.)?discord(?:app)?\.com\/api\/webhooks\/)[^\s"'<>]+/gi,
  /(https:\/\/[a-z0-9-]+\.webhook\.office\.com\/)[^\s"'<>]+/gi,
];
export const REDACTED = '[REDACTED]';

const knownSecrets = new Set<string>();

/** Registers secret values (e.g. the API key given to sessions) so they are masked wherever they appear. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 6) knownSecrets.add(value);
}

/** Registers the values of every env var whose name looks secret (…_KEY, …_TOKEN, …). */
export function registerSecretsFromEnv(env: Record<string, string | undefined>): void {
  for (const [name, value] of Object.entries(env)) {
    if (SECRET_ENV_NAMES.test(name)) registerSecret(value);
  }
}

export function redactText(text: string): string {
  let out = text;
  for (const secret of knownSecrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  for (const pattern of SECRET_PATTERNS) {
    out = out.replace(pattern, (match: string, prefix?: string) =>
      typeof prefix === 'string' && match.startsWith(prefix) ? prefix + REDACTED : REDACTED,
    );
  }
  return out;
}

/** Deep-redacts a JSON-like value; strings are masked, structure is kept. */
export function redactValue<T>(value: T): T {
  if (typeof value === 'string') return redactText(value) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => redactValue(item)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) out[key] = redactValue(item);
    return out as T;
  }
  return value;
}

/** Quick check used by hot paths: only strings that may contain a secret need a full redaction pass. */
export function mayContainSecret(text: string): boolean {
  if (/sk-|gh[pousr]_|bearer|api-key|hooks\.slack\.com|\/api\/webhooks\/|webhook\.office\.com/i.test(text)) return true;
  for (const secret of knownSecrets) if (text.includes(secret)) return true;
  return false;
}
