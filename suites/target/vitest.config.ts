/**
 * The vitest configuration `tenantproof verify` runs: only the target suites, against the target
 * named in TENANTPROOF_TARGET (no PostgreSQL is started), writing JUnit and Allure results into
 * the report directory. Never retries: a retry can hide a leak that shows up one run in ten.
 */
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

const reportDir = process.env.TENANTPROOF_REPORT_DIR ?? 'reports/tenantproof';

export default defineConfig({
  test: {
    include: ['suites/target/**/*.test.ts'],
    retry: 0,
    testTimeout: 0,
    hookTimeout: 0,
    // A worker thread, not a forked process: the run starts about 0.4 s sooner (one suite, one
    // worker, nothing to isolate). The parent-death watch in verify.test.ts kills the vitest
    // process either way.
    pool: 'threads',
    maxWorkers: 1,
    fileParallelism: false,
    reporters: [
      ['junit', { outputFile: join(reportDir, 'vitest-junit.xml') }],
      ['allure-vitest/reporter', { resultsDir: join(reportDir, 'allure-results') }],
    ],
    setupFiles: ['allure-vitest/setup'],
  },
});
