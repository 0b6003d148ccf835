import { readLeadingStatus, splitHeadingTitle, type StatusReading } from './status-text.js';

/** A Markdown ATX heading: `### text`. */
export const HEADING = /^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/;

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
  const match = HEADING.exec(line);
  if (!match) return null;
  const hashes = match[1] ?? '';
  const content = match[2] ?? '';
  const contentOffset = line.indexOf(content, hashes.length);
  return { level: hashes.length, heading: readPriorityHeading(content, contentOffset) };
}
