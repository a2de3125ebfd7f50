/**
 * The reference database's catalog follows the rls model's rules: every tenant table has RLS
 * enabled and forced with a USING + WITH CHECK policy, a non-null tenant column, composite
 * foreign keys with the tenant column and indexes leading with it; the app's login role owns
 * nothing and cannot bypass RLS. The same rules run against the `rls-not-forced` variant and fail.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { testServer } from '../../fixtures/index.ts';
import { withClient } from '../../src/index.ts';
import { appSchema, migrateReferenceDatabase, tenantTableNames, tenantTablesDdl } from '../../reference-app/src/index.ts';
import { startTestApp, type TestApp } from './harness.ts';

/** The rules, checked through the admin connection. Returns one line per violation. */
async function catalogViolations(adminUrl: string, appLoginRole: string): Promise<string[]> {
  return withClient(adminUrl, async (c: pg.Client) => {
    const violations: string[] = [];
    // Partitions are reached through their parent (whose policy applies): they are checked below
    // for what makes that true — no privilege of the app role on the partition itself.
    const { rows: tables } = await c.query<{ oid: number; name: string; rls: boolean; forced: boolean; owner: string; tenant_not_null: boolean | null }>(
      `select cl.oid::int, cl.relname as name, cl.relrowsecurity as rls, cl.relforcerowsecurity as forced,
              pg_get_userbyid(cl.relowner) as owner,
              (select a.attnotnull from pg_attribute a where a.attrelid = cl.oid and a.attname = 'tenant_id' and not a.attisdropped) as tenant_not_null
         from pg_class cl join pg_namespace n on n.oid = cl.relnamespace
        where n.nspname = $1 and cl.relkind in ('r', 'p') and not cl.relispartition`,
      [appSchema],
    );
    const { rows: partitions } = await c.query<{ name: string; privileges: string[] }>(
      `select cl.relname as name,
              array(select p from unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE']) p where has_table_privilege($2, cl.oid, p))::text[] as privileges
         from pg_class cl join pg_namespace n on n.oid = cl.relnamespace
        where n.nspname = $1 and cl.relkind in ('r', 'p') and cl.relispartition and not cl.relrowsecurity`,
      [appSchema, appLoginRole],
    );
    for (const p of partitions) {
      if (p.privileges.length > 0) violations.push(`${p.name}: partition without row security granted to ${appLoginRole} (${p.privileges.join(', ')})`);
    }
    const tenantTables = tables.filter((t) => t.tenant_not_null !== null);
    const tenantTableOids = new Set(tenantTables.map((t) => t.oid));
    if (tenantTables.length < tenantTableNames.length) violations.push(`only ${tenantTables.length} tables have a tenant_id column`);
    for (const t of [...tenantTables, ...tables.filter((x) => x.name === 'tenants')]) {
      if (!t.rls) violations.push(`${t.name}: RLS not enabled`);
      if (!t.forced) violations.push(`${t.name}: RLS not forced`);
      if (t.owner === appLoginRole) violations.push(`${t.name}: owned by the app's login role ${appLoginRole}`);
      if (t.name !== 'tenants' && !t.tenant_not_null) violations.push(`${t.name}: tenant_id is nullable`);
      const { rows: policies } = await c.query<{ cmd: string; qual: string | null; check: string | null }>(
        `select polcmd as cmd, pg_get_expr(polqual, polrelid) as qual, pg_get_expr(polwithcheck, polrelid) as check
           from pg_policy where polrelid = $1 and polname = 'tenant_isolation'`,
        [t.oid],
      );
      const policy = policies[0];
      if (!policy) violations.push(`${t.name}: no tenant_isolation policy`);
      else {
        const column = t.name === 'tenants' ? 'id' : 'tenant_id';
        if (policy.cmd !== '*') violations.push(`${t.name}: tenant_isolation is not FOR ALL`);
        if (!policy.qual?.includes(`${column} = `) || !policy.qual.includes('current_tenant_id()')) violations.push(`${t.name}: USING does not compare ${column} with the tenant context`);
        if (!policy.check?.includes(`${column} = `) || !policy.check.includes('current_tenant_id()')) violations.push(`${t.name}: WITH CHECK does not compare ${column} with the tenant context`);
      }
    }
    const { rows: fks } = await c.query<{ table: number; name: string; conname: string; referenced: number; cols: string[]; refcols: string[] }>(
      `select con.conrelid::int as table, con.conrelid::regclass::text as name, con.conname, con.confrelid::int as referenced,
              array(select a.attname from unnest(con.conkey) with ordinality k(n, i) join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.n order by k.i)::text[] as cols,
              array(select a.attname from unnest(con.confkey) with ordinality k(n, i) join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.n order by k.i)::text[] as refcols
         from pg_constraint con join pg_namespace n on n.oid = con.connamespace
        where con.contype = 'f' and n.nspname = $1`,
      [appSchema],
    );
    for (const fk of fks) {
      if (!tenantTableOids.has(fk.table) || !tenantTableOids.has(fk.referenced)) continue;
      const at = fk.cols.indexOf('tenant_id');
      if (at < 0 || fk.refcols[at] !== 'tenant_id') violations.push(`${fk.name}.${fk.conname}: foreign key between tenant tables without tenant_id`);
    }
    const { rows: indexes } = await c.query<{ table: number; index: string; first: string | null }>(
      `select i.indrelid::int as table, i.indexrelid::regclass::text as index,
              (select a.attname from pg_attribute a where a.attrelid = i.indrelid and a.attnum = i.indkey[0]) as first
         from pg_index i join pg_class cl on cl.oid = i.indrelid join pg_namespace n on n.oid = cl.relnamespace
        where n.nspname = $1`,
      [appSchema],
    );
    for (const ix of indexes) {
      if (tenantTableOids.has(ix.table) && ix.first !== 'tenant_id') violations.push(`${ix.index}: index does not lead with tenant_id`);
    }
    const { rows: role } = await c.query<{ super: boolean; bypass: boolean; owns: number }>(
      `select r.rolsuper as super, r.rolbypassrls as bypass,
              (select count(*)::int from pg_class where relowner = r.oid) + (select count(*)::int from pg_namespace where nspowner = r.oid)
              + (select count(*)::int from pg_proc where proowner = r.oid) as owns
         from pg_roles r where r.rolname = $1`,
      [appLoginRole],
    );
    if (role[0]?.super) violations.push(`${appLoginRole}: superuser`);
    if (role[0]?.bypass) violations.push(`${appLoginRole}: BYPASSRLS`);
    if ((role[0]?.owns ?? 0) > 0) violations.push(`${appLoginRole}: owns ${role[0]!.owns} objects`);
    const { rows: definers } = await c.query<{ name: string; config: string[] | null; public_exec: boolean }>(
      `select p.proname as name, p.proconfig as config, has_function_privilege('public', p.oid, 'execute') as public_exec
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = $1 and p.prosecdef`,
      [appSchema],
    );
    for (const d of definers) {
      if (!d.config?.some((s) => s.startsWith('search_path='))) violations.push(`${d.name}: SECURITY DEFINER without a fixed search_path`);
      if (d.public_exec) violations.push(`${d.name}: SECURITY DEFINER executable by PUBLIC`);
    }
    return violations;
  });
}

