import { describe, expect, it } from 'vitest';
import { assertBranchName } from '../../../src/git/git-command.js';
import { cacheDirName, gitCredentialEnv, normalizeRemoteUrl, parseRemoteUrl, redactUrlCredentials } from '../../../src/git/remote-url.js';

describe('normalizeRemoteUrl: one key for every spelling of one repository', () => {
  it.each([
    'https://github.com/owner/repo.git',
    'https://github.com/owner/repo',
    'https://github.com/owner/repo/',
    'https://GitHub.com/Owner/Repo.git',
    'https://github.com:443/owner/repo.git',
    'http://github.com/owner/repo',
    'https://x-access-token:ghs_secret123456@github.com/owner/repo.git',
    'https://token123456@github.com/owner/repo.git',
    'ssh://git@github.com/owner/repo.git',
    'ssh://git@github.com:22/owner/repo',
    'git+ssh://git@github.com/owner/repo.git',
    'git@github.com:owner/repo.git',
    'git@github.com:owner/repo',
    'github.com:owner/repo.git',
    'git@github.com:/owner/repo.git',
    'git://github.com/owner//repo.git',
    '  https://github.com/owner/repo.git  ',
  ])('%s → github.com/owner/repo', (url) => {
    expect(normalizeRemoteUrl(url)).toBe('github.com/owner/repo');
  });

  it('keeps path case on other hosts, and a port that is not the default', () => {
    expect(normalizeRemoteUrl('https://git.example.com/Team/Repo.git')).toBe('git.example.com/Team/Repo');
    expect(normalizeRemoteUrl('ssh://git@git.example.com:2222/team/repo.git')).toBe('git.example.com:2222/team/repo');
    expect(normalizeRemoteUrl('https://git.example.com:8443/team/repo')).toBe('git.example.com:8443/team/repo');
    expect(normalizeRemoteUrl('git@Git.Example.com:team/repo.git')).toBe('git.example.com/team/repo');
  });

  it('decodes percent-escapes and keeps home-relative paths readable', () => {
    expect(normalizeRemoteUrl('https://git.example.com/team/my%20repo.git')).toBe('git.example.com/team/my repo');
    expect(normalizeRemoteUrl('ssh://alice@host/~alice/repo.git')).toBe('host/~alice/repo');
    expect(normalizeRemoteUrl('alice@host:~alice/repo.git')).toBe('host/~alice/repo');
    expect(normalizeRemoteUrl('ssh://git@[::1]:2222/repo.git')).toBe('[::1]:2222/repo');
  });

  it('reads local paths, file URLs and relative paths as one absolute file:// key', () => {
    expect(normalizeRemoteUrl('/srv/git/repo.git')).toBe('file:///srv/git/repo');
    expect(normalizeRemoteUrl('/srv/git/repo')).toBe('file:///srv/git/repo');
    expect(normalizeRemoteUrl('/srv/git/repo/.git')).toBe('file:///srv/git/repo');
    expect(normalizeRemoteUrl('file:///srv/git/repo.git')).toBe('file:///srv/git/repo');
    expect(normalizeRemoteUrl('file://localhost/srv/git/repo.git/')).toBe('file:///srv/git/repo');
    expect(normalizeRemoteUrl('../repo.git', { relativeTo: '/srv/git/work' })).toBe('file:///srv/git/repo');
    expect(normalizeRemoteUrl('repo', { relativeTo: '/srv/git' })).toBe('file:///srv/git/repo');
    expect(normalizeRemoteUrl('./a:b/repo', { relativeTo: '/srv' })).toBe('file:///srv/a:b/repo');
    expect(parseRemoteUrl('/srv/git/repo.git').kind).toBe('local');
  });

  it('tells different repositories apart', () => {
    const keys = new Set(
      ['https://github.com/owner/repo', 'https://github.com/owner/repo2', 'https://gitlab.com/owner/repo', 'ssh://git@github.com:2222/owner/repo', '/owner/repo'].map((url) =>
        normalizeRemoteUrl(url),
      ),
    );
    expect(keys.size).toBe(5);
  });

  it('refuses what is not a remote, without echoing a password', () => {
    expect(() => normalizeRemoteUrl('  ')).toThrow(/empty/);
    expect(() => normalizeRemoteUrl('ssh:///path')).toThrow(expect.objectContaining({ code: 'ORCH_GIT_REMOTE_URL' }));
    expect(() => normalizeRemoteUrl('file://otherhost/srv/repo')).toThrow(/no host/);
    try {
      normalizeRemoteUrl('https://user:hunter2pass@[bad/repo');
      expect.unreachable();
    } catch (error) {
      expect(String(error)).not.toContain('hunter2pass');
    }
  });
});

