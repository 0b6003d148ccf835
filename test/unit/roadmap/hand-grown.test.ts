import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RoadmapParseError } from '../../../src/lib/errors.js';
import { parseReadableRoadmap, parseRoadmap, planRoadmap, readLeadingStatus, type RoadmapStatus } from '../../../src/roadmap/index.js';
import { FIXTURES_DIR } from '../../helpers/fixtures.js';

interface Expected {
  lines: number;
  items: { number: string; line: number; title: string; status: RoadmapStatus; note: string; heldBack: boolean }[];
  duplicates: Expected['items'];
  problems: { line: number; severity: 'error' | 'warning'; contains: string }[];
}

/** The hand-grown fixture and what its generator (scripts/generate-hand-grown-roadmap.mjs) wrote into it on purpose. */
async function handGrown(): Promise<{ text: string; expected: Expected }> {
  const dir = join(FIXTURES_DIR, 'roadmaps');
  return { text: await readFile(join(dir, 'hand-grown.md'), 'utf8'), expected: JSON.parse(await readFile(join(dir, 'hand-grown.expected.json'), 'utf8')) as Expected };
}

const view = (item: { number: string; headingLine: number; title: string; status: RoadmapStatus; note: string; heldBack: string | null }) => ({
  number: item.number,
  line: item.headingLine,
  title: item.title,
  status: item.status,
  note: item.note,
  heldBack: item.heldBack !== null,
});

describe('a hand-grown roadmap of 30,000+ lines', () => {
  it('reads every item with the right state and note, in file order', async () => {
    const { text, expected } = await handGrown();
    expect(text.split('\n').length).toBeGreaterThanOrEqual(30_000);
    const parsed = parseRoadmap(text, 'docs/roadmap/ROADMAP.md');
    expect(parsed.items.length).toBeGreaterThan(300);
    expect(parsed.items.map(view)).toEqual(expected.items);
    expect(parsed.duplicates.map(view)).toEqual(expected.duplicates);
    // Nothing inside fences or comments became an item.
    expect(parsed.items.some((item) => Number(item.number) >= 8000)).toBe(false);
  });

  it('reports exactly the problems written into it, each with file:line, severity and a fix', async () => {
    const { text, expected } = await handGrown();
    const { problems } = parseRoadmap(text, 'docs/roadmap/ROADMAP.md');
    expect(problems.map((problem) => ({ line: problem.line, severity: problem.severity }))).toEqual(expected.problems.map(({ line, severity }) => ({ line, severity })));
    problems.forEach((problem, index) => {
      expect(problem.file).toBe('docs/roadmap/ROADMAP.md');
      expect(problem.message).toContain(expected.problems[index]!.contains);
      expect(problem.hint.length).toBeGreaterThan(20);
    });
  });

  it('plans what start does: the three planned items in order, everything else skipped with its reason', async () => {
    const { text } = await handGrown();
    const entries = planRoadmap(parseReadableRoadmap(text));
    const taken = entries.filter((entry) => entry.decision !== 'skipped').map((entry) => [entry.item.number, entry.decision, entry.reason]);
    expect(taken).toEqual([
      ['301', 'next', 'startable now'],
      ['302', 'after', 'after PRIORITY 301'],
      ['303', 'next', 'startable now'],
    ]);
    const reasonOf = (number: string, duplicate = false) => entries.find((entry) => entry.item.number === number && entry.duplicate === duplicate)?.reason;
    expect(reasonOf('304')).toBe('held back: its status "Whenever we get to it" cannot be read');
    expect(reasonOf('305')).toBe('the roadmap marks it blocked');
    expect(reasonOf('306')).toBe('the roadmap marks it for manual review');
    expect(reasonOf('307')).toBe('waits on PRIORITY 999, which is not in the roadmap');
    expect(reasonOf('308')).toBe('waits on PRIORITY 304, which will not be done (held back)');
    expect(reasonOf('150', true)).toBe('held back: PRIORITY 150 appears again here; the first one (line 16594) stands');
    expect(reasonOf('77')).toContain('held back');
    expect(entries.filter((entry) => entry.reason === 'complete').length).toBe(entries.length - 3 - 8);
  });

  it('after a start, the plan follows the work items the store knows', async () => {
    const { text } = await handGrown();
    const entries = planRoadmap(parseRoadmap(text), new Map([['301', 'done'], ['303', 'blocked'], ['302', 'reviewing']]));
    const of = (number: string) => entries.find((entry) => entry.item.number === number && !entry.duplicate);
    expect(of('301')).toMatchObject({ decision: 'skipped', reason: 'done', state: 'done' });
    expect(of('302')).toMatchObject({ decision: 'next', reason: 'under way (reviewing)' });
    expect(of('303')).toMatchObject({ decision: 'skipped', state: 'blocked' });
  });
});

