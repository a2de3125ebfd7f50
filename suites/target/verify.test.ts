/**
 * The target suite: `tenantproof verify` runs this file against a user's database (the target in
 * TENANTPROOF_TARGET). One property run covers every tenant-scoped table; each test then asserts
 * that one table (or the views and functions) showed no leak of one class, so the Allure report
 * reads table by table. Titles carry the seed, which stays fixed for a given --seed.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { describeError } from '../../src/errors.ts';
import { listTenantTables, verifyConfigFromEnv, verifyTarget, type VerifyResult } from '../../src/checks/probes/index.ts';

const config = verifyConfigFromEnv();
const resultFile = process.env.TENANTPROOF_RESULT_FILE;
const progressFile = process.env.TENANTPROOF_PROGRESS_FILE;
const parentPid = Number(process.env.TENANTPROOF_PARENT_PID ?? 0);

// If `tenantproof verify` dies (even by SIGKILL), stop at once: the open transaction is rolled back.
if (parentPid > 0) {
  setInterval(() => {
    try {
      process.kill(parentPid, 0);
    } catch {
      // vitest intercepts process.exit in workers: end the vitest process and this worker by signal.
      if (process.ppid !== parentPid && process.ppid > 1) process.kill(process.ppid, 'SIGKILL');
      process.kill(process.pid, 'SIGKILL');
    }
  }, 250).unref();
}

function writeResult(payload: unknown) {
  if (!resultFile) return;
  mkdirSync(dirname(resultFile), { recursive: true });
  writeFileSync(resultFile, JSON.stringify(payload));
}

const leakClasses = ['read', 'write', 'aggregate', 'existence', 'context'] as const;

if (!config) {
  test.skip('no target: `tenantproof verify` sets TENANTPROOF_TARGET', () => undefined);
} else {
  const seed = config.seed ?? 0;
  let tables: string[] = [];
  let setupError: string | null = null;
  try {
    tables = await listTenantTables(config.target);
  } catch (error) {
    setupError = describeError(error);
    writeResult({ error: setupError });
  }

  describe(`${config.target.model} isolation of the target (seed=${seed})`, () => {
    let result: VerifyResult | null = null;
    beforeAll(async () => {
      if (setupError) return;
      try {
        result = await verifyTarget(config.target, {
          runs: config.runs,
          seed,
          onProgress: (p) => {
            if (progressFile) appendFileSync(progressFile, `${JSON.stringify(p)}\n`);
          },
        });
        writeResult({ result });
      } catch (error) {
        setupError = describeError(error);
        writeResult({ error: setupError });
      }
    });

    const findingsFor = (object: string | null, leakClass: string) =>
      (result?.findings ?? []).filter((f) => f.leakClass === leakClass && (object === null ? !tables.includes(f.object) : f.object === object));

    for (const table of tables) {
      describe(table, () => {
        for (const leakClass of leakClasses) {
          test(`no ${leakClass} leak between tenants`, () => {
            expect(setupError, 'verification could not run').toBeNull();
            const found = findingsFor(table, leakClass);
            expect(found.map((f) => `${f.checkId}: ${f.title} (acting ${f.actingTenant ?? '-'}, victim ${f.victimTenant ?? '-'}; ${f.statement})`)).toEqual([]);
          });
        }
      });
    }
    test('views and functions do not reveal other tenants', () => {
      expect(setupError, 'verification could not run').toBeNull();
      const found = leakClasses.flatMap((c) => findingsFor(null, c));
      expect(found.map((f) => `${f.checkId}: ${f.title}`)).toEqual([]);
    });
    test('every tenant-scoped table could be filled and probed', () => {
      expect(setupError, 'verification could not run').toBeNull();
      expect(result!.skippedTables).toEqual([]);
    });
    test('every property run had other tenants\' rows present to leak', () => {
      expect(setupError, 'verification could not run').toBeNull();
      expect(result!.runsWithForeignRows).toBe(result!.runsExecuted);
    });
  });
}
