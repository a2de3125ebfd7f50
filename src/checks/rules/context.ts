/**
 * Builds the RuleContext once per run, and the questions rules ask of it (who bypasses RLS on
 * which table, which policies apply to a role, who can reach a relation).
 */
import type { Queryable } from '../../target/connection.ts';
import { introspectSecurity, PUBLIC, type Policy, type SecurityCatalog } from '../../catalog/security.ts';
import { introspectStructure, qualifiedName } from '../../catalog/structure.ts';
import type { QualifiedName, Relation } from '../../catalog/types.ts';
import { CannotRunError, describeError } from '../../errors.ts';
import type { TargetConfig } from '../../target/types.ts';
import { tenantRoleFor } from '../../target/context.ts';
import { discoverTenantDatabases, discoverTenantSchemas } from '../../catalog/tenant-units.ts';
import type { Convention, RuleContext, TenantDatabase, TenantTable, TenantUnit } from './types.ts';

/** A connection to another database on the target's server (database model). */
export type ConnectDatabase = (database: string) => Promise<Queryable & { close(): Promise<void> }>;

export interface ContextOptions {
  /** database model: how to reach each tenant database (default: the target URL with that database). */
  readonly connect?: ConnectDatabase;
}

/** The per-tenant role of a schema or database, or null when the target names no --tenant-role template. */
function tenantRoleOf(target: TargetConfig, unit: string): string | null {
  return target.tenantRole ? tenantRoleFor(target, unit) : null;
}

export async function buildRuleContext(q: Queryable, target: TargetConfig, options: ContextOptions = {}): Promise<RuleContext> {
  // rls: --schemas limits where tenant tables are (a hybrid's shared schema); the rules look there only, like the probes.
  const only = target.model === 'rls' && target.schemas && target.schemas.length > 0 ? { schemas: target.schemas } : {};
  const structure = await introspectStructure(q, { tenantColumn: target.tenantColumn, tenantTable: target.tenantTable, ...only });
  const schemaNames = target.model === 'schema' ? await discoverTenantSchemas(q, target.schemaPattern) : [];
  const databaseNames = target.model === 'database' ? await discoverTenantDatabases(q, target.databasePattern) : [];
  const tenantSchemas: TenantUnit[] = schemaNames.map((name) => ({ name, role: tenantRoleOf(target, name) }));
  const units = target.model === 'schema' ? tenantSchemas : databaseNames.map((name) => ({ name, role: tenantRoleOf(target, name) }));
  const candidateSubjects = [target.appRole, ...units.map((u) => u.role).filter((r): r is string => r !== null)];

  // The conventions' principals (Supabase's anon and authenticated) are read too, for the convention rules.
  const security = await introspectSecurity(q, { subjects: [...candidateSubjects, 'anon', 'authenticated'] });
  const existing = new Set(security.subjects.filter((s) => s.exists).map((s) => s.name));
  if (target.model === 'rls' && !existing.has(target.appRole)) {
    throw new CannotRunError(`app role ${target.appRole} does not exist in database ${security.database}: set --app-role to the role the application uses`);
  }
  const subjects = candidateSubjects.filter((s, i) => existing.has(s) && candidateSubjects.indexOf(s) === i);

  let tenantTables: TenantTable[];
  if (target.model === 'rls') {
    tenantTables = structure.tenantScoped.map((t) => ({
      relation: t.relation,
      tenantColumn: t.scope.kind === 'column' ? t.scope.column : null,
      tenantSchema: null,
    }));
  } else if (target.model === 'schema') {
    const names = new Set(schemaNames);
    tenantTables = structure.relations
      .filter((r) => (r.kind === 'table' || r.kind === 'partitioned-table') && names.has(r.schema))
      .map((relation) => ({ relation, tenantColumn: null, tenantSchema: relation.schema }));
  } else {
    tenantTables = [];
  }

  const tenantDatabases: TenantDatabase[] = [];
  for (const name of databaseNames) {
    const role = tenantRoleOf(target, name);
    let dbSecurity: SecurityCatalog | null = null;
    if (name === security.database) dbSecurity = security;
    else {
      const connection = await (options.connect ?? defaultConnect(target))(name).catch((cause: unknown) => {
        throw new CannotRunError(`cannot connect to tenant database ${name}: ${describeError(cause)}`, { database: name }, { cause });
      });
      try {
        dbSecurity = await introspectSecurity(connection, { subjects });
      } finally {
        await connection.close();
      }
    }
    tenantDatabases.push({ name, role, security: dbSecurity });
  }

  return { target, model: target.model, structure, security, subjects, tenantTables, tenantSchemas, tenantDatabases, convention: conventionOf(security) };
}