async function loginRole(t: TestApp): Promise<string> {
  const { rows } = await t.app.unscoped.query<{ role: string }>('select current_user as role');
  return rows[0]!.role;
}

describe('catalog rules of the rls model', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  test('the correct app: every rule holds', async () => {
    const role = await loginRole(t);
    expect(role).toBe(t.app.database.roles.app);
    expect(await catalogViolations(t.databaseUrl, role)).toEqual([]);
  });

  test('every tenant table named by the app is in the catalog with its tenant column', async () => {
    const { rows } = await withClient(t.databaseUrl, (c) =>
      c.query<{ relname: string }>(
        `select cl.relname from pg_class cl join pg_namespace n on n.oid = cl.relnamespace join pg_attribute a on a.attrelid = cl.oid
          where n.nspname = $1 and a.attname = 'tenant_id' and cl.relkind = 'r' order by 1`,
        [appSchema],
      ),
    );
    // tenant_members: the global directory of memberships of schema and database tenants (tenant-scoped too);
    // jobs: the background job queue of tenants of every model (tenant-scoped too).
    // usage_monthly: metered usage per month (tenants of every model); usage_events is partitioned
    // (relkind 'p') and its four partitions hold its rows.
    expect(rows.map((r) => r.relname).sort()).toEqual(
      [...tenantTableNames, 'tenant_members', 'jobs', 'usage_monthly', 'usage_events_p0', 'usage_events_p1', 'usage_events_p2', 'usage_events_p3'].sort(),
    );
  });

  test('the app role cannot read password hashes nor call functions it was not granted', async () => {
    await expect(t.app.unscoped.query('select password_hash from app.users')).rejects.toThrow(/permission denied/);
    await expect(t.app.unscoped.query('select * from migrations.pgmigrations')).rejects.toThrow(/permission denied/);
    await expect(t.app.unscoped.query('delete from app.audit_log')).rejects.toThrow(/permission denied/);
    await expect(t.app.unscoped.query(`set role ${t.app.database.roles.owner}`)).rejects.toThrow(/permission denied/);
  });

  test('migrations ran through node-pg-migrate as the owner, and re-running applies nothing', async () => {
    const { rows } = await withClient(t.databaseUrl, (c) =>
      c.query<{ name: string; owner: string }>(
        `select m.name, pg_get_userbyid(cl.relowner) as owner from migrations.pgmigrations m, pg_class cl
          where cl.oid = 'migrations.pgmigrations'::regclass order by m.run_on, m.id`,
      ),
    );
    expect(rows.map((r) => r.name)).toEqual(['1763900000000_global-tables', '1763900000001_tenant-tables', '1763900000002_principal-lookups', '1763900000003_hybrid-tenancy', '1763900000004_job-queue', '1763900000005_platform']);
    expect(new Set(rows.map((r) => r.owner))).toEqual(new Set([t.app.database.roles.owner]));
    const again = await migrateReferenceDatabase(t.databaseUrl);
    expect(again.migrated).toEqual([]);
    expect(again.appUrl).toBe(t.app.database.appUrl);
  });

  test('the tenant-table DDL is reusable in another schema (for the schema-per-tenant model)', async () => {
    const { owner, app } = t.app.database.roles;
    const tables = await withClient(t.databaseUrl, async (c) => {
      await c.query(`set role ${owner}`);
      await c.query('create schema tenant_probe');
      await c.query(tenantTablesDdl({ schema: 'tenant_probe', globalSchema: appSchema, appRole: app, rls: false }));
      await c.query('reset role');
      const { rows } = await c.query<{ relname: string; rls: boolean }>(
        `select cl.relname, cl.relrowsecurity as rls from pg_class cl join pg_namespace n on n.oid = cl.relnamespace
          where n.nspname = 'tenant_probe' and cl.relkind = 'r' order by 1`,
      );
      await c.query('drop schema tenant_probe cascade');
      return rows;
    });
    expect(tables.map((r) => r.relname)).toEqual([...tenantTableNames].sort());
    expect(tables.every((r) => !r.rls)).toBe(true);
  });

  test('closing a test app drops its roles from the shared server', async () => {
    let roles: string[];
    {
      await using other = await startTestApp({ vulnerabilities: ['stats-unscoped', 'rls-not-forced'] });
      roles = Object.values(other.app.database.roles);
      const { rows } = await withClient(testServer().adminUrl, (c) => c.query('select rolname from pg_roles where rolname = any($1)', [roles]));
      expect(rows).toHaveLength(4);
    }
    const { rows } = await withClient(testServer().adminUrl, (c) => c.query('select rolname from pg_roles where rolname = any($1)', [roles]));
    expect(rows).toEqual([]);
  });

  test('red case: the rls-not-forced variant breaks the rules', async () => {
    await using vulnerable = await startTestApp({ vulnerabilities: ['rls-not-forced'] });
    const role = await loginRole(vulnerable);
    const violations = await catalogViolations(vulnerable.databaseUrl, role);
    // The full set the variant produces, not a sample of it: RLS unforced on the registry and every
    // tenant table it names, every tenant table (the directory and job queue included) owned by the
    // role the app logs in as, and that role owning objects. Nothing more, nothing less.
    // The usage tables too; and as owner the login role reaches the partitions of usage_events
    // directly, where no row security applies.
    const ownedTables = ['tenants', ...tenantTableNames, 'tenant_members', 'jobs', 'usage_events', 'usage_monthly'];
    const expected = [
      ...['tenants', ...tenantTableNames].map((table) => `${table}: RLS not forced`),
      ...ownedTables.map((table) => `${table}: owned by the app's login role ${role}`),
      ...[0, 1, 2, 3].map((i) => `usage_events_p${i}: partition without row security granted to ${role} (SELECT, INSERT, UPDATE, DELETE)`),
    ];
    const ownsObjects = new RegExp(`^${role}: owns [1-9]\\d* objects$`);
    expect(violations.filter((v) => !ownsObjects.test(v)).sort()).toEqual(expected.sort());
    expect(violations.filter((v) => ownsObjects.test(v))).toHaveLength(1);
    // The other rules have teeth too: damage the vulnerable database by hand and they report it,
    // on top of the variant's own violations.
    await withClient(vulnerable.databaseUrl, async (c) => {
      await c.query('create index projects_by_name on app.projects (name)');
      await c.query('drop policy tenant_isolation on app.invoices');
    });
    const more = await catalogViolations(vulnerable.databaseUrl, role);
    expect(more.filter((v) => !ownsObjects.test(v)).sort()).toEqual(
      [...expected, 'app.projects_by_name: index does not lead with tenant_id', 'invoices: no tenant_isolation policy'].sort(),
    );
  });

  test('red case: partitions-granted-directly breaks the partition rule', async () => {
    await using vulnerable = await startTestApp({ vulnerabilities: ['partitions-granted-directly'] });
    const violations = await catalogViolations(vulnerable.databaseUrl, await loginRole(vulnerable));
    for (let i = 0; i < 4; i += 1) {
      expect(violations).toContain(`usage_events_p${i}: partition without row security granted to ${vulnerable.app.database.roles.app} (SELECT, INSERT)`);
    }
  });
});
