#!/usr/bin/env node
// Prints vitest's own counts from its JSON report(s) as the plain line CI reads: "N passed, N failed[, N skipped]".
// Several reports (e.g. the Node 20 suite and the Node 24 integration run) are summed into that one line.
// A missing or unreadable report counts as one failure, and so does a test file that failed before any of its
// tests ran (an import error: vitest counts no failed test for it). Exits 1 when anything failed.
import { readFileSync } from 'node:fs';

const paths = process.argv.length > 2 ? process.argv.slice(2) : ['test-results/vitest.json'];
const total = { passed: 0, failed: 0, skipped: 0 };
for (const path of paths) {
  let report;
  try {
    report = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    total.failed += 1;
    console.error(`no test report at ${path}: ${error.message}`);
    continue;
  }
  total.passed += report.numPassedTests ?? 0;
  total.failed += report.numFailedTests ?? 0;
  total.skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  for (const file of report.testResults ?? []) {
    const failedTests = (file.assertionResults ?? []).filter((test) => test.status === 'failed').length;
    if (file.status === 'failed' && failedTests === 0) {
      total.failed += 1;
      console.error(`${file.name}: failed before its tests ran: ${String(file.message ?? '').split('\n')[0]}`);
    }
  }
}
// The plain line comes last, after any explanation above.
console.log(`${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ''}`);
process.exit(total.failed > 0 ? 1 : 0);