/**
 * Supabase, recognised by its roles (anon, authenticated, service_role) and its `auth` schema:
 * anon is the anonymous principal, service_role bypasses row security by design.
 */
export function conventionOf(security: SecurityCatalog): Convention {
  const roles = new Set(security.roles.map((r) => r.name));
  const supabase = ['anon', 'authenticated', 'service_role'].every((r) => roles.has(r)) && security.schemas.some((s) => s.name === 'auth');
  return supabase ? { name: 'supabase', anonymousRole: 'anon', bypassByDesign: ['service_role'] } : { name: 'unknown', anonymousRole: null, bypassByDesign: [] };
}

function defaultConnect(target: TargetConfig): ConnectDatabase {
  return async (database) => {
    const [{ default: pg }, { urlFor }] = await Promise.all([import('pg'), import('../../target/connection.ts')]);
    const client = new pg.Client({ connectionString: urlFor(target.databaseUrl, database) });
    await client.connect();
    return {
      query: (text, values) => client.query(text, values as unknown[]) as never,
      close: () => client.end(),
    };
  };
}

/* ---------- questions rules ask ---------- */

export function nameOf(r: QualifiedName): string {
  return qualifiedName(r);
}

/** An identifier as SQL: bare when it can be, double-quoted otherwise. */
export function sqlIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

/** A qualified name as SQL, for remediation statements. */
export function sqlName(r: QualifiedName): string {
  return `${sqlIdent(r.schema)}.${sqlIdent(r.name)}`;
}

/**
 * The security catalogs of every database the rules look into: the target's, and in the database
 * model each tenant database's. `where` is '' for the target's database and ` in database X` for
 * the others, for object names.
 */
export function databaseCatalogs(ctx: RuleContext): { security: SecurityCatalog; where: string }[] {
  const out = [{ security: ctx.security, where: '' }];
  for (const db of ctx.tenantDatabases) {
    if (db.security && db.security.database !== ctx.security.database) out.push({ security: db.security, where: ` in database ${db.name}` });
  }
  return out;
}

/** True when `role` holds `other`'s privileges by inherited membership (or is it). */
export function hasPrivilegesOf(security: SecurityCatalog, role: string, other: string): boolean {
  if (role === other) return true;
  const seen = new Set([role]);
  const queue = [role];
  while (queue.length > 0) {
    const current = queue.shift()!;
    for (const m of security.memberships) {
      if (m.member !== current || !m.inherit || seen.has(m.role)) continue;
      if (m.role === other) return true;
      seen.add(m.role);
      queue.push(m.role);
    }
  }
  return false;
}

/** A membership path from `role` to `other`, for evidence (`a → b → c`), or null. */
export function membershipPath(security: SecurityCatalog, role: string, other: string): string[] | null {
  const previous = new Map<string, string>();
  const queue = [role];
  const seen = new Set([role]);
  while (queue.length > 0) {
    const current = queue.shift()!;
    if (current === other) {
      const path = [other];
      for (let at = other; previous.has(at); ) path.unshift((at = previous.get(at)!));
      return path;
    }
    for (const m of security.memberships) {
      if (m.member === current && !seen.has(m.role)) {
        seen.add(m.role);
        previous.set(m.role, current);
        queue.push(m.role);
      }
    }
  }
  return null;
}

