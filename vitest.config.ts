import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

/**
 * One vitest project per folder of suites/ (one concern per folder), all sharing a PostgreSQL
 * server started by fixtures/global-setup.ts. `SUITES=app,catalog` narrows the run.
 */
const only = process.env.SUITES?.split(',').map((s) => s.trim()).filter(Boolean);
const suiteFolders = readdirSync('suites')
  .filter((name) => statSync(join('suites', name)).isDirectory())
  .filter((name) => !only || only.includes(name));

const resultsDir = process.env.TENANTPROOF_ALLURE_RESULTS ?? 'reports/allure-results';
const junitFile = process.env.TENANTPROOF_JUNIT ?? 'reports/junit.xml';

export default defineConfig({
  test: {
    // Isolation suites never retry: a retry can hide a leak that shows up one run in ten.
    retry: 0,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
    reporters: [
      'default',
      ['junit', { outputFile: junitFile }],
      ['allure-vitest/reporter', { resultsDir }],
      './fixtures/skip-notes-reporter.ts',
    ],
    projects: suiteFolders.map((name) => ({
      extends: true,
      test: {
        name,
        include: [`suites/${name}/**/*.test.ts`],
        globalSetup: ['fixtures/global-setup.ts'],
        setupFiles: ['allure-vitest/setup'],
      },
    })),
  },
});
