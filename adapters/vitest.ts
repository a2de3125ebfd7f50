/**
 * tenantproof inside your own vitest: one call declares the isolation tests of a target, table by
 * table, so they sit in your suite and your reports beside your other tests.
 *
 *   import { describeTenantIsolation } from 'pg-tenantproof/vitest';
 *   describeTenantIsolation({ databaseUrl: process.env.DATABASE_URL!, model: 'rls', appRole: 'app_user' }, { runs: 20, seed: 1 });
 *
 * It runs verify() from the library once (in a beforeAll), then each test asserts one table showed
 * no leak of one class, and two more assert that the proof was complete: every table probed and
 * every run with other tenants' rows present. The CLI does not use this file.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { listTenantTables, resolveVerifyConfig, verify, type LeakClass, type TenantproofConfigFile, type Verification } from '../src/index.ts';

export interface IsolationTestOptions {
  readonly runs?: number;
  readonly seed?: number;
  /** Tables to declare tests for; default: read from the target before the tests are collected. */
  readonly tables?: readonly string[];
}

const leakClasses: readonly LeakClass[] = ['read', 'write', 'aggregate', 'existence', 'context'];

/** Declares the isolation tests of one target (top-level await: call it at a test file's top level). */
export async function describeTenantIsolation(target: TenantproofConfigFile, options: IsolationTestOptions = {}): Promise<void> {
  const config = resolveVerifyConfig({}, { ...target, runs: options.runs ?? target.runs ?? 20, seed: options.seed ?? target.seed ?? 0 });
  const tables = options.tables ?? (await listTenantTables(config.target));
  describe(`${config.target.model} isolation of ${config.target.model === 'rls' ? 'the target' : 'the tenants'} (seed=${config.seed})`, () => {
    let result: Verification | null = null;
    let failure: unknown = null;
    beforeAll(async () => {
      try {
        result = await verify(config);
      } catch (error) {
        failure = error;
      }
    }, 0);
    const verified = (): Verification => {
      if (failure) throw failure;
      return result!;
    };
    for (const table of tables) {
      describe(table, () => {
        for (const leakClass of leakClasses) {
          test(`no ${leakClass} leak between tenants`, () => {
            const found = verified().findings.filter((f) => f.leak && f.leakClass === leakClass && f.object === table);
            expect(found.map((f) => `${f.checkId}: ${f.title} (acting ${f.actingTenant ?? '-'}, victim ${f.victimTenant ?? '-'}; ${f.statement})`)).toEqual([]);
          });
        }
      });
    }
    test('no finding elsewhere (views, functions, privileges, static rules at or above fail-on)', () => {
      const v = verified();
      const elsewhere = v.findings.filter((f) => !(f.leak && tables.includes(f.object) && leakClasses.includes(f.leakClass)));
      expect(v.verdict.verdict === 'findings' ? elsewhere.map((f) => `${f.severity} ${f.checkId}: ${f.title}`) : []).toEqual([]);
    });
    test('the proof is complete: every table probed, every run with other tenants\' rows present', () => {
      const v = verified();
      expect(v.probes.runsExecuted).toBeGreaterThan(0);
      expect(v.notProven.map((n) => `${n.object}: ${n.reason}`)).toEqual([]);
    });
  });
}