describe('credentials: kept out of stored URLs and messages', () => {
  it('strips credentials from the URL git stores and keeps them only as the rewrite target', () => {
    const remote = parseRemoteUrl('https://bot:s3cr3t-pass@git.example.com/team/repo.git');
    expect(remote.fetchUrl).toBe('https://git.example.com/team/repo.git');
    expect(remote.credentialUrl).toBe('https://bot:s3cr3t-pass@git.example.com/team/repo.git');
    expect(remote.display).toBe('https://[REDACTED]@git.example.com/team/repo.git');
    expect(gitCredentialEnv(remote, {})).toEqual({
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'url.https://bot:s3cr3t-pass@git.example.com/team/repo.git.insteadOf',
      GIT_CONFIG_VALUE_0: 'https://git.example.com/team/repo.git',
    });
    expect(gitCredentialEnv(remote, { GIT_CONFIG_COUNT: '2' })).toMatchObject({ GIT_CONFIG_COUNT: '3', GIT_CONFIG_KEY_2: expect.any(String) });
  });

  it('keeps an ssh user (not a secret) but not an ssh password', () => {
    const plain = parseRemoteUrl('ssh://git@host/repo.git');
    expect(plain).toMatchObject({ fetchUrl: 'ssh://git@host/repo.git', credentialUrl: null, display: 'ssh://git@host/repo.git' });
    const withPassword = parseRemoteUrl('ssh://git:pw-abcdef@host/repo.git');
    expect(withPassword.fetchUrl).toBe('ssh://git@host/repo.git');
    expect(withPassword.display).toBe('ssh://git:[REDACTED]@host/repo.git');
    const scp = parseRemoteUrl('git:pw-ghijkl@host:repo.git');
    expect(scp.fetchUrl).toBe('git@host:repo.git');
    expect(scp.display).not.toContain('pw-ghijkl');
  });

  it('masks userinfo of every URL in a text, a raw @ in the password included', () => {
    const text = "fatal: unable to access 'https://me:p@ss@word@host/r.git/': 403; also ssh://u:pw@h/x and https://tok@h/y and git@host:r";
    const out = redactUrlCredentials(text);
    expect(out).not.toMatch(/p@ss|word|pw@|tok@/);
    expect(out).toContain('https://[REDACTED]@host/r.git/');
    expect(out).toContain('ssh://u:[REDACTED]@h/x');
    expect(out).toContain('git@host:r');
  });
});

describe('cacheDirName', () => {
  it('is readable, stable and differs per key', () => {
    expect(cacheDirName('github.com/owner/repo')).toMatch(/^owner-repo-[0-9a-f]{12}$/);
    expect(cacheDirName('github.com/owner/repo')).toBe(cacheDirName('github.com/owner/repo'));
    expect(cacheDirName('github.com/owner/repo')).not.toBe(cacheDirName('gitlab.com/owner/repo'));
    expect(cacheDirName('file:///srv/.hidden')).toMatch(/^srv-.hidden-[0-9a-f]{12}$/);
    expect(cacheDirName('file:///')).toMatch(/^[0-9a-f]{12}$/);
  });
});

describe('assertBranchName', () => {
  it.each(['main', 'orchestrator/3-add-login', 'feature/a.b_c-d'])('accepts %s', (name) => {
    expect(() => assertBranchName(name)).not.toThrow();
  });
  it.each(['-rf', 'a..b', 'a b', 'a:b', 'x.lock', 'a/', '/a', 'a//b', '@', 'a@{1}', 'a~1', 'a^', ''])('refuses %j', (name) => {
    expect(() => assertBranchName(name)).toThrow(expect.objectContaining({ code: 'ORCH_GIT_BRANCH_NAME' }));
  });
});
