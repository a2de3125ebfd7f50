/**
 * The property engine against the reference app's own database (rls model): the clean build must
 * verify, and its database-level named vulnerability must be caught.
 */
import { describe, expect, test } from 'vitest';
import { scratchDatabase } from '../../fixtures/index.ts';
import { verifyTarget } from '../../src/index.ts';
import { targetDefaults, type TargetConfig } from '../../src/index.ts';
import { randomUUID } from 'node:crypto';
import { quoteIdent, withClient } from '../../src/index.ts';
import {
  dropReferenceRoles,
  migrateReferenceDatabase,
  provisionTenantSchema,
  TenantControl,
  tenantObjectPatterns,
  type VulnerabilityName,
} from '../../reference-app/src/index.ts';
import { expectEveryRunSawForeignRows } from './harness.ts';

const seed = Number(process.env.TENANTPROOF_SEED ?? 20260402);
const runs = Number(process.env.TENANTPROOF_RUNS ?? 5);
/** The schema and database models: fewer runs (each provisions tenant schemas or databases). */
const modelRuns = Number(process.env.TENANTPROOF_RUNS ?? 3);

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
    expect(result.skippedTables.map((s) => `${s.table}: ${s.reason}`)).toEqual([]);
    expectEveryRunSawForeignRows(result, runs);
    expect(result.findings.map((f) => `${f.checkId} ${f.object}: ${JSON.stringify(f.observed)}`)).toEqual([]);
  });

  test(`named vulnerability rls-not-forced is caught as a read leak (seed=${seed})`, async () => {
    const result = await verifyReference(['rls-not-forced'], (r) => r.owner);
    expect(result.findings.some((f) => f.checkId === 'probe-read-scan')).toBe(true);
  });
});

describe('reference app database (schema model)', () => {
  async function verifySchemas(sharedRole: boolean) {
    await using db = await scratchDatabase('refs');
    const ref = await migrateReferenceDatabase(db.url);
    const shared = `${ref.roles.tenantBase}_shared`;
    const tenantRoles: string[] = [];
    try {
      await withClient(db.url, async (c) => {
        if (sharedRole) await c.query(`create role ${quoteIdent(shared)} nologin; grant ${quoteIdent(shared)} to ${quoteIdent(ref.roles.app)}`);
        for (let i = 0; i < 3; i++) {
          const tenantId = randomUUID();
          const placement = await provisionTenantSchema(
            c,
            { database: ref.database, tenantId, roles: ref.roles, appSchema: ref.schema },
            sharedRole ? { sharedRole: shared } : {},
          );
          // As the app does at signup: the registry row of a schema tenant (its tables are pinned to its id).
          await c.query(`insert into ${quoteIdent(ref.schema)}.tenants (id, slug, name, model) values ($1, $2, $2, 'schema')`, [tenantId, `schema-${i}`]);
          tenantRoles.push(placement.role);
        }
      });
      const patterns = tenantObjectPatterns(ref.database);
      const target: TargetConfig = {
        ...targetDefaults,
        databaseUrl: db.url,
        model: 'schema',
        schemaPattern: patterns.schemaPattern,
        appRole: sharedRole ? shared : ref.roles.app,
        tenantRole: sharedRole ? null : patterns.schemaRoleTemplate,
      };
      return await verifyTarget(target, { runs: modelRuns, seed });
    } finally {
      await db.drop();
      await withClient(db.url.replace(/\/[^/]*$/, '/postgres'), async (c) => {
        for (const role of [...new Set(tenantRoles), shared]) await c.query(`drop role if exists ${quoteIdent(role)}`).catch(() => undefined);
      });
      await dropReferenceRoles(db.url.replace(/\/[^/]*$/, '/postgres')).catch(() => undefined);
    }
  }

  test(`the clean build verifies: per-tenant roles reach only their own schema (seed=${seed})`, async () => {
    const result = await verifySchemas(false);
    expect(result.tables.length).toBeGreaterThan(2);
    expect(result.skippedTables.map((s) => `${s.table}: ${s.reason}`)).toEqual([]);
    expectEveryRunSawForeignRows(result, modelRuns);
    expect(result.findings.map((f) => `${f.checkId} ${f.object}`)).toEqual([]);
  });

  test(`named vulnerability schema-shared-role is caught as a read leak (seed=${seed})`, async () => {
    const result = await verifySchemas(true);
    expect(result.findings.some((f) => f.checkId === 'probe-schema-read')).toBe(true);
  });
});

describe('reference app databases (database model)', () => {
  async function verifyDatabases(vulnerabilities: VulnerabilityName[]) {
    await using db = await scratchDatabase('refd');
    const ref = await migrateReferenceDatabase(db.url, { vulnerabilities: new Set(vulnerabilities) });
    const control = new TenantControl(ref, new Set(vulnerabilities));
    const tenants = [randomUUID(), randomUUID()].map((id) => ({ id, slug: `t-${id.slice(0, 8)}`, model: 'database' as const }));
    try {
      for (const tenant of tenants) await control.provision(tenant);
      const patterns = tenantObjectPatterns(ref.database);
      const target: TargetConfig = {
        ...targetDefaults,
        databaseUrl: db.url,
        model: 'database',
        databasePattern: patterns.databasePattern,
        tenantRole: patterns.databaseRoleTemplate,
      };
      return await verifyTarget(target, { runs: modelRuns, seed });
    } finally {
      for (const tenant of tenants) await control.teardown(tenant).catch(() => undefined);
      await control.close();
      await db.drop();
      await dropReferenceRoles(db.url.replace(/\/[^/]*$/, '/postgres')).catch(() => undefined);
    }
  }

  test(`the clean build verifies: tenant roles reach only their own database (seed=${seed})`, async () => {
    const result = await verifyDatabases([]);
    expect(result.tables.length).toBeGreaterThan(2);
    expect(result.skippedTables).toEqual([]);
    expectEveryRunSawForeignRows(result, modelRuns);
    expect(result.findings.map((f) => `${f.checkId} ${f.object}`)).toEqual([]);
  });

  test(`named vulnerability database-public-connect is caught (seed=${seed})`, async () => {
    const result = await verifyDatabases(['database-public-connect']);
    expect(result.findings.some((f) => f.checkId === 'probe-database-connect')).toBe(true);
  });
});
