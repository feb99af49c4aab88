// Prints the plain `N passed, N failed, N skipped` line of a vitest JSON report, preceded by the
// name and first error line of every failed test: CI output is read from its tail, and a count
// alone does not say which test to look at.
//   node scripts/ci-summary.mjs <label> <report.json>
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const [label, file] = process.argv.slice(2);
const report = JSON.parse(readFileSync(file, 'utf8'));
for (const suite of report.testResults) {
  for (const test of suite.assertionResults) {
    if (test.status !== 'failed') continue;
    const firstLine = (test.failureMessages ?? []).join('\n').split('\n')[0] ?? '';
    process.stdout.write(
      `${label}: FAILED ${relative(process.cwd(), suite.name)} > ${test.fullName}\n  ${firstLine.slice(0, 300)}\n`,
    );
  }
  if (suite.status === 'failed' && suite.assertionResults.length === 0) {
    process.stdout.write(`${label}: FAILED ${relative(process.cwd(), suite.name)}: ${suite.message ?? ''}\n`);
  }
}
const skipped = report.numPendingTests + report.numTodoTests;
process.stdout.write(
  `${label}: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped\n`,
);
