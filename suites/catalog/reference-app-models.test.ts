/**
 * The static rules against the reference app's schema-per-tenant and database-per-tenant homes
 * (two tenants each, provisioned by its control plane): nothing at or above high as shipped, and
 * the model's database-level named vulnerability caught.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { scratchDatabase } from '../../fixtures/index.ts';
import { withClient } from '../../src/index.ts';
import { atLeast, type Finding } from '../../src/index.ts';
import { runStaticRules } from '../../src/index.ts';
import { targetDefaults, type TargetConfig } from '../../src/index.ts';
import { dropReferenceRoles, migrateReferenceDatabase, TenantControl, type VulnerabilityName } from '../../reference-app/src/index.ts';
import { describeFindings } from './harness.ts';

async function rulesOnModel(
  model: 'schema' | 'database',
  vulnerabilities: VulnerabilityName[] = [],
  overrides: (control: TenantControl) => Partial<TargetConfig> = () => ({}),
): Promise<{ findings: Finding[]; rulesRun: string[] }> {
  await using db = await scratchDatabase('tpref');
  const vulnerable = new Set(vulnerabilities);
  const reference = await migrateReferenceDatabase(db.url, { vulnerabilities: vulnerable });
  const control = new TenantControl(reference, vulnerable);
  const tenants = [0, 1].map((i) => ({ id: randomUUID(), slug: `t${i}-${model}`, model }));
  try {
    for (const tenant of tenants) await control.provision(tenant);
    const patterns = reference.tenantObjects;
    const target: TargetConfig = {
      ...targetDefaults,
      databaseUrl: db.url,
      model,
      appRole: reference.roles.app,
      schemaPattern: patterns.schemaPattern,
      databasePattern: patterns.databasePattern,
      tenantRole: model === 'schema' ? patterns.schemaRoleTemplate : patterns.databaseRoleTemplate,
      ...overrides(control),
    };
    return await withClient(db.url, (c) => runStaticRules(c, target));
  } finally {
    for (const tenant of tenants) await control.teardown(tenant).catch(() => undefined);
    await control.close();
    await dropReferenceRoles(db.url);
  }
}

describe('static rules on the reference app, schema and database models', () => {
  test.for(['schema', 'database'] as const)('%s model as shipped: no finding at or above high', async (model) => {
    const { findings, rulesRun } = await rulesOnModel(model);
    expect(rulesRun).toContain(model === 'schema' ? 'schema-cross-tenant-access' : 'database-cross-tenant-connect');
    expect(findings.filter((f) => atLeast(f.severity, 'high')), describeFindings(findings)).toEqual([]);
  });

  test('schema-shared-role vulnerability (one role for every tenant schema) is caught by schema-cross-tenant-access', async () => {
    const { findings } = await rulesOnModel('schema', ['schema-shared-role'], (control) => ({ tenantRole: control.sharedSchemaRole ?? null }));
    expect(findings.filter((f) => f.checkId === 'schema-cross-tenant-access').length, describeFindings(findings)).toBe(2);
  });

  test('database-public-connect vulnerability is caught by the rule of that name', async () => {
    const { findings } = await rulesOnModel('database', ['database-public-connect']);
    expect(findings.filter((f) => f.checkId === 'database-public-connect').length, describeFindings(findings)).toBe(2);
  });
});
