/**
 * Reads a status the way a person does: the leading status emoji or word decides, whatever follows is a note.
 * `✅ Complete (2025-10-19) - HIGH PRIORITY`, `✅ **COMPLETE** (2025-10-16)`, `📝 Planned - Phase 4`, `done`,
 * any case, bold or not. Positions are kept so that a writer can change the status and nothing else.
 */
export const RoadmapStatus = {
  planned: 'planned',
  inProgress: 'in_progress',
  complete: 'complete',
  blocked: 'blocked',
  manualReview: 'manual_review',
} as const;
export type RoadmapStatus = (typeof RoadmapStatus)[keyof typeof RoadmapStatus];

/** Where a status was found in a text: its emoji and/or word (half-open ranges), and the note after it. */
export interface StatusReading {
  status: RoadmapStatus;
  emoji: { start: number; end: number } | null;
  word: { start: number; end: number } | null;
  /** What follows the status, without the separator: "(2025-10-19) - HIGH PRIORITY". Empty when nothing. */
  note: string;
}

const STATUS_EMOJI: readonly (readonly [string, RoadmapStatus])[] = [
  ['✅', 'complete'],
  ['✔️', 'complete'],
  ['✔', 'complete'],
  ['☑️', 'complete'],
  ['🔄', 'in_progress'],
  ['⏸️', 'blocked'],
  ['⏸', 'blocked'],
  ['📝', 'planned'],
  ['🚧', 'manual_review'],
];

/** Status words, sticky (matched where the emoji left off, without slicing); not followed by a letter or digit. */
const STATUS_WORDS: readonly (readonly [RegExp, RoadmapStatus])[] = [
  [/manual\s+review(?:\s+required)?(?![\p{L}\p{N}])/iuy, 'manual_review'],
  [/(?:complete|completed|done|finished)(?![\p{L}\p{N}])/iuy, 'complete'],
  [/(?:in[\s-]progress|wip|ongoing)(?![\p{L}\p{N}])/iuy, 'in_progress'],
  [/(?:blocked|on[\s-]hold)(?![\p{L}\p{N}])/iuy, 'blocked'],
  [/(?:planned|not[\s-]started|to[\s-]?do)(?![\p{L}\p{N}])/iuy, 'planned'],
];
/** First letters of the status words: a cheap test before the regexes. */
const STATUS_WORD_START = /[mcdfiwobnpt]/iy;

const CANONICAL_EMOJI: Record<RoadmapStatus, string> = { planned: '📝', in_progress: '🔄', complete: '✅', blocked: '⏸️', manual_review: '🚧' };
const CANONICAL_WORD: Record<RoadmapStatus, string> = { planned: 'Planned', in_progress: 'In Progress', complete: 'Complete', blocked: 'Blocked', manual_review: 'Manual Review Required' };

/** The status as the orchestrator writes it when there is no style to keep: `✅ Complete`. */
export function formatStatus(status: RoadmapStatus): string {
  return `${CANONICAL_EMOJI[status]} ${CANONICAL_WORD[status]}`;
}

export const KNOWN_STATUSES_HINT = 'Start the status with one of: 📝 Planned, 🔄 In Progress, ✅ Complete, ⏸️ Blocked, 🚧 Manual Review Required (anything after it is kept as a note).';

const EMPHASIS = /[*_\s]*/y;
const OTHER_EMOJI = /\p{Extended_Pictographic}\uFE0F?/uy;

function skipEmphasis(text: string, from: number): number {
  EMPHASIS.lastIndex = from;
  return EMPHASIS.test(text) ? EMPHASIS.lastIndex : from;
}
const NOTE_SEPARATOR = /^[*_\s\-—–:|,;.]+/;

