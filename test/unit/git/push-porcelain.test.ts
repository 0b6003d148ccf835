import { describe, expect, it } from 'vitest';
import { GitCommandError } from '../../../src/git/git-command.js';
import { parsePushPorcelain, refusalReason } from '../../../src/git/remote-refs.js';

describe('git push --porcelain', () => {
  const out = ['To https://host/r.git', '*\tHEAD:refs/heads/new\t[new branch]', '!\t1234abcd:refs/heads/main\t[rejected] (stale info)', '-\t:refs/heads/gone\t[deleted]', 'Done'].join('\n');

  it('finds the line of one ref', () => {
    expect(parsePushPorcelain(out, 'refs/heads/new')).toEqual({ flag: '*', to: 'refs/heads/new', summary: '[new branch]' });
    expect(parsePushPorcelain(out, 'refs/heads/main')).toEqual({ flag: '!', to: 'refs/heads/main', summary: '[rejected] (stale info)' });
    expect(parsePushPorcelain(out, 'refs/heads/gone')?.flag).toBe('-');
    expect(parsePushPorcelain(out, 'refs/heads/other')).toBeNull();
  });

  it('reads why an update was refused', () => {
    expect(refusalReason('[rejected] (stale info)')).toBe('moved');
    expect(refusalReason('[rejected] (fetch first)')).toBe('moved');
    expect(refusalReason('[rejected] (non-fast-forward)')).toBe('not_fast_forward');
    expect(refusalReason('[remote rejected] (pre-receive hook declined)')).toBe('refused_by_remote');
  });
});

describe('GitCommandError', () => {
  it('never carries URL credentials, from its arguments or from git’s stderr', () => {
    const error = new GitCommandError(['fetch', 'https://bot:pw-in-args@host/r.git'], '/tmp/x', 128, "fatal: unable to access 'https://bot:pw-in-stderr@host/r.git/': The requested URL returned error: 403");
    const shown = JSON.stringify(error.toObject()) + error.message;
    expect(shown).not.toMatch(/pw-in-args|pw-in-stderr|bot:/);
    expect(error.message).toContain('https://[REDACTED]@host/r.git');
    expect(error.code).toBe('ORCH_GIT_FAILED');
  });
});
