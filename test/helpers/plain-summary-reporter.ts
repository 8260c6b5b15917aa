/**
 * Ends the test run with one plain line, `N passed, N failed, N skipped`, that any CI log reader
 * understands (vitest's own summary is decorated and split over several columns).
 */
import type { Reporter, TestModule } from 'vitest/node';

export default class PlainSummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of testModules) {
      let testsFailed = 0;
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed += 1;
        else if (state === 'failed') testsFailed += 1;
        else skipped += 1;
      }
      failed += testsFailed;
      // A file that failed outside its tests (it did not load, or a hook such as an afterAll that
      // checks a whole matrix failed) is a failure all the same.
      if (mod.state() === 'failed' && testsFailed === 0) failed += 1;
    }
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
