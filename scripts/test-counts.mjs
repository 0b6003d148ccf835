#!/usr/bin/env node
// Prints vitest's own counts from its JSON report(s) as the plain line CI reads: "N passed, N failed[, N skipped]".
// Several reports (e.g. the Node 20 suite and the Node 24 integration run) are summed into that one line.
// A missing or unreadable report counts as one failure, and so does a test file that failed before any of its
// tests ran (an import error: vitest counts no failed test for it), each test that never reported an outcome
// (its worker died), and a run vitest failed for an error outside any test. Exits 1 when anything failed.
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
  const passed = report.numPassedTests ?? 0;
  const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  let failed = report.numFailedTests ?? 0;
  for (const file of report.testResults ?? []) {
    const failedTests = (file.assertionResults ?? []).filter((test) => test.status === 'failed').length;
    if (file.status === 'failed' && failedTests === 0) {
      failed += 1;
      console.error(`${path}: ${file.name} failed before its tests ran: ${String(file.message ?? '').split('\n')[0]}`);
    }
  }
  // Tests that never reported an outcome (their worker died) are failures too.
  const unfinished = (report.numTotalTests ?? 0) - passed - (report.numFailedTests ?? 0) - skipped;
  if (unfinished > 0) {
    failed += unfinished;
    console.error(`${path}: ${unfinished} test(s) never reported an outcome (a test worker died?)`);
  }
  // vitest also fails a run for errors outside any test (an unhandled rejection, a worker that exited).
  if (report.success === false && failed === 0) {
    failed += 1;
    console.error(`${path}: the run failed outside any test (an unhandled error or a worker that exited); see its log`);
  }
  total.passed += passed;
  total.failed += failed;
  total.skipped += skipped;
}
// The plain line comes last, after any explanation above.
console.log(`${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ''}`);
process.exit(total.failed > 0 ? 1 : 0);
