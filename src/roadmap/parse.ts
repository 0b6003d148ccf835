import { RoadmapParseError } from '../lib/errors.js';
import { readHeadingLine } from './heading.js';
import { KNOWN_STATUSES_HINT, readLeadingStatus, type RoadmapStatus } from './status-text.js';

/**
 * Parses ROADMAP.md as people write it, by hand, for months: `### PRIORITY <n>: <title>` headings wherever the
 * emoji and bold are (`### 🔴 **PRIORITY 9: Chat** ⚡ NEW`), `## US-<n>: <title>` user stories, a `**Status**:`
 * line (wins over a status at the end of the heading), `**Depends on**: PRIORITY 1, 2.5`. The leading status emoji
 * or word decides; what follows is the item's note. Fenced code and HTML comments are ignored.
 *
 * Nothing in the file stops the others: every problem is a RoadmapProblem (file:line, severity, the fix). An item
 * whose own status cannot be read is held back (`heldBack` says why); a number seen before is a duplicate (the
 * first stands). One pass over the lines with anchored regexes: a million lines take well under the 5 s target.
 */
export interface RoadmapItem {
  number: string;
  kind: 'priority' | 'user_story';
  title: string;
  slug: string;
  status: RoadmapStatus;
  statusSource: 'line' | 'heading' | 'default';
  /** 1-based line of the heading */
  headingLine: number;
  /** 1-based line of the `**Status**:` line, if any */
  statusLine: number | null;
  /** What follows the status (`(2025-10-19) - HIGH PRIORITY`) and any marker at the end of the heading (`⚡ NEW`). */
  note: string;
  /** Why this item is not worked on although its status may say planned (unreadable status, duplicate, no title). */
  heldBack: string | null;
  position: number;
  dependsOn: string[];
  body: string;
}

export const ProblemSeverity = {
  /** Something in the file is not worked on because of it (held back, duplicate, a dependency that never comes). */
  error: 'error',
  /** The item is worked on, but the file does not say what the reader assumed. */
  warning: 'warning',
} as const;
export type ProblemSeverity = (typeof ProblemSeverity)[keyof typeof ProblemSeverity];

export interface RoadmapProblem {
  file: string;
  line: number;
  severity: ProblemSeverity;
  message: string;
  hint: string;
}

export interface RoadmapParseResult {
  /** One per number, in file order (the first of duplicates). */
  items: RoadmapItem[];
  /** Later items with a number already taken: reported, never worked on. */
  duplicates: RoadmapItem[];
  /** Sorted by line. */
  problems: RoadmapProblem[];
}

const STATUS_LINE = /^\s*(?:>\s*)?(?:[-*+]\s+)?(?:\*\*status\*\*\s*:|\*\*status:\*\*|__status__\s*:|__status:__)\s*(.*)$/i;
const STATUS_LINE_PLAIN = /^\s*(?:[-*+]\s+)?status\s*:\s*(.*)$/i;
const DEPENDS_LINE = /^\s*(?:[-*+]\s*)?(?:\*\*)?(?:depends\s+on|dependencies)(?:\*\*)?\s*:\s*(?:\*\*)?\s*(.*)$/i;
const DEPENDENCY = /^(?:priority|p)?\s*#?\s*((?:US-)?\d+(?:\.\d+)*)(?![\d.]*\w)/i;
const NO_DEPENDENCY = /^(?:none|n\/a|-|—|nothing)?$/i;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;
/** How many lines under a heading a plain `Status:` (without bold) is still read as the item's status. */
const PLAIN_STATUS_WINDOW = 3;

/** Index of the first character that is not a space or tab (the line's length when there is none). */
function firstNonSpace(line: string): number {
  let index = 0;
  while (index < line.length && (line.charCodeAt(index) === 0x20 || line.charCodeAt(index) === 0x09)) index++;
  return index;
}

/** The status value of a `**Status**:` line and where it starts in the line, or null when the line is none. */
export function statusValueOf(line: string, plain = false): { value: string; offset: number } | null {
  const match = STATUS_LINE.exec(line) ?? (plain ? STATUS_LINE_PLAIN.exec(line) : null);
  if (!match) return null;
  const raw = match[1] ?? '';
  const value = raw.trimEnd();
  return { value, offset: line.length - raw.length };
}

/** Lowercase kebab-case, ASCII only, at most 40 characters, no dash at either end. */
export function slugify(title: string): string {
  const ascii = (/[^\x00-\x7f]/.test(title) ? title.normalize('NFKD') : title)
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return ascii.slice(0, 40).replace(/-+$/g, '') || 'item';
}