describe('reading a status as a person does', () => {
  it.each([
    ['✅ Complete (2025-10-19) - HIGH PRIORITY', 'complete', '(2025-10-19) - HIGH PRIORITY'],
    ['✅ **COMPLETE** (2025-10-16)', 'complete', '(2025-10-16)'],
    ['✅ COMPLETE - Documentation Delivered', 'complete', 'Documentation Delivered'],
    ['✅ Complete - PHASE 1 FOUNDATION DELIVERED', 'complete', 'PHASE 1 FOUNDATION DELIVERED'],
    ['📝 Planned - Phase 4 (Spec Migration)', 'planned', 'Phase 4 (Spec Migration)'],
    ['**🔄 in progress** (60%)', 'in_progress', '(60%)'],
    ['done', 'complete', ''],
    ['⏸️ Blocked: waiting on legal', 'blocked', 'waiting on legal'],
    ['🚧 Manual Review Required', 'manual_review', ''],
    ['✅ Planned later', 'complete', 'Planned later'],
    ['⏳ In Progress (60%)', 'in_progress', '(60%)'],
    ['🟡 **Planned** - next sprint', 'planned', 'next sprint'],
    ['🔴 P0 CRITICAL - DO THIS FIRST!', null, null],
    ['Completely unclear', null, null],
    ['Whenever', null, null],
  ])('%s', (text, status, note) => {
    const reading = readLeadingStatus(text);
    expect(reading === null ? null : [reading.status, reading.note]).toEqual(status === null ? null : [status, note]);
  });

  it('reads the heading forms of the issue, and ignores a heading that only mentions the word', () => {
    const text = [
      '### 🔴 **PRIORITY 9: Enhanced Communication** ⚡ NEW',
      '**Status**: 📝 Planned',
      '## 📦 PRIORITY 3: PyPI Package',
      '### Priority Justification',
      '### PRIORITY 2: Project Manager CLI ✅ Complete (Phase 2)',
      '### PRIORITY 4: Fix login 🔴 P0 CRITICAL - DO THIS FIRST!',
    ].join('\n');
    const { items, problems } = parseRoadmap(text, 'R.md');
    expect(items.map((item) => [item.number, item.title, item.status, item.statusSource, item.note])).toEqual([
      ['9', 'Enhanced Communication', 'planned', 'line', '⚡ NEW'],
      ['3', 'PyPI Package', 'planned', 'default', ''],
      ['2', 'Project Manager CLI', 'complete', 'heading', '(Phase 2)'],
      ['4', 'Fix login', 'planned', 'default', '🔴 P0 CRITICAL - DO THIS FIRST!'],
    ]);
    expect(problems.map((problem) => [problem.line, problem.severity])).toEqual([[6, 'warning']]);
  });

  it('refuses only a roadmap that cannot be read at all', () => {
    expect(() => parseReadableRoadmap('# Roadmap\n\nNothing planned yet.\n', 'R.md')).toThrow(RoadmapParseError);
    expect(() => parseReadableRoadmap('# Roadmap\n', 'R.md')).toThrow('R.md:1: has no priorities or user stories the orchestrator can read');
    expect(() => parseReadableRoadmap('\u0000\u0001PNG', 'R.md')).toThrow('R.md:1: is not a text file');
    expect(parseReadableRoadmap('### PRIORITY 1: A\n**Status**: ???\n', 'R.md').items[0]?.heldBack).toBe('its status "???" cannot be read');
  });
});
