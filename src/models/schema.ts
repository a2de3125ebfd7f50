/**
 * The schema model: tenants are schemas matching --schema-pattern. A tenant is entered with its
 * own role (--tenant-role template, `{tenant}` = schema) or the shared app role, plus a
 * transaction-local search_path. Worlds pick 2–6 tenant schemas and fill their tables; each tenant
 * then reaches every other chosen tenant's tables by qualified name, and its own tables by
 * unqualified name (which must resolve to its own schema only).
 */
import fc from 'fast-check';
import { introspectStructure, type Structure } from '../catalog/structure.ts';
import { discoverTenantSchemas } from '../catalog/tenant-units.ts';
import type { Relation, TenantScopedTable } from '../catalog/types.ts';
import { CannotRunError } from '../errors.ts';
import { searchPathSql, setRoleSql, tenantRoleFor } from '../target/context.ts';
import type { TargetConfig } from '../target/types.ts';
import { maxTenants, rowArbitrary, tenantIdsArbitrary, type RowSpec, type World } from '../world/arbitraries.ts';
import { withLearnedReferences, type LearnedReference } from '../world/learn.ts';
import { planWorld, type TablePlan, type WorldPlan } from '../world/plan.ts';
import type { IsolationModel } from './types.ts';

export const schemaModel: IsolationModel = {
  name: 'schema',
  summary: 'one schema per tenant, entered with its own role (or the shared app role) and a search_path of that schema',
  unitsNoun: 'schemas',
  async discoverTenantUnits(q, target) {
    const schemas = await discoverTenantSchemas(q, target.schemaPattern);
    if (schemas.length < 2) {
      throw new CannotRunError(`the schema model needs at least 2 tenant schemas matching --schema-pattern ${target.schemaPattern}, found ${schemas.length}`);
    }
    return schemas;
  },
  contextRoles: (target, schemas) => (target.tenantRole ? schemas.map((s) => tenantRoleFor(target, s)) : [target.appRole]),
  enterTenantSql(target, context) {
    if (context.kind === 'raw') return setRoleSql(target.appRole);
    return `${setRoleSql(tenantRoleFor(target, context.tenant))}; ${searchPathSql(context.tenant)}`;
  },
  async describeTenantTables(q, target, schemas) {
    const { plan } = planSchemasFrom(await introspectStructure(q, { tenantColumn: target.tenantColumn, tenantTable: target.tenantTable }), target, schemas);
    return plan.tables.filter((t) => t.role === 'scoped').map((t) => t.label);
  },
};

export interface SchemaPlan {
  readonly plan: WorldPlan;
  /** The catalog's relations, with any learned references added. */
  readonly relations: readonly Relation[];
  /**
   * Tenant ids a schema pins its tables to (`CHECK (tenant_id = '…')` on the tenant column): that
   * schema's rows must carry exactly this id, so worlds use it instead of a drawn one.
   */
  readonly pinned: ReadonlyMap<string, string>;
}

/** `CHECK ((tenant_id = '5f0c…'::uuid))` → `5f0c…` (a constant the column must equal). */
export function pinnedValue(definition: string, column: string): string | null {
  const ident = column.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`^CHECK \\(+"?${ident}"?\\s*=\\s*'((?:[^']|'')*)'(?:::[a-z ]+)?\\)+$`, 'i').exec(definition.trim());
  return m ? m[1]!.replaceAll("''", "'") : null;
}

/** The schema plan of an introspected catalog, with learned references added to every tenant schema. */
export function planSchemasFrom(structure: Structure, target: TargetConfig, schemas: readonly string[], learned: readonly LearnedReference[] = []): SchemaPlan {
  // Tenant schemas share one layout: a reference learned in one schema's table holds in every schema's.
  const relations = withLearnedReferences(structure.relations, learned, (r, l) => schemas.includes(r.schema) && r.name === l.table);
  const inTenantSchemas = relations.filter(
    (r) => schemas.includes(r.schema) && (r.kind === 'table' || r.kind === 'partitioned-table') && !r.partitionOf,
  );
  if (inTenantSchemas.length === 0) throw new CannotRunError(`the tenant schemas (${schemas.slice(0, 3).join(', ')}, …) have no tables`);
  // Every row of a tenant schema is the tenant's. Tables that also carry the tenant column (a
  // hybrid layout) get the tenant's id there, consistent across the schema and the tenants table.
  const scoped: TenantScopedTable[] = inTenantSchemas.map((relation) => ({
    relation,
    scope: { kind: 'column', column: relation.columns.some((c) => c.name === target.tenantColumn) ? target.tenantColumn : '\u0000' },
  }));
  // The global tenants table belongs in the world only when tenant tables point at it.
  const candidate = structure.tenantTable && !schemas.includes(structure.tenantTable.schema) ? structure.tenantTable : null;
  const referenced = candidate && inTenantSchemas.some((r) => r.foreignKeys.some((fk) => fk.references.schema === candidate.schema && fk.references.name === candidate.name));
  const plan = planWorld(relations, scoped, referenced ? candidate : null);
  const pinned = new Map<string, string>();
  for (const relation of inTenantSchemas) {
    for (const check of relation.checks) {
      if (check.columns.length !== 1 || check.columns[0] !== target.tenantColumn) continue;
      const value = pinnedValue(check.definition, target.tenantColumn);
      if (value === null) continue;
      const earlier = pinned.get(relation.schema);
      if (earlier !== undefined && earlier !== value) throw new CannotRunError(`tenant schema ${relation.schema} pins ${target.tenantColumn} to two values (${earlier}, ${value})`);
      pinned.set(relation.schema, value);
    }
  }
  return { plan: { ...plan, tables: plan.tables.map((t): TablePlan => (t.tenantColumn === '\u0000' ? { ...t, tenantColumn: null } : t)) }, relations, pinned };
}

export function schemaWorldArbitrary({ plan, pinned }: SchemaPlan, schemas: readonly string[]): fc.Arbitrary<World> {
  return fc.uniqueArray(fc.constantFrom(...schemas), { minLength: 2, maxLength: Math.min(maxTenants, schemas.length) }).chain((tenants) => {
    const n = tenants.length;
    const rows = plan.tables.map((t): fc.Arbitrary<RowSpec[][]> => {
      const row = rowArbitrary(t);
      if (t.role === 'global') return fc.array(row, { minLength: 2, maxLength: maxTenants }).map((r) => [r]);
      if (t.role === 'tenants') return fc.array(row, { minLength: n, maxLength: n }).map((r) => r.map((x) => [x]));
      return fc.array(row, { minLength: 1, maxLength: 3 }).map((r) => tenants.map((s) => (s === t.relation.schema ? r : [])));
    });
    return fc
      .record({ tenantIds: tenantIdsArbitrary(plan, { minTenants: n, maxTenants: n }), rows: fc.tuple(...rows) })
      .map(({ tenantIds, rows }): World => ({ tenants, tenantIds: tenants.map((s, i) => pinned.get(s) ?? tenantIds[i]!), rows }))
      .filter((world) => new Set(world.tenantIds).size === world.tenants.length);
  });
}

