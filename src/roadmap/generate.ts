/** Status forms people write, rotated through by the generator: notes after the status, bold, any case. */
const STATUS_LINES = [
  '**Status**: 📝 Planned',
  '**Status**: ✅ Complete (2025-10-19) - HIGH PRIORITY',
  '**Status**: ✅ **COMPLETE** (2025-10-16)',
  '**Status**: 🔄 In Progress - Phase 2',
  '- **Status:** ✅ COMPLETE - Documentation Delivered',
  '**Status**: ⏸️ Blocked (waiting on the vendor)',
];

/**
 * A roadmap of about `lines` lines as people grow them (for the benchmark and scale tests): a heading per item
 * in several forms (emoji, bold, a status at the end), a status line with a note, sub-headings, lists, code
 * fences with fake headings, dependency lines.
 */
export function generateLargeRoadmap(lines: number): string {
  const out: string[] = ['# Roadmap', '', 'Generated for benchmarks.', ''];
  let n = 1;
  while (out.length < lines) {
    if (n % 3 === 0) out.push(`### 🔴 **PRIORITY ${n}: Feature number ${n} for the reporting module** ⚡ NEW`);
    else if (n % 3 === 1) out.push(`### PRIORITY ${n}: Feature number ${n} for the reporting module`);
    else out.push(`## 📦 PRIORITY ${n}: Feature number ${n} for the reporting module`);
    out.push(STATUS_LINES[n % STATUS_LINES.length] ?? '', '');
    out.push(`Deliver feature ${n}. It builds on the work of earlier priorities and must keep the public API stable.`, '');
    out.push('#### Acceptance', '', '- tests cover the happy path', '- errors name the problem and the fix', '');
    if (n % 5 === 0) out.push('```markdown', `### PRIORITY ${n + 100000}: not a real heading, inside a fence`, '```', '');
    if (n > 1 && n % 7 === 0) out.push(`**Depends on**: PRIORITY ${n - 1}`, '');
    n += 1;
  }
  return `${out.slice(0, Math.max(lines, 1)).join('\n')}\n`;
}