/** The one naming function for spec files: prompt, check and docs all use it. */
export function specFileName(number: string, title: string): string {
  return `SPEC-${number}-${slugify(title)}.md`;
}

/** The branch of a priority's work: `orchestrator/<n>-<slug>` (dots in n become dashes). */
export function branchName(number: string, title: string): string {
  return `orchestrator/${number.replace(/\./g, '-').toLowerCase()}-${slugify(title)}`;
}

export function itemLabel(item: Pick<RoadmapItem, 'kind' | 'number'>): string {
  return item.kind === 'user_story' ? item.number : `PRIORITY ${item.number}`;
}

interface OpenItem {
  item: RoadmapItem;
  level: number;
  bodyStart: number;
  statusNote: string;
  marker: string | null;
  dependencyLines: { line: number; numbers: string[] }[];
}

export function parseRoadmap(source: string, file = 'docs/roadmap/ROADMAP.md'): RoadmapParseResult {
  const text = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
  const lines = text.split('\n');
  if (text.includes('\r')) for (let index = 0; index < lines.length; index++) lines[index] = (lines[index] ?? '').replace(/\r$/, '');
  const items: RoadmapItem[] = [];
  const duplicates: RoadmapItem[] = [];
  const problems: RoadmapProblem[] = [];
  const opened: OpenItem[] = [];
  const firstLineOf = new Map<string, number>();
  const problem = (line: number, severity: ProblemSeverity, message: string, hint: string) => problems.push({ file, line, severity, message, hint });
  let fence: { char: string; length: number } | null = null;
  let inComment = false;
  let current: OpenItem | null = null;

  const close = (endExclusive: number) => {
    if (!current) return;
    const { item } = current;
    const body: string[] = [];
    for (let index = current.bodyStart; index < endExclusive; index++) {
      const line = lines[index] ?? '';
      if (!STATUS_LINE.test(line)) body.push(line);
    }
    item.body = body.join('\n').trim();
    item.note = [current.statusNote, current.marker ?? ''].filter((part) => part.length > 0).join(' · ');
    if (current.marker !== null && item.statusSource === 'default' && item.heldBack === null) {
      problem(item.headingLine, 'warning', `the heading of ${itemLabel(item)} ends with "${current.marker}", which is not a status: it is read as 📝 Planned`, `Add a **Status**: line under the heading. ${KNOWN_STATUSES_HINT}`);
    }
    current = null;
  };

  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] ?? '';
    if (inComment) {
      if (line.includes('-->')) inComment = false;
      continue;
    }
    const first = firstNonSpace(line);
    const start = line.charCodeAt(first);
    const fenceMatch = first <= 3 && (start === 0x60 || start === 0x7e) ? FENCE.exec(line) : null;
    if (fence) {
      // A fence closes only with the same character, at least as long, and nothing after it (CommonMark).
      if (fenceMatch?.[1] && fenceMatch[1][0] === fence.char && fenceMatch[1].length >= fence.length && line.trim() === fenceMatch[1]) fence = null;
      continue;
    }
    if (fenceMatch?.[1]) {
      fence = { char: fenceMatch[1][0] ?? '`', length: fenceMatch[1].length };
      continue;
    }
    if (start === 0x3c && line.startsWith('<!--', first) && !line.includes('-->')) {
      inComment = true;
      continue;
    }
    const headingLine = start === 0x23 && first <= 3 ? readHeadingLine(line) : null;
    if (headingLine) {
      const { level, heading } = headingLine;
      if (heading.kind === 'item') {
        close(index);
        const lineNumber = index + 1;
        const item: RoadmapItem = {
          number: heading.number,
          kind: heading.itemKind,
          title: heading.title,
          slug: slugify(heading.title),
          status: heading.status ? heading.status.reading.status : 'planned',
          statusSource: heading.status ? 'heading' : 'default',
          headingLine: lineNumber,
          statusLine: null,
          note: '',
          heldBack: null,
          position: items.length,
          dependsOn: [],
          body: '',
        };
        const label = itemLabel(item);
        if (item.title.length === 0) {
          item.heldBack = 'its heading has no title';
          problem(lineNumber, 'error', `${label} has no title, so it is held back`, `Write a title after the colon: ### ${label}: Export reports`);
        }
        const first = firstLineOf.get(item.number);
        if (first !== undefined) {
          item.heldBack = `${label} appears again here; the first one (line ${first}) stands`;
          problem(lineNumber, 'error', `${label} appears twice (lines ${first} and ${lineNumber}): the later one is not worked on`, 'Give each item its own number, e.g. 2.5 for one inserted between 2 and 3, or remove the copy.');
          duplicates.push(item);
        } else {
          firstLineOf.set(item.number, lineNumber);
          items.push(item);
        }
        current = {
          item,
          level,
          bodyStart: index + 1,
          statusNote: heading.status?.reading.note ?? '',
          marker: heading.marker,
          dependencyLines: [],
        };
        opened.push(current);
        continue;
      }
      if (heading.kind === 'unreadable') {
        problem(index + 1, 'error', `cannot read the heading "${heading.text}": it is not worked on`, 'Write it as ### PRIORITY <number>: <title>, e.g. ### PRIORITY 2: User login');
      }
      // A heading of the same or a higher level ends the current item's body; a deeper one is part of it.
      if (current && level <= current.level) close(index);
      continue;
    }
    if (!current) continue;
    const open: OpenItem = current;
    if (open.item.statusLine === null) {
      const statusMatch = STATUS_LINE.exec(line) ?? (index - open.bodyStart < PLAIN_STATUS_WINDOW ? STATUS_LINE_PLAIN.exec(line) : null);
      if (statusMatch) {
        const value = (statusMatch[1] ?? '').trim();
        const reading = readLeadingStatus(value);
        open.item.statusLine = index + 1;
        open.item.statusSource = 'line';
        if (reading) {
          open.item.status = reading.status;
          open.statusNote = reading.note;
        } else {
          open.statusNote = value;
          open.item.heldBack ??= `its status "${value}" cannot be read`;
          problem(index + 1, 'error', `unknown status "${value}": ${itemLabel(open.item)} is held back`, KNOWN_STATUSES_HINT);
        }
        continue;
      }
    }
    const depends = DEPENDS_LINE.exec(line);
    if (depends) {
      const numbers: string[] = [];
      for (const part of (depends[1] ?? '').split(/[,;&]|\band\b/i)) {
        const cleaned = part.replace(/\*\*|__/g, '').replace(/\([^)]*\)/g, '').trim();
        const number = DEPENDENCY.exec(cleaned)?.[1];
        if (number) numbers.push(number.toUpperCase());
        else if (!NO_DEPENDENCY.test(cleaned)) {
          problem(index + 1, 'warning', `cannot read the dependency "${cleaned}" of ${itemLabel(open.item)}: it does not wait for it`, 'Name dependencies by number: **Depends on**: PRIORITY 1, 2.5');
        }
      }
      open.dependencyLines.push({ line: index + 1, numbers });
      open.item.dependsOn.push(...numbers);
    }
  }
  close(lines.length);

  const known = new Set(items.map((item) => item.number));
  const duplicated = new Set(duplicates);
  for (const { item, dependencyLines } of opened) {
    if (duplicated.has(item)) continue;
    for (const entry of dependencyLines) {
      for (const number of entry.numbers) {
        const label = itemLabel(item);
        if (number === item.number) problem(entry.line, 'error', `${label} depends on itself, so it never starts`, 'Remove it from its own Depends on line.');
        else if (!known.has(number)) problem(entry.line, 'error', `${label} depends on PRIORITY ${number}, which is not in the roadmap, so it never starts`, 'Fix the number, or add that priority.');
      }
    }
  }
  problems.sort((a, b) => a.line - b.line);
  return { items, duplicates, problems };
}

