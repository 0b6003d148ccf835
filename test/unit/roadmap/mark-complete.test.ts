import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkMarkedComplete, checkMarkedCompleteAll, parseRoadmap, setRoadmapStatus } from '../../../src/roadmap/index.js';
import { FIXTURES_DIR } from '../../helpers/fixtures.js';

const ROADMAP = [
  '# Roadmap',
  '### PRIORITY 1: Chat',
  '**Status**: 📝 Planned - Phase 4 (Spec Migration)',
  '### PRIORITY 2: Project Manager CLI 🔄 In Progress (Phase 2)',
  '## 📦 PRIORITY 3: PyPI Package',
  '**Status:** 📝 **PLANNED** (target 2025-11-30)',
  '### PRIORITY 4: Digest 🔴 P0 CRITICAL - DO THIS FIRST!',
  'body',
  '### ⏸️ PRIORITY 5: Sync',
  '### PRIORITY 6: Export - planned',
  '### PRIORITY 7: Import',
  '**Status**: ⏳ In progress (60%)',
  '',
].join('\n');

describe('marking an item complete', () => {
  it.each([
    ['1', 3, '**Status**: 📝 Planned - Phase 4 (Spec Migration)', '**Status**: ✅ Complete - Phase 4 (Spec Migration)'],
    ['2', 4, '### PRIORITY 2: Project Manager CLI 🔄 In Progress (Phase 2)', '### PRIORITY 2: Project Manager CLI ✅ Complete (Phase 2)'],
    ['3', 6, '**Status:** 📝 **PLANNED** (target 2025-11-30)', '**Status:** ✅ **COMPLETE** (target 2025-11-30)'],
    ['4', 8, '', '**Status**: ✅ Complete'],
    ['5', 9, '### ⏸️ PRIORITY 5: Sync', '### ✅ PRIORITY 5: Sync'],
    ['6', 10, '### PRIORITY 6: Export - planned', '### PRIORITY 6: Export - Complete'],
    ['7', 12, '**Status**: ⏳ In progress (60%)', '**Status**: ✅ Complete (60%)'],
  ])('PRIORITY %s: changes only its own status and keeps its note', (number, changedLine, before, after) => {
    const edit = setRoadmapStatus(ROADMAP, number, 'complete');
    expect(edit).toMatchObject({ changedLine, before, after });
    const was = parseRoadmap(ROADMAP).items;
    const now = parseRoadmap(edit.text).items;
    expect(now.find((item) => item.number === number)?.status).toBe('complete');
    expect(now.find((item) => item.number === number)?.note).toBe(was.find((item) => item.number === number)?.note);
    expect(now.filter((item) => item.number !== number).map((item) => [item.number, item.status, item.note])).toEqual(was.filter((item) => item.number !== number).map((item) => [item.number, item.status, item.note]));
    expect(checkMarkedComplete(ROADMAP, edit.text, number)).toBeNull();
  });

  it('keeps every other byte of the 30,000-line hand-grown roadmap, CRLF included', async () => {
    const original = (await readFile(join(FIXTURES_DIR, 'roadmaps', 'hand-grown.md'), 'utf8')).replace(/\n/g, '\r\n');
    const edit = setRoadmapStatus(original, '301', 'complete');
    expect(edit.after).toBe('**Status**: ✅ Complete - Phase 4 (Spec Migration)');
    const a = original.split('\r\n');
    const b = edit.text.split('\r\n');
    expect(b.length).toBe(a.length);
    expect(b.map((line, index) => (line === a[index] ? null : index + 1)).filter((index) => index !== null)).toEqual([edit.changedLine]);
    expect(checkMarkedComplete(original, edit.text, '301')).toBeNull();
  });

  it('rejects an update that drops the note, touches another line, or does not mark the item', () => {
    const good = setRoadmapStatus(ROADMAP, '1', 'complete').text;
    expect(checkMarkedComplete(ROADMAP, good.replace(' - Phase 4 (Spec Migration)', ''), '1')).toBe('the project manager did not keep the note of PRIORITY 1: "Phase 4 (Spec Migration)" → ""');
    expect(checkMarkedComplete(ROADMAP, good.replace('body', 'body!'), '1')).toBe('the project manager changed more than the status of PRIORITY 1: line(s) 8 of docs/roadmap/ROADMAP.md');
    expect(checkMarkedComplete(ROADMAP, good.replace('📝 **PLANNED**', '✅ **COMPLETE**'), '1')).toBe('the project manager changed more than the status of PRIORITY 1: line(s) 6 of docs/roadmap/ROADMAP.md');
    expect(checkMarkedComplete(ROADMAP, ROADMAP, '1')).toBe('docs/roadmap/ROADMAP.md still shows PRIORITY 1 as planned');
    expect(checkMarkedComplete(ROADMAP, `${good}extra\n`, '1')).toContain('added or removed lines');
    expect(checkMarkedComplete(ROADMAP, good.replace('**Status**: ✅ Complete - Phase 4', '**Status**: ✅ Complete - Phase 5'), '1')).toContain('did not keep the note');
    const inserted = setRoadmapStatus(ROADMAP, '4', 'complete').text;
    expect(checkMarkedComplete(ROADMAP, inserted.replace('# Roadmap', '# Road map'), '4')).toContain('changed more than the status of PRIORITY 4: line(s) 1');
  });
});

