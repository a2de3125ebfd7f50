/**
 * The static rules against the reference app (rls model): nothing at or above the default
 * --fail-on threshold on the app as shipped, and the database-level named vulnerability caught.
 */
import { describe, expect, test } from 'vitest';
import { scratchDatabase } from '../../fixtures/index.ts';
import { withClient } from '../../src/index.ts';
import { atLeast } from '../../src/index.ts';
import { buildRuleContext, runStaticRules } from '../../src/index.ts';
import { targetDefaults, type TargetConfig } from '../../src/index.ts';
import { dropReferenceRoles, migrateReferenceDatabase, tenantTableNames, type VulnerabilityName } from '../../reference-app/src/index.ts';
import { describeFindings } from './harness.ts';

async function rulesOnReferenceApp(vulnerabilities: VulnerabilityName[], role: 'app' | 'owner' = 'app') {
  await using db = await scratchDatabase('tpref');
  const reference = await migrateReferenceDatabase(db.url, { vulnerabilities: new Set(vulnerabilities) });
  try {
    const target: TargetConfig = { ...targetDefaults, databaseUrl: db.url, model: 'rls', appRole: reference.roles[role] };
    return await withClient(db.url, async (c) => ({ ...(await runStaticRules(c, target)), ctx: await buildRuleContext(c, target) }));
  } finally {
    await dropReferenceRoles(db.url);
  }
}

describe('static rules on the reference app', () => {
  test('as shipped: no finding at or above high', async () => {
    const { findings, rulesRun, ctx } = await rulesOnReferenceApp([]);
    expect(rulesRun).toContain('policy-read-not-tenant-scoped');
    // Not vacuous: every tenant table of the app is seen as tenant-scoped and has policies the rules read.
    const scoped = ctx.tenantTables.map((t) => t.relation.name);
    expect(scoped).toEqual(expect.arrayContaining([...tenantTableNames]));
    expect(ctx.security.policies.filter((p) => scoped.includes(p.table)).length).toBeGreaterThanOrEqual(tenantTableNames.length);
    const blocking = findings.filter((f) => atLeast(f.severity, 'high'));
    expect(blocking, describeFindings(findings)).toEqual([]);
    // The app revokes the activity functions in its database: one pooled role, no view of another tenant's statements.
    expect(findings.filter((f) => f.checkId === 'stat-activity-visible-to-app-role'), describeFindings(findings)).toEqual([]);
  });

  test('rls-not-forced vulnerability (the app logs in as the table owner): rls-not-forced fires on every tenant table', async () => {
    const { findings } = await rulesOnReferenceApp(['rls-not-forced'], 'owner');
    const fired = findings.filter((f) => f.checkId === 'rls-not-forced');
    expect(fired.length, describeFindings(findings)).toBeGreaterThan(3);
  });
});
