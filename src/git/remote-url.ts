import { createHash } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { OrchestratorError } from '../lib/errors.js';
import { REDACTED, redactText, registerSecret } from '../lib/redact.js';

/**
 * Where a shared remote lives, in the forms the orchestrator needs:
 * - `key`: one identity for one repository however its URL is written (see normalizeRemoteUrl);
 * - `fetchUrl`: the URL git is told to use and that is stored in a clone's config: never any credential;
 * - `display`: what messages show (userinfo redacted);
 * - `credentialUrl`: the URL as given, when it carries credentials (kept in memory only, handed to git through
 *   the environment of its child processes, see gitCredentialEnv), else null.
 */
export interface RemoteLocation {
  key: string;
  fetchUrl: string;
  display: string;
  credentialUrl: string | null;
  kind: 'url' | 'scp' | 'local';
}

export class InvalidRemoteUrlError extends OrchestratorError {
  constructor(display: string, why: string) {
    super('ORCH_GIT_REMOTE_URL', `cannot read the git remote "${display}": ${why}`, {
      hint: 'Give the remote as a URL (https://host/owner/repo.git, ssh://git@host/owner/repo.git), an scp-like address (git@host:owner/repo.git) or a local path.',
    });
  }
}

const URL_FORM = /^([a-z][a-z0-9+.-]*):\/\//i;
/** git's own rule (connect.c, url_is_local_not_ssh): a colon before any slash makes an scp-like address, except a drive letter. */
const SCP_FORM = /^(?:([^@/:]+(?::[^@/]*)?)@)?(\[[^\]]+\]|[^:/]+):(.*)$/;
const WINDOWS_DRIVE = /^[A-Za-z]:[\\/]/;
const DEFAULT_PORTS: Readonly<Record<string, string>> = { ssh: '22', 'git+ssh': '22', 'ssh+git': '22', https: '443', http: '80', git: '9418', ftp: '21', ftps: '990' };
/** Schemes whose whole userinfo is a credential (a token given as the user name is common: https://TOKEN@host/…). */
const USERINFO_IS_SECRET = /^(https?|ftps?)$/i;
/** Hosts whose repository paths are case-insensitive (GitHub documents owner and repository names as such). */
const CASE_INSENSITIVE_HOSTS = new Set(['github.com', 'www.github.com']);

/**
 * Reads a remote address the ways git does: a URL (`https://`, `ssh://`, `git://`, `git+ssh://`, `file://`), an
 * scp-like address (`[user@]host:path`), or a local path (absolute, or relative to `relativeTo`).
 */
export function parseRemoteUrl(input: string, options: { relativeTo?: string } = {}): RemoteLocation {
  const raw = input.trim();
  if (raw === '') throw new InvalidRemoteUrlError('', 'it is empty');
  const scheme = URL_FORM.exec(raw)?.[1]?.toLowerCase();
  if (scheme === 'file') return localLocation(fileUrlPath(raw), raw);
  if (scheme !== undefined) return urlLocation(raw, scheme);
  if (!WINDOWS_DRIVE.test(raw)) {
    const scp = SCP_FORM.exec(raw);
    if (scp && !raw.slice(0, raw.indexOf(':')).includes('/')) return scpLocation(scp[1], scp[2] ?? '', scp[3] ?? '', raw);
  }
  return localLocation(isAbsolute(raw) ? raw : resolve(options.relativeTo ?? '.', raw), raw);
}

/**
 * The repository's identity: one key for every way of writing the same remote, so that worker clone caches and
 * the coordinator lock agree. `https://u:p@GitHub.com:443/Owner/Repo.git/`, `ssh://git@github.com/owner/repo`,
 * `git@github.com:owner/repo.git` → `github.com/owner/repo`. Rules: the scheme, userinfo and default port go; the
 * host is lower case; a trailing `/`, `.git` or `/.git` goes; repeated slashes are one; percent-escapes are
 * decoded; path case is kept (servers differ) except on hosts known to ignore it (github.com). A path relative
 * to the ssh user's home (`host:repo`) is keyed like the absolute one (`ssh://host/repo`): that is what hosting
 * services mean by both. Local repositories are `file://<absolute path>`, with no symbolic link resolved.
 */
export function normalizeRemoteUrl(input: string, options: { relativeTo?: string } = {}): string {
  return parseRemoteUrl(input, options).key;
}

/** A directory name for the repository under a cache directory: readable and unique (`owner-repo-<hash>`). */
export function cacheDirName(key: string): string {
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 12);
  const tail = key.replace(/^file:\/\//, '').split('/').filter(Boolean).slice(-2).join('-');
  const slug = tail.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '').slice(0, 40);
  return slug === '' ? hash : `${slug}-${hash}`;
}

/** A URL with credentials shown as `[REDACTED]` (the whole userinfo for http(s), the password otherwise). */
export function redactRemoteUrl(url: string): string {
  return redactUrlCredentials(url);
}