/**
 * Parses a roadmap that must be readable as a whole: not binary, with at least one item. Everything else is a
 * problem in the result, never an error. Throws RoadmapParseError (with the fix) only when nothing can be read.
 */
export function parseReadableRoadmap(text: string, file = 'docs/roadmap/ROADMAP.md'): RoadmapParseResult {
  if (text.includes('\u0000')) {
    throw new RoadmapParseError(file, 1, 'is not a text file (it contains NUL bytes)', { hint: `Replace ${file} with the Markdown roadmap (\`orchestrator init\` writes a template).` });
  }
  const parsed = parseRoadmap(text, file);
  if (parsed.items.length === 0) {
    throw new RoadmapParseError(file, 1, 'has no priorities or user stories the orchestrator can read', {
      hint: 'Give each item a heading such as `### PRIORITY 1: User login` with a `**Status**: 📝 Planned` line under it (`orchestrator init` writes a template).',
    });
  }
  return parsed;
}

/** Parses and throws RoadmapParseError (file:line, with the fix) for the first problem of any severity. */
export function parseRoadmapOrThrow(text: string, file = 'docs/roadmap/ROADMAP.md'): RoadmapItem[] {
  const { items, problems } = parseRoadmap(text, file);
  const first = problems[0];
  if (first) throw new RoadmapParseError(first.file, first.line, first.message, { hint: first.hint });
  return items;
}
