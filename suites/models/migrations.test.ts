/**
 * Tenant migrations reach every tenant of every model — the shared schema, each tenant schema,
 * the template and each tenant database — one transaction per target, recorded per target; a
 * failure injected halfway leaves each target migrated or untouched, and running again resumes.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { migrateAllTenants, TenantMigrationError, type TenantMigration, type TenantMigrationReport } from '../../reference-app/src/index.ts';
import { createProjects, signUp, startTestApp, type SignedUpTenant, type TestApp } from '../app/harness.ts';

let t: TestApp;
const tenants: SignedUpTenant[] = [];

beforeAll(async () => {
  t = await startTestApp();
  for (const model of ['rls', 'schema', 'database', 'rls', 'schema', 'database'] as const) {
    const tenant = await signUp(t.client, model, 'pro', model);
    await createProjects(t.client, tenant.token, [`${model}-before`]);
    tenants.push(tenant);
  }
});
afterAll(async () => {
  await t?.close();
});

const addPriority: TenantMigration = {
  id: '1764100000000_projects-priority',
  sql: (schema) => `alter table ${schema}.projects add column priority integer not null default 0`,
};

/** The same migration, failing on the `failAt`-th target it runs on (after its DDL, so the rollback is real). */
function failingOnce(failAt: number): TenantMigration {
  let seen = 0;
  return {
    id: addPriority.id,
    sql: (schema) => (++seen === failAt ? `${addPriority.sql(schema)}; select 1 / 0` : addPriority.sql(schema)),
  };
}

/** Whether `projects` has `priority`, per target (database/schema), seen through the admin connection. */
async function priorityColumn(report: TenantMigrationReport): Promise<Record<string, boolean>> {
  const result: Record<string, boolean> = {};
  for (const { target } of report.targets) {
    const [database, schema] = target.split('/') as [string, string];
    const url = new URL(t.app.database.adminUrl);
    url.pathname = `/${database}`;
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      const { rowCount } = await client.query(
        `select 1 from information_schema.columns where table_schema = $1 and table_name = 'projects' and column_name = 'priority'`,
        [schema],
      );
      result[target] = rowCount === 1;
    } finally {
      await client.end();
    }
  }
  return result;
}

test('a failure halfway stops the run with a report; running again resumes and completes; a third run applies nothing', async () => {
  // 1 shared schema + 2 tenant schemas + template + 2 tenant databases = 6 targets; fail on the 4th (the template).
  let error: unknown;
  try {
    await migrateAllTenants(t.app.database, { migrations: [failingOnce(4)] });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(TenantMigrationError);
  const failed = (error as TenantMigrationError).report;
  expect(failed.targets.map((r) => r.model)).toEqual(['rls', 'schema', 'schema', 'template']);
  expect(failed.targets.map((r) => r.applied)).toEqual([[addPriority.id], [addPriority.id], [addPriority.id], []]);
  expect(failed.targets[3]!.error).toMatch(/division by zero/);
  expect(failed.failed).toBe(1);

  const resumed = await migrateAllTenants(t.app.database, { migrations: [addPriority] });
  expect(resumed.targets.map((r) => r.model)).toEqual(['rls', 'schema', 'schema', 'template', 'database', 'database']);
  expect(resumed.targets.map((r) => r.applied.length)).toEqual([0, 0, 0, 1, 1, 1]);
  expect(resumed.targets.map((r) => r.alreadyApplied.length)).toEqual([1, 1, 1, 0, 0, 0]);
  expect(Object.values(await priorityColumn(resumed))).toEqual([true, true, true, true, true, true]);

  const again = await migrateAllTenants(t.app.database, { migrations: [addPriority] });
  expect(again.targets.every((r) => r.applied.length === 0 && r.alreadyApplied.length === 1)).toBe(true);
});

test('after the migration every tenant still works through the API, and keeps only its own rows', async () => {
  for (const tenant of tenants) {
    await createProjects(t.client, tenant.token, [`${tenant.model}-after`]);
    const list = await t.client.get('/projects', { token: tenant.token });
    expect(list.status).toBe(200);
    expect(list.body.projects.map((p: { name: string }) => p.name)).toEqual([`${tenant.model}-before`, `${tenant.model}-after`]);
  }
});

test('a database tenant created after the migration starts from the migrated template', async () => {
  const late = await signUp(t.client, 'late', 'pro', 'database');
  const database = t.app.control.databasePlacement({ id: late.tenantId }).database;
  const url = new URL(t.app.database.adminUrl);
  url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const { rows } = await client.query(`select id from migrations.tenant_migrations where target = 'app'`);
    expect(rows).toEqual([{ id: addPriority.id }]);
    const { rowCount } = await client.query(`select 1 from information_schema.columns where table_schema = 'app' and table_name = 'projects' and column_name = 'priority'`);
    expect(rowCount).toBe(1);
  } finally {
    await client.end();
  }
});
