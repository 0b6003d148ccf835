import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { branchName, generateLargeRoadmap, parseRoadmap, parseRoadmapOrThrow, slugify, specFileName, writeRoadmapStatus } from '../../../src/roadmap/index.js';
import { RoadmapParseError } from '../../../src/lib/errors.js';
import { FIXTURES_DIR } from '../../helpers/fixtures.js';

const realistic = () => readFile(join(FIXTURES_DIR, 'roadmaps', 'realistic.md'), 'utf8');

describe('roadmap parser', () => {
  it('reads priorities and user stories in file order, with statuses from lines or headings, ignoring fences', async () => {
    const { items, problems } = parseRoadmap(await realistic());
    expect(problems).toEqual([]);
    expect(items.map((item) => [item.number, item.kind, item.title, item.status, item.statusSource, item.headingLine])).toEqual([
      ['1', 'priority', 'Project skeleton', 'complete', 'heading', 7],
      ['2', 'priority', 'User login', 'in_progress', 'line', 11],
      ['2.5', 'priority', 'Password reset', 'planned', 'line', 22],
      ['US-3', 'user_story', 'As a user I can export my data', 'blocked', 'line', 32],
      ['4', 'priority', 'Reports', 'manual_review', 'heading', 35],
    ]);
    const reset = items[2]!;
    expect(reset.dependsOn).toEqual(['2']);
    expect(reset.statusLine).toBe(23);
    expect(items[1]!.body).toContain('- email + password');
    expect(items[1]!.body).not.toContain('**Status**');
  });

  it('reports duplicates, unreadable headings, statuses and dependencies as problems with file:line, severity and fix', () => {
    const text = ['### PRIORITY 1: A', '', '### PRIORITY 1: B', '### PRIORITY: no number', '### PRIORITY 3: C', '**Depends on**: PRIORITY 7', '**Status**: Whenever'].join('\n');
    const { items, duplicates, problems } = parseRoadmap(text, 'R.md');
    expect(problems.map((p) => [p.file, p.line, p.severity, p.message])).toEqual([
      ['R.md', 3, 'error', 'PRIORITY 1 appears twice (lines 1 and 3): the later one is not worked on'],
      ['R.md', 4, 'error', 'cannot read the heading "PRIORITY: no number": it is not worked on'],
      ['R.md', 6, 'error', 'PRIORITY 3 depends on PRIORITY 7, which is not in the roadmap, so it never starts'],
      ['R.md', 7, 'error', 'unknown status "Whenever": PRIORITY 3 is held back'],
    ]);
    expect(problems.every((p) => p.hint.length > 10)).toBe(true);
    expect(items.map((item) => [item.number, item.title, item.heldBack])).toEqual([
      ['1', 'A', null],
      ['3', 'C', 'its status "Whenever" cannot be read'],
    ]);
    expect(duplicates.map((item) => [item.number, item.title, item.headingLine, item.heldBack])).toEqual([['1', 'B', 3, 'PRIORITY 1 appears again here; the first one (line 1) stands']]);
    expect(() => parseRoadmapOrThrow(text, 'R.md')).toThrow(RoadmapParseError);
    expect(() => parseRoadmapOrThrow(text, 'R.md')).toThrow('R.md:3: PRIORITY 1 appears twice');
  });

  it('names specs and branches with one slug function', () => {
    expect(slugify('Héllo, Wörld! Export & import of CSV files (v2)')).toBe('hello-world-export-import-of-csv-files-v');
    expect(specFileName('2.5', 'Password reset')).toBe('SPEC-2.5-password-reset.md');
    expect(branchName('2.5', 'Password reset')).toBe('orchestrator/2-5-password-reset');
  });

  it('parses a 30,000-line roadmap', () => {
    const text = generateLargeRoadmap(30_000);
    expect(text.split('\n').length).toBeGreaterThanOrEqual(30_000);
    const { items, problems } = parseRoadmap(text);
    expect(problems).toEqual([]);
    expect(items.length).toBeGreaterThan(2_000);
    expect(items.some((item) => Number(item.number) > 100_000)).toBe(false);
  });
});

describe('writing a status back', () => {
  async function roadmapFile(text: string): Promise<{ dir: string; path: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'roadmap-'));
    const path = join(dir, 'ROADMAP.md');
    await writeFile(path, text);
    return { dir, path };
  }

  it('changes only the status line, keeping every other byte and CRLF endings', async () => {
    const original = (await realistic()).replace(/\n/g, '\r\n');
    const { dir, path } = await roadmapFile(original);
    const change = await writeRoadmapStatus(path, '2.5', 'complete');
    expect(change).toEqual({ changedLine: 23, before: '**Status**: 📝 Planned', after: '**Status**: ✅ Complete' });
    const after = await readFile(path, 'utf8');
    const a = original.split('\r\n');
    const b = after.split('\r\n');
    expect(b.length).toBe(a.length);
    expect(b.filter((line, index) => line !== a[index])).toEqual(['**Status**: ✅ Complete']);
    expect(parseRoadmap(after).items.find((item) => item.number === '2.5')?.status).toBe('complete');
    expect((await readdir(dir)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('rewrites a status in the heading, or inserts a Status line when there is none', async () => {
    const { path } = await roadmapFile('### PRIORITY 4: Reports 🚧 Manual Review Required\ntext\n### PRIORITY 5: Bare\nbody\n');
    await writeRoadmapStatus(path, '4', 'complete');
    await writeRoadmapStatus(path, '5', 'in_progress');
    expect(await readFile(path, 'utf8')).toBe('### PRIORITY 4: Reports ✅ Complete\ntext\n### PRIORITY 5: Bare\n**Status**: 🔄 In Progress\nbody\n');
    await expect(writeRoadmapStatus(path, '99', 'complete')).rejects.toThrow(RoadmapParseError);
  });
});