describe('marking a batch of items complete (one project manager session)', () => {
  const markAll = (text: string, numbers: readonly string[]) => numbers.reduce((current, number) => setRoadmapStatus(current, number, 'complete').text, text);

  it('accepts every item marked in place or with an added Status line, in one change', () => {
    const numbers = ['1', '2', '4', '5', '7'];
    const after = markAll(ROADMAP, numbers);
    expect(checkMarkedCompleteAll(ROADMAP, after, numbers)).toBeNull();
    // The order of the list does not matter, nor do two inserted Status lines.
    expect(checkMarkedCompleteAll(ROADMAP, markAll(ROADMAP, ['4', '3', '6']), ['6', '4', '3'])).toBeNull();
  });

  it('rejects a batch that misses an item, marks one more, drops a note or changes another line', () => {
    const after = markAll(ROADMAP, ['1', '2']);
    expect(checkMarkedCompleteAll(ROADMAP, after, ['1', '2', '7'])).toBe('docs/roadmap/ROADMAP.md still shows PRIORITY 7 as in_progress');
    expect(checkMarkedCompleteAll(ROADMAP, markAll(ROADMAP, ['1', '2', '7']), ['1', '2'])).toBe('the project manager changed more than the status of PRIORITY 1, PRIORITY 2: line(s) 12 of docs/roadmap/ROADMAP.md (before the change)');
    expect(checkMarkedCompleteAll(ROADMAP, after.replace(' - Phase 4 (Spec Migration)', ''), ['1', '2'])).toContain('did not keep the note of PRIORITY 1');
    expect(checkMarkedCompleteAll(ROADMAP, after.replace('body', 'body!'), ['1', '2'])).toContain('line(s) 8');
    expect(checkMarkedCompleteAll(ROADMAP, `${markAll(ROADMAP, ['1', '4'])}extra\n`, ['1', '4'])).toContain('added or removed lines');
    expect(checkMarkedCompleteAll(ROADMAP, after, ['1', '99'])).toBe('PRIORITY 99 was not in docs/roadmap/ROADMAP.md before the change');
  });

  it('keeps the single-item messages for a batch of one', () => {
    const good = setRoadmapStatus(ROADMAP, '1', 'complete').text;
    expect(checkMarkedCompleteAll(ROADMAP, good.replace('body', 'body!'), ['1'])).toBe(checkMarkedComplete(ROADMAP, good.replace('body', 'body!'), '1'));
  });
});