/** Reads the status at the start of `text`, or null when it does not start with one. */
export function readLeadingStatus(text: string): StatusReading | null {
  let index = skipEmphasis(text, 0);
  let status: RoadmapStatus | null = null;
  let emoji: StatusReading['emoji'] = null;
  let word: StatusReading['word'] = null;
  for (const [symbol, meaning] of STATUS_EMOJI) {
    if (text.startsWith(symbol, index)) {
      let end = index + symbol.length;
      if (text.charCodeAt(end) === 0xfe0f) end += 1;
      emoji = { start: index, end };
      status = meaning;
      index = end;
      break;
    }
  }
  // Another emoji before a status word (`⏳ In Progress`, `🟡 Planned`): the word decides, the emoji is replaced with it.
  let otherEmoji: StatusReading['emoji'] = null;
  if (status === null) {
    OTHER_EMOJI.lastIndex = index;
    if (OTHER_EMOJI.test(text)) otherEmoji = { start: index, end: OTHER_EMOJI.lastIndex };
  }
  const afterEmoji = skipEmphasis(text, otherEmoji?.end ?? index);
  STATUS_WORD_START.lastIndex = afterEmoji;
  if (STATUS_WORD_START.test(text)) {
    for (const [pattern, meaning] of STATUS_WORDS) {
      pattern.lastIndex = afterEmoji;
      if (!pattern.test(text)) continue;
      // With an emoji, the emoji decides; a word that says something else is part of the note.
      if (status === null || status === meaning) {
        status = meaning;
        emoji ??= otherEmoji;
        word = { start: afterEmoji, end: pattern.lastIndex };
        index = word.end;
      }
      break;
    }
  }
  if (status === null) return null;
  return { status, emoji, word, note: text.slice(index).replace(NOTE_SEPARATOR, '').trim() };
}

/** `text` with the status changed to `status`, keeping its style (emoji, word, case, bold) and its note. */
export function replaceStatus(text: string, reading: StatusReading, status: RoadmapStatus): string {
  let out = text;
  // Right to left, so earlier positions stay valid.
  if (reading.word) {
    const old = text.slice(reading.word.start, reading.word.end);
    const replacement = old === old.toUpperCase() && old !== old.toLowerCase() ? CANONICAL_WORD[status].toUpperCase() : CANONICAL_WORD[status];
    out = out.slice(0, reading.word.start) + replacement + out.slice(reading.word.end);
  }
  if (reading.emoji) {
    out = out.slice(0, reading.emoji.start) + CANONICAL_EMOJI[status] + out.slice(reading.emoji.end);
  }
  return out;
}

const PICTOGRAPH = /\p{Extended_Pictographic}/u;
const NON_ASCII = /[^\x00-\x7f]/;
const BRACKETED_WORD_STATUS = /\s(?:[-—–|]\s*|\(|\[)\s*((?:manual\s+review(?:\s+required)?|complete|completed|done|in[\s-]progress|blocked|planned)[)\]]?(?:\s*\(.*\))?)\s*$/iu;

/** A heading's tail after the title: a status, a marker that is not a status, or nothing. */
export type HeadingTail = { kind: 'status'; reading: StatusReading; offset: number } | { kind: 'marker'; text: string } | { kind: 'none' };

/**
 * Splits a heading's text after `PRIORITY n:` into title and tail. The tail starts at the first emoji (`✅ Complete
 * (Phase 2)`, `⚡ NEW`, `🔴 P0 CRITICAL`) or is a bracketed status word at the very end (`- Complete`, `(Done)`).
 * `offset` is where the tail starts in `text`, so the status can be rewritten in place.
 */
export function splitHeadingTitle(text: string): { title: string; tail: HeadingTail } {
  const pictograph = NON_ASCII.test(text) ? PICTOGRAPH.exec(text) : null;
  if (pictograph && pictograph.index > 0) {
    const tailText = text.slice(pictograph.index);
    const title = cleanTitle(text.slice(0, pictograph.index));
    const reading = readLeadingStatus(tailText);
    if (reading) return { title, tail: { kind: 'status', reading, offset: pictograph.index } };
    return { title, tail: { kind: 'marker', text: tailText.trim() } };
  }
  const bracketed = BRACKETED_WORD_STATUS.exec(text);
  if (bracketed?.[1]) {
    const offset = text.length - bracketed[0].length + bracketed[0].indexOf(bracketed[1]);
    const tailText = text.slice(offset);
    const reading = readLeadingStatus(tailText);
    if (reading) {
      reading.note = reading.note.replace(/^[)\]]\s*/, '').trim();
      return { title: cleanTitle(text.slice(0, text.length - bracketed[0].length)), tail: { kind: 'status', reading, offset } };
    }
  }
  return { title: cleanTitle(text), tail: { kind: 'none' } };
}

function cleanTitle(text: string): string {
  return text.replace(/\*\*|__/g, '').replace(/[\s\-—–|:]+$/u, '').trim();
}
