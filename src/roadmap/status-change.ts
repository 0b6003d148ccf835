import { readHeadingLine } from './heading.js';
import { itemLabel, parseRoadmap, statusValueOf, type RoadmapItem } from './parse.js';
import { readLeadingStatus, type StatusReading } from './status-text.js';

/**
 * Checks that `after` differs from `before` only by marking one item complete: its status word or emoji changed
 * (on its Status line, or at the end of its heading), or one `**Status**:` line added under a heading that had no
 * status. Its note and every other line must be as they were. Returns null when so, else what is wrong.
 */
export function checkMarkedComplete(before: string, after: string, number: string, file = 'docs/roadmap/ROADMAP.md'): string | null {
  const beforeItem = parseRoadmap(before, file).items.find((candidate) => candidate.number === number);
  const afterItem = parseRoadmap(after, file).items.find((candidate) => candidate.number === number);
  if (!beforeItem) return `PRIORITY ${number} was not in ${file} before the change`;
  const label = itemLabel(beforeItem);
  if (!afterItem) return `${label} is no longer in ${file}`;
  if (afterItem.status !== 'complete') return `${file} still shows ${label} as ${afterItem.status}`;
  const a = before.split(/\r?\n/);
  const b = after.split(/\r?\n/);
  if (b.length === a.length) {
    const changed = changedLines(a, b);
    const allowed = beforeItem.statusLine ?? beforeItem.headingLine;
    const others = changed.filter((line) => line !== allowed);
    if (others.length > 0) return `the project manager changed more than the status of ${label}: line(s) ${describeLines(others)} of ${file}`;
    if (changed.length === 0) return `${file} is unchanged`;
    return checkSameLineKept(a[allowed - 1] ?? '', b[allowed - 1] ?? '', beforeItem, label, allowed === beforeItem.statusLine);
  }
  if (b.length === a.length + 1 && beforeItem.statusLine === null && afterItem.statusLine !== null) {
    const inserted = afterItem.statusLine;
    const withoutInserted = [...b.slice(0, inserted - 1), ...b.slice(inserted)];
    const others = changedLines(a, withoutInserted);
    if (others.length > 0 || inserted <= beforeItem.headingLine) return `the project manager changed more than the status of ${label}: line(s) ${describeLines(others.length > 0 ? others : [inserted])} of ${file}`;
    return null;
  }
  return `the project manager added or removed lines in ${file} (${a.length} → ${b.length} lines); only the status of ${label} may change`;
}

function checkSameLineKept(beforeLine: string, afterLine: string, item: RoadmapItem, label: string, isStatusLine: boolean): string | null {
  const parts = (line: string): { prefix: string; reading: StatusReading | null; value: string } | null => {
    if (isStatusLine) {
      const found = statusValueOf(line, true);
      return found ? { prefix: line.slice(0, found.offset), reading: readLeadingStatus(found.value), value: found.value } : null;
    }
    const heading = readHeadingLine(line)?.heading;
    if (heading?.kind !== 'item') return null;
    const offset = heading.status?.offset ?? line.length;
    const tail = line.slice(offset);
    return { prefix: line.slice(0, offset), reading: readLeadingStatus(tail), value: tail };
  };
  const was = parts(beforeLine);
  const now = parts(afterLine);
  if (!was || !now) return `the project manager rewrote line ${isStatusLine ? (item.statusLine ?? 0) : item.headingLine} of ${label} instead of changing its status`;
  if (was.prefix !== now.prefix) return `the project manager changed ${isStatusLine ? 'the Status line' : 'the heading'} of ${label} beyond its status: "${beforeLine}" → "${afterLine}"`;
  const beforeNote = was.reading?.note ?? was.value;
  const afterNote = now.reading?.note ?? '';
  if (beforeNote !== afterNote) return `the project manager did not keep the note of ${label}: "${beforeNote}" → "${afterNote}"`;
  return null;
}

function changedLines(a: readonly string[], b: readonly string[]): number[] {
  const changed: number[] = [];
  const length = Math.max(a.length, b.length);
  for (let index = 0; index < length; index++) if (a[index] !== b[index]) changed.push(index + 1);
  return changed;
}

function describeLines(lines: readonly number[]): string {
  return lines.length > 5 ? `${lines.slice(0, 5).join(', ')} and ${lines.length - 5} more` : lines.join(', ');
}

/**
 * The batch form of checkMarkedComplete: `after` differs from `before` only by marking each of `numbers` complete
 * (its status changed in place, or one `**Status**:` line added under its heading), notes and every other line
 * as they were. Returns null when so, else the first thing wrong.
 */
export function checkMarkedCompleteAll(before: string, after: string, numbers: readonly string[], file = 'docs/roadmap/ROADMAP.md'): string | null {
  if (numbers.length === 1) return checkMarkedComplete(before, after, numbers[0] ?? '', file);
  const beforeItems = parseRoadmap(before, file).items;
  const afterItems = parseRoadmap(after, file).items;
  const a = before.split(/\r?\n/);
  const b = after.split(/\r?\n/);
  const inserted: number[] = [];
  const inPlace = new Map<number, { item: RoadmapItem; isStatusLine: boolean }>();
  for (const number of numbers) {
    const beforeItem = beforeItems.find((candidate) => candidate.number === number);
    const afterItem = afterItems.find((candidate) => candidate.number === number);
    if (!beforeItem) return `PRIORITY ${number} was not in ${file} before the change`;
    const label = itemLabel(beforeItem);
    if (!afterItem) return `${label} is no longer in ${file}`;
    if (afterItem.status !== 'complete') return `${file} still shows ${label} as ${afterItem.status}`;
    if (beforeItem.statusLine === null && afterItem.statusLine !== null && b[afterItem.headingLine - 1] === a[beforeItem.headingLine - 1]) inserted.push(afterItem.statusLine);
    else inPlace.set(beforeItem.statusLine ?? beforeItem.headingLine, { item: beforeItem, isStatusLine: beforeItem.statusLine !== null });
  }
  if (b.length !== a.length + inserted.length) {
    return `the project manager added or removed lines in ${file} (${a.length} → ${b.length} lines); only the status of ${numbers.map((number) => `PRIORITY ${number}`).join(', ')} may change`;
  }
  const skip = new Set(inserted);
  const withoutInserted = b.filter((_, index) => !skip.has(index + 1));
  const changed = changedLines(a, withoutInserted);
  const others = changed.filter((line) => !inPlace.has(line));
  if (others.length > 0) return `the project manager changed more than the status of ${numbers.map((number) => `PRIORITY ${number}`).join(', ')}: line(s) ${describeLines(others)} of ${file} (before the change)`;
  for (const line of changed) {
    const entry = inPlace.get(line);
    if (!entry) continue;
    const problem = checkSameLineKept(a[line - 1] ?? '', withoutInserted[line - 1] ?? '', entry.item, itemLabel(entry.item), entry.isStatusLine);
    if (problem) return problem;
  }
  return null;
}
