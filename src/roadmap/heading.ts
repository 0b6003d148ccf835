import { readLeadingStatus, splitHeadingTitle, type StatusReading } from './status-text.js';

/** Cheap first test: most headings (`#### Acceptance`) name no item. */
const MAY_BE_ITEM = /priority|US-\d/i;
const LEADING_DECORATION = /^[^\p{L}\p{N}]*/u;
const PRIORITY_HEADING = /^priority\s*#?\s*(\d+(?:\.\d+)*)(?:\*\*|__)?\s*(?::|\s[-—–]\s|\.\s)\s*(.*)$/iu;
const STORY_HEADING = /^(US-\d+(?:\.\d+)*)(?:\*\*|__)?\s*(?::|\s[-—–]\s|\.\s)\s*(.*)$/iu;
/** Looks like an attempt at a priority heading (`PRIORITY 3 Export`, `PRIORITY: x`), not a mention (`Priority Justification`). */
const PRIORITY_ATTEMPT = /^(?:priority\s*(?:#?\s*\d|:)|US-\d)/iu;

export type PriorityHeading =
  | {
      kind: 'item';
      itemKind: 'priority' | 'user_story';
      number: string;
      title: string;
      /** A status in the heading (`✅ Complete (Phase 2)` after the title, or `✅` before PRIORITY); `offset` is where it starts in the line. */
      status: { reading: StatusReading; offset: number } | null;
      /** Text after the title that is not a status: `⚡ NEW`, `🔴 P0 CRITICAL - DO THIS FIRST!`. */
      marker: string | null;
    }
  | { kind: 'unreadable'; text: string }
  | { kind: 'other' };

/** Reads a heading's text (without the `#`s) as a priority or user story, wherever the emoji and bold are. */
export function readPriorityHeading(content: string, contentOffset = 0): PriorityHeading {
  if (!MAY_BE_ITEM.test(content)) return { kind: 'other' };
  const decoration = LEADING_DECORATION.exec(content)?.[0].length ?? 0;
  const text = content.slice(decoration);
  const match = PRIORITY_HEADING.exec(text) ?? STORY_HEADING.exec(text);
  if (!match) return PRIORITY_ATTEMPT.test(text) ? { kind: 'unreadable', text: content } : { kind: 'other' };
  const isPriority = /^priority/i.test(text);
  const rest = match[2] ?? '';
  const restOffset = contentOffset + decoration + text.length - rest.length;
  const { title, tail } = splitHeadingTitle(rest);
  let status = tail.kind === 'status' ? { reading: tail.reading, offset: restOffset + tail.offset } : null;
  if (status === null && decoration > 0) {
    // `### ✅ PRIORITY 7: Logging`: a status emoji before the number.
    const leading = readLeadingStatus(content.slice(0, decoration));
    if (leading?.emoji) status = { reading: { ...leading, note: '' }, offset: contentOffset };
  }
  return {
    kind: 'item',
    itemKind: isPriority ? 'priority' : 'user_story',
    number: (match[1] ?? '').toUpperCase(),
    title,
    status,
    marker: tail.kind === 'marker' ? tail.text : null,
  };
}

/** Reads a whole heading line; null when the line is not a heading. */
export function readHeadingLine(line: string): { level: number; heading: PriorityHeading } | null {
  // By hand rather than with HEADING: this runs on every heading of files with a million lines.
  let index = 0;
  while (index < 3 && line.charCodeAt(index) === 0x20) index++;
  const hashesStart = index;
  while (line.charCodeAt(index) === 0x23) index++;
  const level = index - hashesStart;
  if (level < 1 || level > 6) return null;
  const space = line.charCodeAt(index);
  if (space !== 0x20 && space !== 0x09) return null;
  while (line.charCodeAt(index) === 0x20 || line.charCodeAt(index) === 0x09) index++;
  let end = line.length;
  while (end > index && /\s/.test(line.charAt(end - 1))) end--;
  if (line.charCodeAt(end - 1) === 0x23) {
    // A closing sequence (` ###`) is not part of the text; `C#` is.
    let hashes = end;
    while (hashes > index && line.charCodeAt(hashes - 1) === 0x23) hashes--;
    if (hashes === index) end = index;
    else if (line.charCodeAt(hashes - 1) === 0x20 || line.charCodeAt(hashes - 1) === 0x09) {
      end = hashes;
      while (end > index && /\s/.test(line.charAt(end - 1))) end--;
    }
  }
  return { level, heading: readPriorityHeading(line.slice(index, end), index) };
}
