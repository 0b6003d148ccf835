import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { RoadmapParseError } from '../lib/errors.js';
import { parseRoadmap, splitStatus, type RoadmapStatus } from './parse.js';

const CANONICAL: Record<RoadmapStatus, string> = {
  planned: '📝 Planned',
  in_progress: '🔄 In Progress',
  complete: '✅ Complete',
  blocked: '⏸️ Blocked',
  manual_review: '🚧 Manual Review Required',
};

export function formatStatus(status: RoadmapStatus): string {
  return CANONICAL[status];
}

/**
 * Sets one item's status, changing only its status line (the `**Status**:` line, else the status at the end of
 * its heading, else a new `**Status**:` line after the heading). Every other byte is kept, line endings
 * included. Written atomically: a temp file in the same directory, fsync, rename.
 */
export async function writeRoadmapStatus(path: string, number: string, status: RoadmapStatus): Promise<{ changedLine: number; before: string; after: string }> {
  const text = await readFile(path, 'utf8');
  const { items } = parseRoadmap(text, path);
  const item = items.find((candidate) => candidate.number === number.toUpperCase());
  if (!item) throw new RoadmapParseError(path, 1, `PRIORITY ${number} is not in the roadmap`, { hint: 'Check the number with `orchestrator status`.' });
  // Split keeping each line's own terminator, so CRLF files stay CRLF.
  const parts = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const eolOf = (part: string) => (part.endsWith('\r\n') ? '\r\n' : part.endsWith('\n') ? '\n' : '');
  const contentOf = (part: string) => part.slice(0, part.length - eolOf(part).length);
  let changedLine: number;
  let before: string;
  let after: string;
  if (item.statusLine !== null) {
    changedLine = item.statusLine;
    const part = parts[changedLine - 1] ?? '';
    before = contentOf(part);
    after = before.replace(/(\*\*status\*\*\s*:\s*).*$/i, `$1${formatStatus(status)}`);
    parts[changedLine - 1] = after + eolOf(part);
  } else if (item.statusSource === 'heading') {
    changedLine = item.headingLine;
    const part = parts[changedLine - 1] ?? '';
    before = contentOf(part);
    after = `${splitStatus(before).rest} ${formatStatus(status)}`;
    parts[changedLine - 1] = after + eolOf(part);
  } else {
    changedLine = item.headingLine + 1;
    const headingPart = parts[item.headingLine - 1] ?? '';
    const eol = eolOf(headingPart) || '\n';
    before = '';
    after = `**Status**: ${formatStatus(status)}`;
    if (!eolOf(headingPart)) parts[item.headingLine - 1] = headingPart + eol;
    parts.splice(item.headingLine, 0, after + eol);
  }
  await writeFileAtomic(path, parts.join(''));
  return { changedLine, before, after };
}

async function writeFileAtomic(path: string, content: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const mode = (await stat(path)).mode;
  const handle = await open(temp, 'w', mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
