/**
 * Schema-per-tenant and database-per-tenant rules: grants across tenant schemas and databases,
 * PUBLIC defaults, and extensions that reach other databases.
 */
import { crossDatabaseExtensions, PUBLIC, type Grant, type SecurityCatalog } from '../../catalog/security.ts';
import { databaseCatalogs, hasPrivilegesOf, roleOf, sqlIdent } from './context.ts';
import { defineRule } from './define.ts';
import type { RuleContext, RuleHit } from './types.ts';

/** Grants that reach `role` other than through PUBLIC (own grants and inherited ones). */
function grantsReaching(security: SecurityCatalog, role: string, grants: readonly Grant[]): Grant[] {
  return grants.filter((g) => g.grantee !== PUBLIC && hasPrivilegesOf(security, role, g.grantee));
}

export const schemaCrossTenantAccess = defineRule(
  {
    id: 'schema-cross-tenant-access',
    title: 'Tenant role has privileges on another tenant\'s schema',
    severity: 'critical',
    leakClass: 'read',
    cwe: 'CWE-639',
    models: ['schema'],
    description:
      'With one schema per tenant, a tenant role must reach its own schema only. This role holds USAGE or CREATE on another tenant\'s schema through its own grants or roles it inherits from (or owns it), so schema-qualified names read or plant objects in the other tenant.',
    remediation: '`REVOKE ALL ON SCHEMA tenant_b FROM tenant_a_role;` (and from shared roles it inherits from).',
    equivalents: { pgtap: 'schema_privs_are', supabaseLinter: 'none' },
  },
  (ctx) => {
    const hits: RuleHit[] = [];
    for (const own of ctx.tenantSchemas) {
      if (!own.role || !ctx.subjects.includes(own.role) || roleOf(ctx.security, own.role)?.superuser) continue;
      for (const other of ctx.tenantSchemas.filter((s) => s.name !== own.name)) {
        const schema = ctx.security.schemas.find((s) => s.name === other.name);
        if (!schema) continue;
        const via = grantsReaching(ctx.security, own.role, schema.grants).filter((g) => g.privilege === 'USAGE' || g.privilege === 'CREATE');
        const owns = hasPrivilegesOf(ctx.security, own.role, schema.owner);
        if (via.length > 0 || owns) {
          hits.push({
            object: `schema ${other.name}`,
            actingTenant: own.name,
            victimTenant: other.name,
            observed: { role: own.role, owns, grants: via.map((g) => `${g.privilege} to ${g.grantee}`) },
            remediation: owns
              ? `ALTER SCHEMA ${sqlIdent(other.name)} OWNER TO ${other.role ? sqlIdent(other.role) : '<its own role>'};`
              : `REVOKE ALL ON SCHEMA ${sqlIdent(other.name)} FROM ${[...new Set(via.map((g) => sqlIdent(g.grantee)))].join(', ')};`,
          });
        }
      }
    }
    return hits;
  },
);

export const schemaPublicAccess = defineRule(
  {
    id: 'schema-public-access',
    title: 'PUBLIC has privileges on a tenant schema or its tables',
    severity: 'high',
    leakClass: 'read',
    cwe: 'CWE-732',
    models: ['schema'],
    description:
      'Privileges granted to PUBLIC on a tenant schema, or on a table in it, reach every role, every other tenant\'s included: USAGE lets them name the tenant\'s objects, a table privilege to PUBLIC lets them read or write it as soon as they can name it, CREATE lets them plant objects that the tenant\'s own search_path then picks up.',
    remediation: '`REVOKE ALL ON SCHEMA tenant_a FROM PUBLIC; REVOKE ALL ON ALL TABLES IN SCHEMA tenant_a FROM PUBLIC;` and grant to the tenant\'s role only.',
    equivalents: { pgtap: 'schema_privs_are', supabaseLinter: 'none' },
  },
  (ctx) =>
    ctx.tenantSchemas.flatMap((unit) => {
      const schema = ctx.security.schemas.find((s) => s.name === unit.name);
      const publicGrants = (schema?.grants ?? []).filter((g) => g.grantee === PUBLIC);
      const hits: RuleHit[] =
        publicGrants.length > 0
          ? [{ object: `schema ${unit.name}`, victimTenant: unit.name, observed: { privileges: publicGrants.map((g) => g.privilege) }, remediation: `REVOKE ALL ON SCHEMA ${sqlIdent(unit.name)} FROM PUBLIC;` }]
          : [];
      for (const relation of ctx.security.relationGrants.filter((r) => r.schema === unit.name)) {
        const onRelation = [
          ...relation.grants.filter((g) => g.grantee === PUBLIC).map((g) => g.privilege),
          ...relation.columnGrants.filter((g) => g.grantee === PUBLIC).map((g) => `${g.privilege} (${g.column})`),
        ];
        if (onRelation.length > 0) {
          hits.push({
            object: `${relation.schema}.${relation.name}`,
            victimTenant: unit.name,
            observed: { privileges: onRelation, schemaUsageForPublic: publicGrants.some((g) => g.privilege === 'USAGE') },
            remediation: `REVOKE ALL ON ${sqlIdent(relation.schema)}.${sqlIdent(relation.name)} FROM PUBLIC; (column grants: REVOKE … (columns) ON … FROM PUBLIC)`,
          });
        }
      }
      return hits;
    }),
);

