import { describe, expect, it } from 'vitest';
import { commandForHints } from '../../../src/cli/invocation.js';

describe('commandForHints', () => {
  it('names the bin when it was run from PATH', () => {
    expect(commandForHints(['/usr/bin/node', '/usr/local/bin/orchestrator'], { PATH: '/usr/bin:/usr/local/bin' }, '/home/u')).toBe('orchestrator');
    expect(commandForHints(['/usr/bin/node', '/opt/p/bin/roadmap-orchestrator'], { PATH: '/opt/p/bin/' }, '/home/u')).toBe('roadmap-orchestrator');
  });

  it('says npx under npx, whichever bin it resolved', () => {
    expect(commandForHints(['/usr/bin/node', '/home/u/app/node_modules/.bin/roadmap-orchestrator'], { PATH: '/usr/bin', npm_command: 'exec' }, '/home/u')).toBe('npx roadmap-orchestrator');
  });

  it('falls back to node and the script path when the bin is not on PATH', () => {
    expect(commandForHints(['/usr/bin/node', '/home/u/app/node_modules/.bin/orchestrator'], { PATH: '/usr/bin' }, '/elsewhere')).toBe('node /home/u/app/node_modules/.bin/orchestrator');
    expect(commandForHints(['/usr/bin/node', '/work/orchestrator/dist/cli/main.js'], { PATH: '/usr/bin' }, '/work/orchestrator')).toBe('node dist/cli/main.js');
  });
});
