/**
 * The database model: tenants are databases matching --database-pattern, each with its own role
 * (--tenant-role, `{tenant}` = database name). A tenant is entered by `SET ROLE` to its role
 * inside a connection to a database.
 */
import { introspectStructure } from '../catalog/structure.ts';
import { discoverTenantDatabases } from '../catalog/tenant-units.ts';
import type { TenantScopedTable } from '../catalog/types.ts';
import { CannotRunError, describeError } from '../errors.ts';
import { urlFor, withClient, type Queryable } from '../target/connection.ts';
import { setRoleSql, tenantRoleFor } from '../target/context.ts';
import type { TargetConfig } from '../target/types.ts';
import { planWorld, type TablePlan, type WorldPlan } from '../world/plan.ts';
import type { IsolationModel } from './types.ts';

export const databaseModel: IsolationModel = {
  name: 'database',
  summary: 'one database per tenant, each entered with its own role',
  unitsNoun: 'databases',
  async discoverTenantUnits(q, target) {
    if (!target.tenantRole) throw new CannotRunError('--tenant-role is required for --model database (e.g. --tenant-role "{tenant}_role")');
    const dbs = await discoverTenantDatabases(q, target.databasePattern);
    if (dbs.length < 2) throw new CannotRunError(`the database model needs at least 2 tenant databases matching --database-pattern ${target.databasePattern}, found ${dbs.length}`);
    return dbs;
  },
  contextRoles: (target, dbs) => dbs.map((d) => tenantRoleFor(target, d)),
  enterTenantSql(target, context) {
    return setRoleSql(context.kind === 'tenant' ? tenantRoleFor(target, context.tenant) : target.appRole);
  },
  async describeTenantTables(_q, target, dbs) {
    const tables: string[] = [];
    for (const db of dbs) {
      const plan = await planTenantDatabase(urlFor(target.databaseUrl, db), target).catch((cause) => {
        throw new CannotRunError(`cannot open tenant database ${db}: ${describeError(cause)}`, {}, { cause });
      });
      tables.push(...plan.tables.map((t) => `${db}:${t.label}`));
    }
    return tables;
  },
};

/** The world plan of one tenant database: every table is the tenant's. */
export async function planTenantDatabase(url: string, target: TargetConfig, guard: (q: Queryable) => Queryable = (q) => q): Promise<WorldPlan> {
  return withClient(url, async (c) => {
    const structure = await introspectStructure(guard(c), { tenantColumn: target.tenantColumn, tenantTable: target.tenantTable });
    const tables = structure.relations.filter(
      (r) => (r.kind === 'table' || r.kind === 'partitioned-table') && !r.partitionOf && r.oid !== structure.tenantTable?.oid,
    );
    // Every row of a tenant database is the tenant's; tables that also carry the tenant column
    // (a hybrid layout) get one consistent tenant id.
    const scoped: TenantScopedTable[] = tables.map((relation) => ({
      relation,
      scope: { kind: 'column', column: relation.columns.some((col) => col.name === target.tenantColumn) ? target.tenantColumn : '\u0000' },
    }));
    const plan = planWorld(structure.relations, scoped, structure.tenantTable);
    return { ...plan, tables: plan.tables.map((t): TablePlan => (t.tenantColumn === '\u0000' ? { ...t, tenantColumn: null } : t)) };
  });
}
