/**
 * The property engine against the reference app's own database (rls model): the clean build must
 * verify, and its database-level named vulnerability must be caught.
 */
import { describe, expect, test } from 'vitest';
import { scratchDatabase } from '../../fixtures/index.ts';
import { verifyTarget } from '../../fixtures/probes/index.ts';
import { targetDefaults, type TargetConfig } from '../../fixtures/target/types.ts';
import { dropReferenceRoles, migrateReferenceDatabase, type VulnerabilityName } from '../../reference-app/src/index.ts';

const seed = Number(process.env.TENANTPROOF_SEED ?? 20260402);
const runs = Number(process.env.TENANTPROOF_RUNS ?? 5);

async function verifyReference(vulnerabilities: VulnerabilityName[], appRoleOf: (roles: { owner: string; app: string }) => string) {
  await using db = await scratchDatabase('ref');
  const ref = await migrateReferenceDatabase(db.url, { vulnerabilities: new Set(vulnerabilities) });
  try {
    const target: TargetConfig = { ...targetDefaults, databaseUrl: db.url, model: 'rls', appRole: appRoleOf(ref.roles), tenantTable: `${ref.schema}.tenants` };
    return await verifyTarget(target, { runs, seed });
  } finally {
    await db.drop();
    await dropReferenceRoles(db.url.replace(/\/[^/]*$/, '/postgres')).catch(() => undefined);
  }
}

describe('reference app database (rls)', () => {
  test(`the clean build verifies: no tenant reads, writes or aggregates another's rows (seed=${seed})`, async () => {
    const result = await verifyReference([], (r) => r.app);
    expect(result.tables.length).toBeGreaterThan(2);
    expect(result.runsWithForeignRows).toBe(result.runsExecuted);
    expect(result.findings.map((f) => `${f.checkId} ${f.object}: ${JSON.stringify(f.observed)}`)).toEqual([]);
  });

  test(`named vulnerability rls-not-forced is caught as a read leak (seed=${seed})`, async () => {
    const result = await verifyReference(['rls-not-forced'], (r) => r.owner);
    expect(result.findings.some((f) => f.checkId === 'probe-read-scan')).toBe(true);
  });
});
