import { RoadmapParseError } from '../lib/errors.js';

/**
 * Parses ROADMAP.md as people write it: `### PRIORITY <n>: <title> <status?>` headings (n may be decimal, 2.5),
 * `## US-<n>: <title>` user stories, a `**Status**:` line under a heading (wins over the heading's own status),
 * `**Depends on**: PRIORITY 1, 2.5` lines. Anything inside fenced code blocks is ignored. Problems (duplicates,
 * headings that look like priorities but do not parse, unknown dependencies) are reported with file:line rather
 * than guessed. One pass over the lines, no backtracking-prone regexes: tens of thousands of lines take ms.
 */
export const RoadmapStatus = {
  planned: 'planned',
  inProgress: 'in_progress',
  complete: 'complete',
  blocked: 'blocked',
  manualReview: 'manual_review',
} as const;
export type RoadmapStatus = (typeof RoadmapStatus)[keyof typeof RoadmapStatus];

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
  position: number;
  dependsOn: string[];
  body: string;
}

export interface RoadmapProblem {
  file: string;
  line: number;
  message: string;
  hint: string;
}

export interface RoadmapParseResult {
  items: RoadmapItem[];
  problems: RoadmapProblem[];
}

/** Status words and emoji, longest first so "Manual Review Required" wins over shorter matches. */
const STATUS_PATTERNS: readonly [RegExp, RoadmapStatus][] = [
  [/(🚧\s*)?manual\s+review(\s+required)?\s*$/i, 'manual_review'],
  [/🚧\s*$/u, 'manual_review'],
  [/(✅\s*)?(complete|completed|done)\s*$/i, 'complete'],
  [/✅\s*$/u, 'complete'],
  [/(🔄\s*)?in[\s-]progress\s*$/i, 'in_progress'],
  [/🔄\s*$/u, 'in_progress'],
  [/(⏸️?\s*)?blocked\s*$/iu, 'blocked'],
  [/⏸️?\s*$/u, 'blocked'],
  [/(📝\s*)?planned\s*$/i, 'planned'],
  [/📝\s*$/u, 'planned'],
];

/** Reads a status at the end of a text; returns it and the text without it. */
export function splitStatus(text: string): { rest: string; status: RoadmapStatus | null } {
  const trimmed = text.trimEnd();
  for (const [pattern, status] of STATUS_PATTERNS) {
    const match = pattern.exec(trimmed);
    if (match) return { rest: trimmed.slice(0, match.index).replace(/[\s\-—–|:]+$/u, '').trimEnd(), status };
  }
  return { rest: trimmed, status: null };
}