/** Masks the userinfo of every URL inside `text` (error messages, git's stderr), then known secrets and key shapes. */
export function redactUrlCredentials(text: string): string {
  // Greedy up to the last `@` before the path, so a password holding a raw `@` is masked whole.
  const masked = text.replace(/\b([a-z][a-z0-9+.-]*):\/\/([^\s/?#'"<>]+)@/gi, (_match, scheme: string, userinfo: string) => {
    if (USERINFO_IS_SECRET.test(scheme)) return `${scheme}://${REDACTED}@`;
    const colon = userinfo.indexOf(':');
    return colon < 0 ? `${scheme}://${userinfo}@` : `${scheme}://${userinfo.slice(0, colon)}:${REDACTED}@`;
  });
  return redactText(masked);
}

/**
 * Environment for git child processes that makes git use `credentialUrl` wherever the stored `fetchUrl` is
 * named (`url.<credentialUrl>.insteadOf=<fetchUrl>`, as GIT_CONFIG_COUNT entries, git ≥ 2.31). So the clone's
 * config and the command line (visible to every user in `ps`) never hold the credentials.
 */
export function gitCredentialEnv(remote: RemoteLocation, base: Readonly<Record<string, string | undefined>>): Record<string, string> {
  if (remote.credentialUrl === null) return {};
  const count = Number.parseInt(base.GIT_CONFIG_COUNT ?? '0', 10) || 0;
  return {
    GIT_CONFIG_COUNT: String(count + 1),
    [`GIT_CONFIG_KEY_${count}`]: `url.${remote.credentialUrl}.insteadOf`,
    [`GIT_CONFIG_VALUE_${count}`]: remote.fetchUrl,
  };
}

function urlLocation(raw: string, scheme: string): RemoteLocation {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidRemoteUrlError(redactUrlCredentials(raw), 'it is not a valid URL');
  }
  const host = url.hostname.toLowerCase();
  if (host === '') throw new InvalidRemoteUrlError(redactUrlCredentials(raw), 'it names no host');
  const port = url.port !== '' && url.port !== DEFAULT_PORTS[scheme] ? `:${url.port}` : '';
  const password = safeDecode(url.password);
  const username = safeDecode(url.username);
  const secretUserinfo = USERINFO_IS_SECRET.test(scheme) ? url.username !== '' || url.password !== '' : url.password !== '';
  if (secretUserinfo) {
    registerSecret(password);
    if (USERINFO_IS_SECRET.test(scheme)) registerSecret(username);
  }
  const keptUser = USERINFO_IS_SECRET.test(scheme) || url.username === '' ? '' : `${url.username}@`;
  const fetchUrl = secretUserinfo ? `${url.protocol}//${keptUser}${url.host}${url.pathname}${url.search}` : raw;
  return {
    key: `${host}${port}/${normalizePath(safeDecode(url.pathname), host)}`,
    fetchUrl,
    display: redactUrlCredentials(raw),
    credentialUrl: secretUserinfo ? raw : null,
    kind: 'url',
  };
}

function scpLocation(userinfo: string | undefined, hostPart: string, path: string, raw: string): RemoteLocation {
  const host = hostPart.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === '') throw new InvalidRemoteUrlError(redactUrlCredentials(raw), 'it names no host');
  if (path === '') throw new InvalidRemoteUrlError(redactUrlCredentials(raw), 'it names no repository path');
  const colon = userinfo?.indexOf(':') ?? -1;
  // ssh never takes a password from the address; if one was written anyway, it is kept out of everything.
  if (userinfo !== undefined && colon >= 0) registerSecret(userinfo.slice(colon + 1));
  const fetchUrl = userinfo !== undefined && colon >= 0 ? `${userinfo.slice(0, colon)}@${hostPart}:${path}` : raw;
  return {
    key: `${host}/${normalizePath(path, host)}`,
    fetchUrl,
    display: userinfo !== undefined && colon >= 0 ? `${userinfo.slice(0, colon)}:${REDACTED}@${hostPart}:${path}` : raw,
    credentialUrl: fetchUrl === raw ? null : raw,
    kind: 'scp',
  };
}

function localLocation(path: string, raw: string): RemoteLocation {
  const absolute = resolve(path);
  return { key: `file://${absolute === '/' ? '/' : `/${normalizePath(absolute, '')}`}`, fetchUrl: raw, display: raw, credentialUrl: null, kind: 'local' };
}

function fileUrlPath(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidRemoteUrlError(raw, 'it is not a valid file URL');
  }
  if (url.hostname !== '' && url.hostname !== 'localhost') throw new InvalidRemoteUrlError(raw, 'a file URL must name no host (file:///path)');
  return safeDecode(url.pathname);
}

function normalizePath(path: string, host: string): string {
  let out = path.replace(/\\/g, '/').replace(/\/{2,}/g, '/').replace(/^\/+/, '').replace(/\/+$/, '');
  out = out.replace(/\/\.git$/, '').replace(/\.git$/, '').replace(/\/+$/, '');
  return CASE_INSENSITIVE_HOSTS.has(host) ? out.toLowerCase() : out;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