export const schemaIsolationBySearchPath = defineRule(
  {
    id: 'schema-isolation-by-search-path',
    title: 'Schema isolation relies on a mutable search_path',
    severity: 'high',
    leakClass: 'context',
    cwe: 'CWE-426',
    models: ['schema'],
    description:
      'The shared app role itself has USAGE on several tenant schemas (granted directly, or inherited from the per-tenant roles it is a member of): whatever runs as it before or without `SET ROLE` to one tenant\'s role is kept inside its tenant only by `SET search_path`. Any schema-qualified name (`tenant_b.invoices`), a path set wrongly on a pooled connection, or a function resolving names through the caller\'s path crosses tenants.',
    remediation:
      'Give each tenant its own role with USAGE on its schema only, make the app role a NOINHERIT member of them (`GRANT tenant_a_role TO app_user WITH INHERIT FALSE` on PostgreSQL 16+, `ALTER ROLE app_user NOINHERIT` before), and `SET ROLE` to the tenant\'s role together with the search_path (configure `tenantRole` in the target).',
    equivalents: { pgtap: 'none', supabaseLinter: 'none' },
  },
  (ctx) => {
    if (!ctx.subjects.includes(ctx.target.appRole) || ctx.tenantSchemas.some((s) => s.role === ctx.target.appRole)) return [];
    const reachable = ctx.tenantSchemas.filter((s) => ctx.security.schemaAccess.some((a) => a.subject === ctx.target.appRole && a.schema === s.name && a.usage));
    return reachable.length > 1
      ? [{ object: `role ${ctx.target.appRole}`, observed: { usageOn: reachable.map((s) => s.name) }, remediation: `Revoke the app role's direct USAGE on tenant schemas and make it a NOINHERIT member of per-tenant roles that it SETs together with the search_path.` }]
      : [];
  },
);

export const schemaCreateToPublic = defineRule(
  {
    id: 'schema-create-to-public',
    title: 'Any role can create objects in a shared schema',
    severity: 'high',
    leakClass: 'privilege',
    cwe: 'CWE-427',
    models: ['rls', 'schema', 'database'],
    description:
      'PUBLIC holds CREATE on a non-tenant schema (the `public` schema before PostgreSQL 15, by default). Any role can plant a function or operator there that shadows a built-in one for every session whose search_path includes it — including sessions of other tenants and SECURITY DEFINER functions (CVE-2018-1058).',
    remediation: '`REVOKE CREATE ON SCHEMA public FROM PUBLIC;`',
    equivalents: { pgtap: 'schema_privs_are', supabaseLinter: 'none' },
  },
  (ctx) => {
    const tenantSchemas = new Set(ctx.tenantSchemas.map((s) => s.name));
    return databaseCatalogs(ctx).flatMap(({ security, where }) =>
      security.schemas
        .filter((s) => !tenantSchemas.has(s.name) && s.grants.some((g) => g.grantee === PUBLIC && g.privilege === 'CREATE'))
        .map((s) => ({ object: `schema ${s.name}${where}`, observed: { grantee: PUBLIC, privilege: 'CREATE' }, remediation: `REVOKE CREATE ON SCHEMA ${sqlIdent(s.name)} FROM PUBLIC;` })),
    );
  },
);

export const databasePublicConnect = defineRule(
  {
    id: 'database-public-connect',
    title: 'PUBLIC may CONNECT to (or create TEMP objects in) a tenant database',
    severity: 'high',
    leakClass: 'read',
    cwe: 'CWE-732',
    models: ['database'],
    description:
      '`CREATE DATABASE` grants CONNECT and TEMPORARY to PUBLIC. In a database-per-tenant deployment that lets every tenant\'s role connect to every other tenant\'s database, where anything granted to PUBLIC (functions by default, the public schema) is theirs to use.',
    remediation: '`REVOKE CONNECT, TEMPORARY ON DATABASE tenant_a FROM PUBLIC; GRANT CONNECT ON DATABASE tenant_a TO tenant_a_role;`',
    equivalents: { pgtap: 'database_privs_are', supabaseLinter: 'none' },
  },
  (ctx) =>
    ctx.tenantDatabases.flatMap((db) => {
      const info = ctx.security.databases.find((d) => d.name === db.name);
      const publicGrants = (info?.grants ?? []).filter((g) => g.grantee === PUBLIC && (g.privilege === 'CONNECT' || g.privilege === 'TEMPORARY'));
      return publicGrants.length > 0
        ? [
            {
              object: `database ${db.name}`,
              victimTenant: db.name,
              observed: { privileges: publicGrants.map((g) => g.privilege) },
              remediation: `REVOKE CONNECT, TEMPORARY ON DATABASE ${sqlIdent(db.name)} FROM PUBLIC;${db.role ? ` GRANT CONNECT ON DATABASE ${sqlIdent(db.name)} TO ${sqlIdent(db.role)};` : ''}`,
            },
          ]
        : [];
    }),
);