export function roleOf(security: SecurityCatalog, name: string) {
  return security.roles.find((r) => r.name === name);
}

/** How `subject` relates to `owner`: owner itself, inherits its privileges, or can SET ROLE to it. */
export function ownershipOf(security: SecurityCatalog, subject: string, owner: string): 'owner' | 'inherits' | 'can-set-role' | null {
  if (subject === owner) return 'owner';
  // A superuser "is a member" of every role; app-role-superuser reports it once instead.
  if (roleOf(security, subject)?.superuser) return null;
  const s = security.subjects.find((x) => x.name === subject);
  const viaSubject = s?.roles.find((r) => r.role === owner);
  if (viaSubject?.usage || hasPrivilegesOf(security, subject, owner)) return 'inherits';
  if (viaSubject?.set) return 'can-set-role';
  return null;
}

/**
 * Why a role is not subject to `table`'s row security, or null: superuser, BYPASSRLS, or owner
 * (directly or by inherited membership) of a table whose RLS is not FORCEd.
 */
export function bypassReason(security: SecurityCatalog, role: string, table: Relation): string | null {
  const r = roleOf(security, role);
  if (r?.superuser) return `${role} is a superuser`;
  if (r?.bypassRls) return `${role} has BYPASSRLS`;
  if (!table.rlsEnabled) return `row level security is disabled on ${nameOf(table)}`;
  if (!table.rlsForced && hasPrivilegesOf(security, role, table.owner)) {
    return role === table.owner
      ? `${role} owns ${nameOf(table)}, whose row level security is not FORCEd`
      : `${role} inherits the privileges of ${table.owner}, owner of ${nameOf(table)}, whose row level security is not FORCEd`;
  }
  return null;
}

/** True when `policy` applies to `subject` (TO PUBLIC, the subject, or a role whose privileges it inherits). */
export function policyAppliesTo(ctx: RuleContext, policy: Policy, subject: string): boolean {
  return policy.roles.some((r) => r === PUBLIC || hasPrivilegesOf(ctx.security, subject, r));
}

export function policiesOf(ctx: RuleContext, table: QualifiedName): Policy[] {
  return ctx.security.policies.filter((p) => p.schema === table.schema && p.table === table.name);
}

/** Privileges `subject` holds on a relation (table-level and any-column), provided it has USAGE on the schema. */
export function privilegesOn(ctx: RuleContext, subject: string, relation: QualifiedName, security: SecurityCatalog = ctx.security): Set<string> {
  const usage = security.schemaAccess.find((s) => s.subject === subject && s.schema === relation.schema)?.usage ?? false;
  if (!usage) return new Set();
  const access = security.relationAccess.find((a) => a.subject === subject && a.schema === relation.schema && a.name === relation.name);
  return new Set([...(access?.privileges ?? []), ...(access?.columnPrivileges ?? [])]);
}

export function relationNamed(ctx: RuleContext, name: QualifiedName): Relation | undefined {
  return ctx.structure.relations.find((r) => r.schema === name.schema && r.name === name.name);
}

/** The tenant tables a view reads, following views over views. */
export function tenantTablesReadBy(ctx: RuleContext, view: QualifiedName): TenantTable[] {
  const found = new Map<string, TenantTable>();
  const seen = new Set<string>();
  const walk = (v: QualifiedName) => {
    const key = nameOf(v);
    if (seen.has(key)) return;
    seen.add(key);
    const info = ctx.security.views.find((x) => x.schema === v.schema && x.name === v.name);
    for (const read of info?.reads ?? []) {
      const tenant = ctx.tenantTables.find((t) => t.relation.schema === read.schema && t.relation.name === read.name);
      if (tenant) found.set(nameOf(read), tenant);
      else if (ctx.security.views.some((x) => x.schema === read.schema && x.name === read.name && x.kind === 'view')) walk(read);
    }
  };
  walk(view);
  return [...found.values()];
}
