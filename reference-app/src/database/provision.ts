/**
 * Provisioning of the reference database: roles, migrations and — for named vulnerabilities that
 * live in the database — the deliberate damage.
 *
 * Roles (per database, so many scratch databases can share one server):
 * - `<db>_owner` NOLOGIN: owns the schema, tables and definer functions; migrations run as it.
 * - `<db>_app` LOGIN: what the app connects as. Owns nothing, not superuser, no BYPASSRLS.
 * - `<db>_ops` LOGIN BYPASSRLS: only created for vulnerabilities that need an RLS-bypassing path.
 */
import { createHmac } from 'node:crypto';
import pg from 'pg';
import { runMigrations, type MigrationLog } from './migrations.ts';
import { quoteIdent as q, quoteLiteral as lit } from './sql.ts';
import { tenantTableNames } from './tenant-tables.ts';
import { usagePartitions } from './migrations/1763900000005_platform.ts';
import { deploymentPrefix, tenantObjectPatterns, type TenantObjectPatterns } from './naming.ts';
import { needsOpsRole, type VulnerabilityName } from '../vulnerabilities.ts';

export const appSchema = 'app';

export interface ReferenceRoles {
  readonly owner: string;
  readonly app: string;
  readonly ops: string;
  /** NOLOGIN: the global-table privileges every schema-model tenant role inherits. */
  readonly tenantBase: string;
}

export interface ReferenceDatabase {
  readonly database: string;
  readonly schema: string;
  readonly roles: ReferenceRoles;
  /** URL the app role logs in with. */
  readonly appUrl: string;
  /** Set only when a vulnerability needs it (`rls-not-forced`): the owner logging in. */
  readonly ownerUrl?: string;
  /** Set only when a vulnerability needs it: the RLS-bypassing ops role. */
  readonly opsUrl?: string;
  /** Migrations applied by this call (empty when already up to date). */
  readonly migrated: readonly string[];
  /** Where the schema and database models put tenants (for `tenantproof verify` on each model). */
  readonly tenantObjects: TenantObjectPatterns;
  /** The admin URL this database was provisioned with (the control plane: provisioning, teardown, migrations). */
  readonly adminUrl: string;
}

export interface MigrateOptions {
  readonly vulnerabilities?: ReadonlySet<VulnerabilityName>;
  readonly log?: MigrationLog;
}

export function referenceRoles(database: string): ReferenceRoles {
  const base = database.slice(0, 50);
  return { owner: `${base}_owner`, app: `${base}_app`, ops: `${base}_ops`, tenantBase: `${base}_tenants` };
}

/** A password derived from the admin URL, so concurrent starts on one database agree on it. */
function derivedPassword(adminUrl: string, role: string): string {
  return createHmac('sha256', adminUrl).update(`tenantproof-reference:${role}`).digest('base64url');
}

function withCredentials(adminUrl: string, user: string, password: string): string {
  const url = new URL(adminUrl);
  url.username = encodeURIComponent(user);
  url.password = encodeURIComponent(password);
  return url.toString();
}

async function ensureRole(client: pg.ClientBase, role: string, attributes: string): Promise<void> {
  const { rowCount } = await client.query('select 1 from pg_roles where rolname = $1', [role]);
  const verb = rowCount ? 'alter' : 'create';
  await client.query(`${verb} role ${q(role)} ${attributes}`);
}

/**
 * Creates the roles (idempotent), applies pending migrations as the owner and applies the
 * database-level vulnerabilities asked for. `adminUrl` points at the database to provision and
 * needs a superuser (BYPASSRLS for `ops` needs one) or CREATEROLE with membership in the roles.
 */