export const databaseCrossTenantConnect = defineRule(
  {
    id: 'database-cross-tenant-connect',
    title: 'Tenant role can connect to another tenant\'s database',
    severity: 'critical',
    leakClass: 'read',
    cwe: 'CWE-639',
    models: ['database'],
    description:
      'The role of one tenant holds CONNECT on another tenant\'s database through its own grants, roles it inherits from, or ownership (PUBLIC grants are reported by database-public-connect).',
    remediation: '`REVOKE CONNECT ON DATABASE tenant_b FROM tenant_a_role;` (or from the shared role that carries it).',
    equivalents: { pgtap: 'database_privs_are', supabaseLinter: 'none' },
  },
  (ctx) => {
    const hits: RuleHit[] = [];
    for (const own of ctx.tenantDatabases) {
      if (!own.role || !ctx.subjects.includes(own.role) || roleOf(ctx.security, own.role)?.superuser) continue;
      for (const other of ctx.tenantDatabases.filter((d) => d.name !== own.name)) {
        const info = ctx.security.databases.find((d) => d.name === other.name);
        if (!info) continue;
        const via = grantsReaching(ctx.security, own.role, info.grants).filter((g) => g.privilege === 'CONNECT');
        const owns = hasPrivilegesOf(ctx.security, own.role, info.owner);
        if (via.length > 0 || owns) {
          hits.push({
            object: `database ${other.name}`,
            actingTenant: own.name,
            victimTenant: other.name,
            observed: { role: own.role, owns, grants: via.map((g) => `CONNECT to ${g.grantee}`) },
            remediation: owns
              ? `ALTER DATABASE ${sqlIdent(other.name)} OWNER TO <an administrative role>;`
              : `REVOKE CONNECT ON DATABASE ${sqlIdent(other.name)} FROM ${[...new Set(via.map((g) => sqlIdent(g.grantee)))].join(', ')};`,
          });
        }
      }
    }
    return hits;
  },
);

export const crossDatabaseExtensionAvailable = defineRule(
  {
    id: 'cross-database-extension-available',
    title: 'dblink or postgres_fdw usable by the app or a tenant role',
    severity: 'high',
    leakClass: 'read',
    cwe: 'CWE-918',
    models: ['rls', 'schema', 'database'],
    description:
      'dblink and postgres_fdw open connections to other databases — or back to this one as another role — from inside a session. A role under test that may execute dblink functions, or use the postgres_fdw wrapper or one of its servers, can reach other tenants\' databases with whatever credentials it can supply — or with a server\'s stored user mapping.',
    remediation: 'Drop the extension where tenants do not need it (`DROP EXTENSION dblink;`), or `REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA … FROM PUBLIC` for its functions and `REVOKE USAGE ON FOREIGN DATA WRAPPER postgres_fdw FROM …`.',
    equivalents: { pgtap: 'hasnt_extension', supabaseLinter: 'none' },
  },
  (ctx) => {
    const catalogs: { database: string; security: SecurityCatalog }[] =
      ctx.model === 'database'
        ? ctx.tenantDatabases.filter((d) => d.security !== null).map((d) => ({ database: d.name, security: d.security! }))
        : [{ database: ctx.security.database, security: ctx.security }];
    const hits: RuleHit[] = [];
    for (const { database, security } of catalogs) {
      for (const subject of ctx.subjects) {
        const functions = security.extensionFunctionAccess.filter((a) => a.subject === subject);
        const wrappers = security.foreignAccess.filter((a) => a.subject === subject && (crossDatabaseExtensions as readonly string[]).includes(a.name) && a.kind === 'wrapper');
        const servers = security.foreignAccess.filter((a) => a.subject === subject && a.kind === 'server');
        if (functions.length + wrappers.length + servers.length === 0) continue;
        hits.push({
          object: `database ${database}`,
          observed: {
            role: subject,
            functions: functions.map((f) => `${f.extension}.${f.function}`),
            wrappers: wrappers.map((w) => w.name),
            servers: servers.map((s) => s.name),
          },
        });
      }
    }
    return hits;
  },
);

export type { RuleContext };
