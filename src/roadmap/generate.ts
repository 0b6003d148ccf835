/** A realistic roadmap of about `lines` lines (for the benchmark and scale tests). */
export function generateLargeRoadmap(lines: number): string {
  const statuses = ['📝 Planned', '🔄 In Progress', '✅ Complete', '⏸️ Blocked'];
  const out: string[] = ['# Roadmap', '', 'Generated for benchmarks.', ''];
  let n = 1;
  while (out.length < lines) {
    out.push(`### PRIORITY ${n}: Feature number ${n} for the reporting module`, `**Status**: ${statuses[n % statuses.length] ?? ''}`, '');
    out.push(`Deliver feature ${n}. It builds on the work of earlier priorities and must keep the public API stable.`, '');
    out.push('- acceptance: tests cover the happy path', '- acceptance: errors name the problem and the fix', '- acceptance: docs updated', '');
    if (n % 5 === 0) out.push('```markdown', `### PRIORITY ${n + 100000}: not a real heading, inside a fence`, '```', '');
    if (n > 1 && n % 7 === 0) out.push(`**Depends on**: PRIORITY ${n - 1}`, '');
    n += 1;
  }
  return `${out.slice(0, Math.max(lines, 1)).join('\n')}\n`;
}
