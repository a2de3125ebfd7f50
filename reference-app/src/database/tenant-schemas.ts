/**
 * Provisioning and teardown of schema-model tenants (the control plane: runs on the admin
 * connection, never inside a request's tenant transaction).
 *
 * A schema tenant gets:
 * - schema `tenant_<hex>` (from its id — `naming.ts`), owned by the owner role, no privilege for PUBLIC;
 * - the tenant tables (same DDL as the shared model, `tenant-tables.ts`, without RLS: isolation
 *   comes from privileges, not from the tenant column);
 * - NOLOGIN role `<db>_tenant_<hex>`: USAGE on that schema only and DML on its tables, plus the
 *   tenant base role (global registry row, users' emails). The app's login role may `SET ROLE` to it
 *   but does not inherit it, so outside a tenant transaction the app reaches no tenant schema.
 */
import type pg from 'pg';
import type { ReferenceRoles } from './provision.ts';
import { quoteIdent as q } from './sql.ts';
import { tenantTablesDdl } from './tenant-tables.ts';
import { tenantSchemaName, tenantSchemaRole } from './naming.ts';
import { migrateTarget, tenantMigrations } from './tenant-migrations.ts';

export interface SchemaTenantPlacement {
  readonly schema: string;
  readonly role: string;
}

export interface SchemaProvisioningOptions {
  /** The `schema-shared-role` vulnerability: one role for every tenant schema. */
  readonly sharedRole?: string;
  /** The `schema-name-injection` vulnerability: the schema is named from the slug. */
  readonly schemaFromSlug?: string;
}

export function schemaPlacement(database: string, tenantId: string, options: SchemaProvisioningOptions = {}): SchemaTenantPlacement {
  return {
    schema: options.schemaFromSlug ? `tenant_${options.schemaFromSlug.replaceAll('-', '_')}` : tenantSchemaName(tenantId),
    role: options.sharedRole ?? tenantSchemaRole(database, tenantId),
  };
}

/** The tenant tables of one tenant schema plus the directory trigger (run as the owner). */
export function tenantSchemaDdl(schema: string, tenantRole: string, appSchema: string, tenantId: string): string {
  const s = q(schema);
  return `
create schema ${s};
revoke all on schema ${s} from public;
grant usage on schema ${s} to ${q(tenantRole)};
${tenantTablesDdl({ schema, globalSchema: appSchema, appRole: tenantRole, rls: false, pinnedTenant: tenantId })}
create trigger member_directory after insert or update or delete on ${s}.memberships
  for each row execute function ${q(appSchema)}.sync_member_directory();
`;
}

/**
 * Makes the app role a member of a tenant role that it may SET ROLE to but never inherits. On
 * PostgreSQL 16+ the grant says so itself; before 16 a grant has no options, and it is the app
 * role's own NOINHERIT (`provision.ts`) that keeps the tenant's privileges out of its reach until
 * it sets the role.
 */
export function appMembershipGrant(role: string, appRole: string, serverVersionNum: number): string {
  return serverVersionNum >= 160000 ? `grant ${q(role)} to ${q(appRole)} with inherit false, set true` : `grant ${q(role)} to ${q(appRole)}`;
}

async function serverVersionNum(admin: pg.ClientBase): Promise<number> {
  const { rows } = await admin.query<{ v: number }>(`select current_setting('server_version_num')::int as v`);
  return rows[0]!.v;
}

/** A new tenant's role: member of the tenant base role; the app may SET ROLE to it, never inherits it. */
function tenantRoleDdl(role: string, roles: ReferenceRoles, versionNum: number): string {
  return `create role ${q(role)} nologin inherit nosuperuser nobypassrls;
grant ${q(roles.tenantBase)} to ${q(role)};
${appMembershipGrant(role, roles.app, versionNum)};`;
}

async function ensureTenantRole(admin: pg.ClientBase, role: string, roles: ReferenceRoles, versionNum: number): Promise<void> {
  const { rowCount } = await admin.query('select 1 from pg_roles where rolname = $1', [role]);
  if (!rowCount) await admin.query(`create role ${q(role)} nologin inherit nosuperuser nobypassrls`);
  await admin.query(`grant ${q(roles.tenantBase)} to ${q(role)}`);
  // The app may become the tenant role inside a transaction, but never holds its privileges otherwise.
  await admin.query(appMembershipGrant(role, roles.app, versionNum));
}

/** Creates the tenant's role and schema in one transaction on `admin` (all or nothing). */
export async function provisionTenantSchema(
  admin: pg.ClientBase,
  input: { database: string; tenantId: string; roles: ReferenceRoles; appSchema: string },
  options: SchemaProvisioningOptions & { readonly inTransaction?: boolean } = {},
): Promise<SchemaTenantPlacement> {
  const placement = schemaPlacement(input.database, input.tenantId, options);
  const own = !options.inTransaction;
  if (own) await admin.query('begin');
  try {
    // One round trip for role, schema and tables (the names are derived and quoted, no input).
    const versionNum = await serverVersionNum(admin);
    let role = '';
    if (options.sharedRole) await ensureTenantRole(admin, placement.role, input.roles, versionNum);
    else role = tenantRoleDdl(placement.role, input.roles, versionNum);
    const ddl = options.schemaFromSlug
      ? // The `schema-name-injection` vulnerability: the schema name comes from client input.
        tenantSchemaDdl(placement.schema, placement.role, input.appSchema, input.tenantId).replace(/^create schema .*;$/m, `create schema if not exists ${placement.schema};`)
      : tenantSchemaDdl(placement.schema, placement.role, input.appSchema, input.tenantId);
    await admin.query(`${role}\nset local role ${q(input.roles.owner)};\n${ddl}\nreset role;`);
    // A new tenant schema is current: the baseline DDL plus every tenant migration, recorded.
    if (tenantMigrations.length > 0) await migrateTarget(admin, { model: 'schema', database: input.database, schema: placement.schema, tenantId: input.tenantId }, input.roles.owner, tenantMigrations, {
      inTransaction: true,
    });
    if (own) await admin.query('commit');
    return placement;
  } catch (error) {
    if (own) await admin.query('rollback').catch(() => undefined);
    throw error;
  }
}

/** Drops the tenant's schema (and every row in it) and its role. Idempotent. */
export async function dropTenantSchema(admin: pg.ClientBase, placement: SchemaTenantPlacement, roles: ReferenceRoles, sharedRole: boolean): Promise<void> {
  await admin.query('begin');
  try {
    await admin.query(`set local role ${q(roles.owner)}`);
    await admin.query(`drop schema if exists ${q(placement.schema)} cascade`);
    await admin.query('reset role');
    if (!sharedRole) {
      const { rowCount } = await admin.query('select 1 from pg_roles where rolname = $1', [placement.role]);
      if (rowCount) {
        await admin.query(`drop owned by ${q(placement.role)}`);
        await admin.query(`drop role ${q(placement.role)}`);
      }
    }
    await admin.query('commit');
  } catch (error) {
    await admin.query('rollback').catch(() => undefined);
    throw error;
  }
}
