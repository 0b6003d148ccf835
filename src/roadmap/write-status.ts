import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { RoadmapParseError } from '../lib/errors.js';
import { readHeadingLine } from './heading.js';
import { parseRoadmap, statusValueOf } from './parse.js';
import { formatStatus, readLeadingStatus, replaceStatus, type RoadmapStatus } from './status-text.js';

export interface StatusEdit {
  text: string;
  changedLine: number;
  before: string;
  after: string;
}

/**
 * `text` with one item's status set, changing only its status: the status word and emoji of its `**Status**:` line,
 * else of the status at the end of its heading, else a new `**Status**:` line after the heading. The note after
 * the status, the bold, the case and every other byte (line endings included) are kept.
 */
export function setRoadmapStatus(text: string, number: string, status: RoadmapStatus, file = 'docs/roadmap/ROADMAP.md'): StatusEdit {
  const { items } = parseRoadmap(text, file);
  const item = items.find((candidate) => candidate.number === number.toUpperCase());
  if (!item) throw new RoadmapParseError(file, 1, `PRIORITY ${number} is not in the roadmap`, { hint: 'Check the number with `orchestrator plan`.' });
  // Split keeping each line's own terminator, so CRLF files stay CRLF.
  const parts = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const eolOf = (part: string) => (part.endsWith('\r\n') ? '\r\n' : part.endsWith('\n') ? '\n' : '');
  const contentOf = (part: string) => part.slice(0, part.length - eolOf(part).length);
  const rewrite = (lineNumber: number, change: (line: string) => string): StatusEdit => {
    const part = parts[lineNumber - 1] ?? '';
    const before = contentOf(part);
    const after = change(before);
    parts[lineNumber - 1] = after + eolOf(part);
    return { text: parts.join(''), changedLine: lineNumber, before, after };
  };
  if (item.statusLine !== null) {
    return rewrite(item.statusLine, (line) => {
      const found = statusValueOf(line, true);
      if (!found) return line;
      const reading = readLeadingStatus(found.value);
      const value = reading ? replaceStatus(found.value, reading, status) : formatStatus(status);
      return line.slice(0, found.offset) + value + line.slice(found.offset + found.value.length);
    });
  }
  if (item.statusSource === 'heading') {
    return rewrite(item.headingLine, (line) => {
      const heading = readHeadingLine(line)?.heading;
      if (heading?.kind !== 'item' || !heading.status) return line;
      const { offset } = heading.status;
      const tail = line.slice(offset);
      const reading = readLeadingStatus(tail);
      return reading ? line.slice(0, offset) + replaceStatus(tail, reading, status) : line;
    });
  }
  const headingPart = parts[item.headingLine - 1] ?? '';
  const eol = eolOf(headingPart) || '\n';
  const after = `**Status**: ${formatStatus(status)}`;
  if (!eolOf(headingPart)) parts[item.headingLine - 1] = headingPart + eol;
  parts.splice(item.headingLine, 0, after + eol);
  return { text: parts.join(''), changedLine: item.headingLine + 1, before: '', after };
}

/** Sets one item's status in the file (see setRoadmapStatus), atomically: a temp file in the same directory, fsync, rename. */
export async function writeRoadmapStatus(path: string, number: string, status: RoadmapStatus): Promise<{ changedLine: number; before: string; after: string }> {
  const edit = setRoadmapStatus(await readFile(path, 'utf8'), number, status, path);
  await writeFileAtomic(path, edit.text);
  return { changedLine: edit.changedLine, before: edit.before, after: edit.after };
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
