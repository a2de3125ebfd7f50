/**
 * The rls model: tenants share tables; a tenant column (or a foreign-key path to the tenants
 * table) says whose a row is, and row-level security policies keep each tenant to its rows.
 * A tenant is entered as the app role with the tenant setting holding its id.
 */
import { introspectStructure, type Structure } from '../catalog/structure.ts';
import type { Relation } from '../catalog/types.ts';
import { CannotRunError, describeError } from '../errors.ts';
import type { Queryable } from '../target/connection.ts';
import { setRoleSql, setSettingSql, type TenantContext } from '../target/context.ts';
import { enterContextSql, placeholdersOf, principalUserId, sessionIdOf, type ContextConfig, type PrincipalValues } from '../target/contexts.ts';
import type { TargetConfig } from '../target/types.ts';
import { withLearnedReferences, type LearnedReference } from '../world/learn.ts';
import { planWorld, type WorldPlan } from '../world/plan.ts';
import type { IsolationModel } from './types.ts';

export const rlsModel: IsolationModel = {
  name: 'rls',
  summary: 'shared tables with a tenant column; row-level security policies keep each tenant to its rows',
  async discoverTenantUnits() {
    return [];
  },
  contextRoles: (target) => {
    const c = target.context;
    if (!c) return [target.appRole];
    const role = c.role ?? target.appRole;
    // A role named by the tenant's row ({tenant.db_user}) is checked once the world's tenants exist.
    return [...(placeholdersOf(role).length === 0 ? [role] : []), ...(c.anonymous ? [c.anonymous.role] : [])];
  },
  async checkContext(tx, target) {
    const settings = target.context ? Object.keys({ ...target.context.settings, ...target.context.anonymous?.settings }) : [target.tenantSetting];
    for (const name of settings) {
      try {
        await tx.query('select set_config($1, $2, true)', [name, 'tenantproof']);
      } catch (cause) {
        throw new CannotRunError(`${target.context ? 'context setting' : 'tenant setting'} ${name} cannot be set: ${describeError(cause)}`, {}, { cause });
      }
    }
  },
  enterTenantSql(target, context) {
    const c = target.context;
    if (!c) {
      const value = context.kind === 'tenant' ? context.tenant : context.value;
      return `${setRoleSql(target.appRole)}; ${setSettingSql(target.tenantSetting, value)}`;
    }
    return enterPrincipalSql(target, c, context);
  },
  async describeTenantTables(q, target) {
    const structure = await introspectRlsTarget(q, target);
    return planRlsWorlds(structure).plan.tables.filter((t) => t.role === 'scoped').map((t) => t.label);
  },
};

/** A principal of a context template: a user (of zero, one or several tenants), or the anonymous principal. */
export interface PrincipalContext {
  readonly kind: 'principal';
  readonly values: PrincipalValues;
  readonly anonymous?: boolean;
}

/** SQL entering `principal` through the target's context template (the rls model with `context`). */
export function enterPrincipalContextSql(target: TargetConfig, principal: PrincipalContext): string {
  return target.context ? enterPrincipalSql(target, target.context, principal) : rlsModel.enterTenantSql(target, { kind: 'raw', value: principal.values.tenant });
}

/** SQL entering a context template's principal: a tenant's own user, a given principal, or a raw value in place of the ids. */
function enterPrincipalSql(target: TargetConfig, c: ContextConfig, context: TenantContext | PrincipalContext): string {
  const resolved = c.resolved;
  const tenants = resolved?.tenants ?? null;
  const entry = { role: c.role ?? target.appRole, settings: c.settings, sql: c.sql, searchPath: c.searchPath };
  if (context.kind === 'principal' && context.anonymous) {
    return c.anonymous ? enterContextSql({ ...entry, ...c.anonymous }, context.values, tenants) : enterContextSql(entry, context.values, tenants);
  }
  const withSession = (v: PrincipalValues): PrincipalValues =>
    v.user !== null && resolved?.sessionKeyType ? { ...v, session: sessionIdOf(v.user, resolved.sessionKeyType) } : v;
  const values: PrincipalValues =
    context.kind === 'principal'
      ? context.values
      : context.kind === 'raw'
        ? { user: context.value, tenant: context.value, role: entry.role }
        : {
            user: resolved && !resolved.userIsTenant ? principalUserId(context.tenant, resolved.userKeyType) : context.tenant,
            tenant: context.tenant,
            role: entry.role,
            other: resolved?.others.get(context.tenant) ?? null,
          };
  return enterContextSql(entry, withSession(values), tenants);
}

/** Introspects the target for the rls model; refuses (one line) when nothing is tenant-scoped. */
export async function introspectRlsTarget(q: Queryable, target: TargetConfig, schemas?: readonly string[]): Promise<Structure> {
  let structure: Structure;
  const only = schemas ?? target.schemas ?? undefined;
  try {
    if (only) {
      const missing = await missingSchemas(q, only);
      if (missing.length > 0) throw new CannotRunError(`--schemas names ${missing.map((m) => `schema ${m}`).join(', ')}, which does not exist in this database`);
    }
    structure = await introspectStructure(q, { tenantColumn: target.tenantColumn, tenantTable: target.tenantTable, ...(only ? { schemas: only } : {}) });
  } catch (cause) {
    if (cause instanceof CannotRunError) throw cause;
    throw new CannotRunError(`cannot read the target's catalog: ${describeError(cause)}`, {}, { cause });
  }
  // Options that match nothing in the database would otherwise verify nothing and still pass.
  if (structure.tenantTable === null) {
    throw new CannotRunError(`--tenant-table ${target.tenantTable} does not exist${only ? ` in schemas ${only.join(', ')}` : ''}: name the table listing tenants (schema.table)`);
  }
  if (!structure.relations.some((r) => r.kind !== 'view' && r.kind !== 'materialized-view' && r.columns.some((c) => c.name === target.tenantColumn))) {
    throw new CannotRunError(`--tenant-column ${target.tenantColumn} matches no column of any table${only ? ` in schemas ${only.join(', ')}` : ''}: name the column that holds the tenant id`);
  }
  if (structure.tenantScoped.length === 0) {
    throw new CannotRunError(
      `no tenant-scoped tables found: no table has a ${target.tenantColumn} column or a foreign key to ${target.tenantTable} (see --tenant-column, --tenant-table)`,
    );
  }
  return structure;
}

/** The world plan of an rls target, with references learned from refused writes added. */
export function planRlsWorlds(structure: Structure, learned: readonly LearnedReference[] = []): { plan: WorldPlan; relations: readonly Relation[] } {
  const relations = withLearnedReferences(structure.relations, learned);
  const byOid = new Map(relations.map((r) => [r.oid, r]));
  const scoped = structure.tenantScoped.map((t) => ({ ...t, relation: byOid.get(t.relation.oid) ?? t.relation }));
  return { relations, plan: planWorld(relations, scoped, structure.tenantTable ? (byOid.get(structure.tenantTable.oid) ?? structure.tenantTable) : null) };
}

/** Names in `schemas` that are not schemas of the connected database. */
async function missingSchemas(q: Queryable, schemas: readonly string[]): Promise<string[]> {
  const { rows } = await q.query<{ name: string }>(
    'select s.name from unnest($1::text[]) as s(name) where not exists (select 1 from pg_namespace n where n.nspname = s.name) order by 1',
    [[...schemas]],
  );
  return rows.map((r) => r.name);
}