export async function migrateReferenceDatabase(adminUrl: string, options: MigrateOptions = {}): Promise<ReferenceDatabase> {
  const vulnerable = options.vulnerabilities ?? new Set<VulnerabilityName>();
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ db: string }>('select current_database() as db');
    const database = rows[0]!.db;
    const roles = referenceRoles(database);
    // Serialise provisioning of this database (advisory locks are per database).
    await client.query(`select pg_advisory_lock(hashtext('tenantproof-reference-provision'))`);
    try {
      const appPassword = derivedPassword(adminUrl, roles.app);
      await ensureRole(client, roles.owner, 'nologin noinherit nosuperuser nobypassrls');
      await ensureRole(client, roles.app, `login password ${lit(appPassword)} noinherit nosuperuser nobypassrls nocreatedb nocreaterole`);
      await ensureRole(client, roles.tenantBase, 'nologin inherit nosuperuser nobypassrls');
      await client.query(`grant connect, create on database ${q(database)} to ${q(roles.owner)}`);
      await client.query(`grant connect on database ${q(database)} to ${q(roles.app)}`);
      const { rows: su } = await client.query<{ superuser: boolean }>('select rolsuper as superuser from pg_roles where rolname = current_user');
      if (!su[0]?.superuser) await client.query(`grant ${q(roles.owner)} to current_user`);
      else {
        // Side channel: every pooled session runs as the one app role, and a role sees the query
        // text of its own sessions — another tenant's literals included. Close it in this database
        // (the functions are the cluster's, their grants each database's: other databases the
        // role may connect to, such as postgres, need the same revoke or no CONNECT for it).
        await client.query(`revoke execute on function pg_catalog.pg_stat_get_activity(integer), pg_catalog.pg_stat_get_backend_activity(integer) from public`);
      }

      await client.query(`set role ${q(roles.owner)}`);
      let migrated: string[];
      try {
        migrated = await runMigrations(client, { schema: appSchema, ownerRole: roles.owner, appRole: roles.app, tenantBaseRole: roles.tenantBase }, options.log);
      } finally {
        await client.query('reset role');
      }

      let ownerUrl: string | undefined;
      let opsUrl: string | undefined;
      if (vulnerable.has('rls-not-forced')) {
        const password = derivedPassword(adminUrl, roles.owner);
        await client.query(`alter role ${q(roles.owner)} login password ${lit(password)}`);
        for (const table of ['tenants', ...tenantTableNames]) {
          await client.query(`alter table ${q(appSchema)}.${q(table)} no force row level security`);
        }
        ownerUrl = withCredentials(adminUrl, roles.owner, password);
      }
      if (vulnerable.has('invoice-number-global')) {
        await client.query(`create sequence if not exists ${q(appSchema)}.invoice_number_global`);
        await client.query(`grant usage on sequence ${q(appSchema)}.invoice_number_global to ${q(roles.app)}`);
      }
      if (vulnerable.has('partitions-granted-directly')) {
        for (let i = 0; i < usagePartitions; i += 1) {
          await client.query(`grant select, insert on ${q(appSchema)}.${q(`usage_events_p${i}`)} to ${q(roles.app)}`);
        }
      }
      if (needsOpsRole.some((v) => vulnerable.has(v))) {
        const password = derivedPassword(adminUrl, roles.ops);
        await ensureRole(client, roles.ops, `login bypassrls password ${lit(password)} nosuperuser`);
        await client.query(`grant connect on database ${q(database)} to ${q(roles.ops)}`);
        await client.query(`grant usage on schema ${q(appSchema)} to ${q(roles.ops)}`);
        await client.query(`grant select, insert, update, delete on all tables in schema ${q(appSchema)} to ${q(roles.ops)}`);
        opsUrl = withCredentials(adminUrl, roles.ops, password);
      }
      return {
        database,
        schema: appSchema,
        roles,
        appUrl: withCredentials(adminUrl, roles.app, appPassword),
        ...(ownerUrl ? { ownerUrl } : {}),
        ...(opsUrl ? { opsUrl } : {}),
        migrated,
        tenantObjects: tenantObjectPatterns(database),
        adminUrl,
      };
    } finally {
      await client.query(`select pg_advisory_unlock(hashtext('tenantproof-reference-provision'))`).catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Drops what this database's roles own and then the roles, so a scratch database leaves nothing
 * behind on a shared server. Call after every app on the database is closed.
 */
export async function dropReferenceRoles(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ db: string }>('select current_database() as db');
    const database = rows[0]!.db;
    const roles = referenceRoles(database);
    // Tenant databases (and the template) first: their login roles own them.
    const prefix = deploymentPrefix(database);
    const like = prefix.replaceAll('_', '\\_');
    const { rows: databases } = await client.query<{ datname: string }>(
      `select datname from pg_database where datname like $1 or datname like $2`,
      [`${like}\\_t\\_%`, `${like}\\_template`],
    );
    for (const { datname } of databases) {
      await client.query(`alter database ${q(datname)} is_template false`);
      await client.query(`drop database if exists ${q(datname)} with (force)`);
    }
    const { rows: existing } = await client.query<{ rolname: string }>(
      `select rolname from pg_roles where rolname = any($1) or rolname like $2 or rolname like $3 order by rolname like $2 desc, rolname like $3 desc`,
      [[roles.app, roles.ops, roles.owner, roles.tenantBase], `${like}\\_tenant\\_%`, `${like}\\_t\\_%`],
    );
    const names = existing.map((r) => r.rolname);
    if (names.length === 0) return;
    // Tenant schemas one by one first: dropping hundreds in one `drop owned` runs out of lock slots.
    const { rows: tenantSchemas } = await client.query<{ nspname: string }>(
      `select nspname from pg_namespace where nspname like 'tenant\\_%' and pg_get_userbyid(nspowner) = $1`,
      [roles.owner],
    );
    for (const { nspname } of tenantSchemas) await client.query(`drop schema if exists ${q(nspname)} cascade`);
    // Tenant roles in batches, for the same reason.
    const tenantRoles = names.filter((n) => ![roles.app, roles.ops, roles.owner, roles.tenantBase].includes(n));
    for (let i = 0; i < tenantRoles.length; i += 50) {
      const batch = tenantRoles.slice(i, i + 50);
      await client.query(`drop owned by ${batch.map(q).join(', ')} cascade`);
      for (const name of batch) await client.query(`drop role ${q(name)}`);
    }
    names.splice(0, names.length, ...names.filter((n) => !tenantRoles.includes(n)));
    if (names.length === 0) return;
    await client.query(`drop owned by ${names.map(q).join(', ')} cascade`);
    for (const name of names) await client.query(`drop role ${q(name)}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}
