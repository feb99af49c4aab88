// Prints the plain `N passed, N failed, N skipped` line of a vitest JSON report.
//   node scripts/ci-summary.mjs <label> <report.json>
import { readFileSync } from 'node:fs';

const [label, file] = process.argv.slice(2);
const report = JSON.parse(readFileSync(file, 'utf8'));
const skipped = report.numPendingTests + report.numTodoTests;
process.stdout.write(
  `${label}: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped\n`,
);