const HEADING = /^(#{2,4})\s+(.*)$/;
const PRIORITY_START = /^priority\b/i;
const PRIORITY_HEADING = /^priority\s+(\d+(?:\.\d+)*)\s*(?::|\s-\s|\s—\s|\s–\s)\s*(.*)$/i;
const STORY_HEADING = /^(US-\d+(?:\.\d+)*)\s*(?::|\s-\s|\s—\s|\s–\s)\s*(.*)$/i;
const STATUS_LINE = /^\s*(?:[-*]\s*)?\*\*status\*\*\s*:\s*(.*)$/i;
const STATUS_LINE_PLAIN = /^\s*status\s*:\s*(.*)$/i;
const DEPENDS_LINE = /^\s*(?:[-*]\s*)?(?:\*\*)?(?:depends\s+on|dependencies)(?:\*\*)?\s*:\s*(?:\*\*)?\s*(.*)$/i;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

/** Lowercase kebab-case, ASCII only, at most 40 characters, no dash at either end. */
export function slugify(title: string): string {
  const ascii = title
    .normalize('NFKD')
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

export function parseRoadmap(text: string, file = 'docs/roadmap/ROADMAP.md'): RoadmapParseResult {
  const lines = text.split(/\r?\n/);
  const items: RoadmapItem[] = [];
  const problems: RoadmapProblem[] = [];
  const firstLineOf = new Map<string, number>();
  const rawDependencies = new Map<RoadmapItem, { line: number; numbers: string[] }[]>();
  let fence: { char: string; length: number } | null = null;
  let current: RoadmapItem | null = null;
  let bodyStart = 0;

  const closeCurrent = (endExclusive: number) => {
    if (!current) return;
    current.body = lines
      .slice(bodyStart, endExclusive)
      .filter((line) => !STATUS_LINE.test(line))
      .join('\n')
      .trim();
    current = null;
  };

  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] ?? '';
    const fenceMatch = FENCE.exec(line);
    if (fence) {
      // A fence closes only with the same character, at least as long, and nothing after it (CommonMark).
      if (fenceMatch?.[1] && fenceMatch[1][0] === fence.char && fenceMatch[1].length >= fence.length && line.trim() === fenceMatch[1]) fence = null;
      continue;
    }
    if (fenceMatch?.[1]) {
      fence = { char: fenceMatch[1][0] ?? '`', length: fenceMatch[1].length };
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      const level = heading[1]?.length ?? 0;
      const content = (heading[2] ?? '').trim();
      const priority = PRIORITY_HEADING.exec(content);
      const story = priority ? null : STORY_HEADING.exec(content);
      if (priority || story) {
        closeCurrent(index);
        const number = (priority?.[1] ?? story?.[1] ?? '').toUpperCase();
        const { rest, status } = splitStatus(priority?.[2] ?? story?.[2] ?? '');
        const title = rest.trim();
        if (title.length === 0) {
          problems.push({ file, line: index + 1, message: `"${content}" has no title`, hint: 'Write a title after the colon: ### PRIORITY 3: Export reports' });
        }
        const previous = firstLineOf.get(number);
        if (previous !== undefined) {
          problems.push({ file, line: index + 1, message: `PRIORITY ${number} appears twice (lines ${previous} and ${index + 1})`, hint: 'Give each priority its own number, e.g. 2.5 for one inserted between 2 and 3.' });
        } else {
          firstLineOf.set(number, index + 1);
        }
        const item: RoadmapItem = {
          number,
          kind: priority ? 'priority' : 'user_story',
          title,
          slug: slugify(title),
          status: status ?? 'planned',
          statusSource: status ? 'heading' : 'default',
          headingLine: index + 1,
          statusLine: null,
          position: items.length,
          dependsOn: [],
          body: '',
        };
        items.push(item);
        current = item;
        bodyStart = index + 1;
        continue;
      }
      if (PRIORITY_START.test(content)) {
        problems.push({ file, line: index + 1, message: `cannot read the heading "${content}"`, hint: 'Write it as ### PRIORITY <number>: <title>, e.g. ### PRIORITY 2: User login' });
      }
      // Any other heading of the same or a higher level ends the current item's body.
      if (current && level <= 3) closeCurrent(index);
      continue;
    }
    if (!current) continue;
    const statusMatch = STATUS_LINE.exec(line) ?? (current.statusLine === null && index === bodyStart ? STATUS_LINE_PLAIN.exec(line) : null);
    if (statusMatch && current.statusLine === null) {
      const { status } = splitStatus(statusMatch[1] ?? '');
      if (status) {
        current.status = status;
        current.statusSource = 'line';
        current.statusLine = index + 1;
      } else {
        problems.push({ file, line: index + 1, message: `unknown status "${(statusMatch[1] ?? '').trim()}"`, hint: 'Use one of: 📝 Planned, 🔄 In Progress, ✅ Complete, ⏸️ Blocked, 🚧 Manual Review Required.' });
      }
      continue;
    }
    const depends = DEPENDS_LINE.exec(line);
    if (depends) {
      const numbers = (depends[1] ?? '')
        .split(/[,;]|\band\b/)
        .map((part) => part.replace(/\*\*/g, '').replace(/priority/i, '').trim().toUpperCase())
        .filter((part) => /^(US-)?\d+(\.\d+)*$/.test(part));
      const list = rawDependencies.get(current) ?? [];
      list.push({ line: index + 1, numbers });
      rawDependencies.set(current, list);
      current.dependsOn.push(...numbers);
    }
  }
  closeCurrent(lines.length);

  const known = new Set(items.map((item) => item.number));
  for (const [item, entries] of rawDependencies) {
    for (const entry of entries) {
      for (const number of entry.numbers) {
        if (!known.has(number)) problems.push({ file, line: entry.line, message: `PRIORITY ${item.number} depends on PRIORITY ${number}, which is not in the roadmap`, hint: 'Fix the number, or add that priority.' });
        if (number === item.number) problems.push({ file, line: entry.line, message: `PRIORITY ${item.number} depends on itself`, hint: 'Remove it from its own Depends on line.' });
      }
    }
  }
  return { items, problems };
}

/** Parses and throws RoadmapParseError (file:line, with the fix) for the first problem. */
export function parseRoadmapOrThrow(text: string, file = 'docs/roadmap/ROADMAP.md'): RoadmapItem[] {
  const { items, problems } = parseRoadmap(text, file);
  const first = problems[0];
  if (first) throw new RoadmapParseError(first.file, first.line, first.message, { hint: first.hint });
  return items;
}
