/**
 * Provisioning and teardown of database-model tenants (control plane, admin connection).
 *
 * A database tenant gets:
 * - database `<db>_t_<hex>` (from its id — `naming.ts`), created from the template database
 *   `<db>_template`, which holds the tenant tables (same DDL, no RLS: the database is the
 *   boundary) and two local mirrors in schema `app`: the tenant's own registry row (`tenants`)
 *   and the (id, email) of its members (`users`);
 * - LOGIN role `<db>_t_<hex>` (same name as its database): CONNECT on that database only —
 *   `CONNECT` and `TEMPORARY` are revoked from PUBLIC — and DML on its tables there; never
 *   superuser, no dblink / postgres_fdw installed, so no reach into another database.
 *
 * Passwords: derived, not stored — an HMAC of the role name keyed by the server-side secret (the
 * admin URL the app was started with, which only the app process holds). Every app process of a
 * deployment derives the same password, nothing secret sits in a table, and rotating the secret
 * rotates every tenant's password (`alter role ... password`) — at the cost that whoever holds
 * the admin URL can derive them (they can do anything anyway).
 */
import { createHmac } from 'node:crypto';
import pg from 'pg';
import type { ReferenceRoles } from './provision.ts';
import { quoteIdent as q, quoteLiteral as lit } from './sql.ts';
import { tenantTableGrants, tenantTablesDdl } from './tenant-tables.ts';
import { tenantDatabaseName } from './naming.ts';

/** Schema of the tenant tables and local mirrors inside a tenant database. */
export const tenantDatabaseSchema = 'app';

export interface DatabaseTenantPlacement {
  readonly database: string;
  readonly role: string;
}

export function databasePlacement(mainDatabase: string, tenantId: string): DatabaseTenantPlacement {
  const name = tenantDatabaseName(mainDatabase, tenantId);
  return { database: name, role: name };
}

export function tenantDatabasePassword(secret: string, role: string): string {
  return createHmac('sha256', secret).update(`tenantproof-reference-tenant-db:${role}`).digest('base64url');
}

export function urlFor(baseUrl: string, database: string, user?: string, password?: string): string {
  const url = new URL(baseUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  if (user !== undefined) url.username = encodeURIComponent(user);
  if (password !== undefined) url.password = encodeURIComponent(password);
  return url.toString();
}

/** The schema of a tenant database: local mirrors, the tenant-context function, the tenant tables. */
export function templateDdl(ownerRole: string): string {
  const s = q(tenantDatabaseSchema);
  return `
revoke all on schema public from public;
create schema ${s} authorization ${q(ownerRole)};
set role ${q(ownerRole)};
revoke all on schema ${s} from public;
create function ${s}.current_tenant_id() returns uuid
  language sql stable parallel safe
  as $$ select nullif(current_setting('app.current_tenant', true), '')::uuid $$;
-- The tenant's own registry row, copied from the global registry at provisioning.
create table ${s}.tenants (
  id uuid primary key,
  slug text not null,
  name text not null check (char_length(name) between 1 and 200),
  plan text not null,
  status text not null default 'active' check (status in ('active', 'suspended')),
  limits jsonb not null default '{}',
  features jsonb not null default '{}',
  model text not null default 'database' check (model = 'database'),
  created_at timestamptz not null default now()
);
-- (id, email) of the tenant's members; users themselves live in the global database.
create table ${s}.users (
  id uuid primary key,
  email text not null
);
${tenantTablesDdl({ schema: tenantDatabaseSchema, globalSchema: tenantDatabaseSchema, appRole: ownerRole, rls: false, grants: false })}
reset role;
`;
}

/** What the tenant's role may do inside its own database. */
export function tenantDatabaseGrants(role: string): string {
  const s = q(tenantDatabaseSchema);
  const r = q(role);
  return `
grant usage on schema ${s} to ${r};
grant select, insert, delete on ${s}.tenants to ${r};
grant update (name) on ${s}.tenants to ${r};
grant select, insert, update (email) on ${s}.users to ${r};
${tenantTableGrants(tenantDatabaseSchema, role)}
`;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'tenantproof-reference-control' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Creates the template database if it does not exist (idempotent; callers serialise). */
export async function ensureTemplateDatabase(admin: pg.ClientBase, adminUrl: string, template: string, roles: ReferenceRoles): Promise<void> {
  const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [template]);
  if (rowCount) return;
  await admin.query(`create database ${q(template)} owner ${q(roles.owner)}`);
  try {
    await admin.query(`revoke all on database ${q(template)} from public`);
    await withClient(urlFor(adminUrl, template), (c) => c.query(templateDdl(roles.owner)));
    await admin.query(`alter database ${q(template)} is_template true`);
  } catch (error) {
    await admin.query(`drop database if exists ${q(template)} with (force)`).catch(() => undefined);
    throw error;
  }
}

export interface DatabaseProvisioningOptions {
  /** The `database-public-connect` vulnerability: CONNECT left to PUBLIC, tables readable by PUBLIC. */
  readonly publicConnect?: boolean;
}

/** Creates the tenant's login role and database from the template, with its grants. */
export async function provisionTenantDatabase(
  admin: pg.ClientBase,
  input: { adminUrl: string; template: string; placement: DatabaseTenantPlacement; roles: ReferenceRoles; secret: string },
  options: DatabaseProvisioningOptions = {},
): Promise<void> {
  const { database, role } = input.placement;
  const password = tenantDatabasePassword(input.secret, role);
  const { rowCount } = await admin.query('select 1 from pg_roles where rolname = $1', [role]);
  await admin.query(
    `${rowCount ? 'alter' : 'create'} role ${q(role)} login password ${lit(password)} nosuperuser nobypassrls nocreatedb nocreaterole noinherit connection limit 20`,
  );
  await admin.query(`create database ${q(database)} template ${q(input.template)} owner ${q(input.roles.owner)}`);
  try {
    if (options.publicConnect) {
      await admin.query(`grant connect on database ${q(database)} to ${q(role)}`);
    } else {
      await admin.query(`revoke connect, temporary on database ${q(database)} from public`);
      await admin.query(`grant connect on database ${q(database)} to ${q(role)}`);
    }
    await withClient(urlFor(input.adminUrl, database), async (c) => {
      await c.query(tenantDatabaseGrants(role));
      if (options.publicConnect) {
        await c.query(`grant usage on schema ${q(tenantDatabaseSchema)} to public; grant select on all tables in schema ${q(tenantDatabaseSchema)} to public`);
      }
    });
  } catch (error) {
    await admin.query(`drop database if exists ${q(database)} with (force)`).catch(() => undefined);
    throw error;
  }
}

/** Drops the tenant's database (closing its connections) and its role. Idempotent. */
export async function dropTenantDatabase(admin: pg.ClientBase, placement: DatabaseTenantPlacement): Promise<void> {
  await admin.query(`drop database if exists ${q(placement.database)} with (force)`);
  await admin.query(`drop role if exists ${q(placement.role)}`);
}
