/**
 * The schema model: tenants are schemas matching --schema-pattern. A tenant is entered with its
 * own role (--tenant-role template, `{tenant}` = schema) or the shared app role, plus a
 * transaction-local search_path. Worlds pick 2–6 tenant schemas and fill their tables; each tenant
 * then reaches every other chosen tenant's tables by qualified name, and its own tables by
 * unqualified name (which must resolve to its own schema only).
 */
import fc from 'fast-check';
import { introspectStructure, type Structure } from '../catalog/index.ts';
import type { Relation, TenantScopedTable } from '../catalog/types.ts';
import type { Queryable } from '../target/connection.ts';
import { quoteIdent, withClient } from '../target/connection.ts';
import { CannotRunError } from '../errors.ts';
import { tenantRoleFor } from '../target/context.ts';
import type { TargetConfig } from '../target/types.ts';
import { maxTenants, rowArbitrary, tenantIdsArbitrary, type RowSpec, type World } from '../world/arbitraries.ts';
import { planWorld, type TablePlan, type WorldPlan } from '../world/plan.ts';
import { readCounterBases, rowKeySql, writeWorld } from '../world/write.ts';
import { checkProperty, lockGuarded, preflight, refusalsOfOneWorld, type VerifyOptions, type VerifyResult } from '../checks/probes/engine.ts';
import { withLearnedReferences, type LearnedReference } from '../world/learn.ts';
import { probeForeignTable } from '../checks/probes/foreign-access.ts';
import type { ProbeRun } from '../checks/probes/rls.ts';

/** Tenant schemas matching the pattern (LIKE), in name order. */
export async function listTenantSchemas(q: Queryable, pattern: string): Promise<string[]> {
  const { rows } = await q.query<{ name: string }>(
    `select nspname as name from pg_namespace where nspname like $1 and nspname !~ '^pg_' and nspname <> 'information_schema' order by 1`,
    [pattern],
  );
  return rows.map((r) => r.name);
}

function rolesFor(target: TargetConfig, schemas: readonly string[]): string[] {
  return target.tenantRole ? schemas.map((s) => tenantRoleFor(target, s)) : [target.appRole];
}

async function tenantSchemasOrFail(q: Queryable, target: TargetConfig): Promise<string[]> {
  const schemas = await listTenantSchemas(q, target.schemaPattern);
  if (schemas.length < 2) {
    throw new CannotRunError(`the schema model needs at least 2 tenant schemas matching --schema-pattern ${target.schemaPattern}, found ${schemas.length}`);
  }
  return schemas;
}

export async function inspectSchemaTenants(target: TargetConfig): Promise<{ tenants: string[]; tables: string[] }> {
  return withClient(target.databaseUrl, async (client) => {
    const schemas = await tenantSchemasOrFail(client, target);
    await preflight(client, target, rolesFor(target, schemas));
    const { plan } = await planSchemas(client, target, schemas);
    return { tenants: schemas, tables: plan.tables.filter((t) => t.role === 'scoped').map((t) => t.label) };
  });
}

interface SchemaPlan {
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

async function planSchemas(q: Queryable, target: TargetConfig, schemas: readonly string[]): Promise<SchemaPlan> {
  return planSchemasFrom(await introspectStructure(q, { tenantColumn: target.tenantColumn, tenantTable: target.tenantTable }), target, schemas);
}

/** The schema plan of an introspected catalog, with learned references added to every tenant schema. */
function planSchemasFrom(structure: Structure, target: TargetConfig, schemas: readonly string[], learned: readonly LearnedReference[] = []): SchemaPlan {
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

function schemaWorldArbitrary({ plan, pinned }: SchemaPlan, schemas: readonly string[]): fc.Arbitrary<World> {
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

/** All probes of one world for the schema model. */
async function runSchemaProbes(run: ProbeRun): Promise<void> {
  const { world, target } = run;
  const tables = world.plan.tables.filter((t) => t.role === 'scoped' && !world.skipped.has(t.label));
  for (let a = 0; a < world.tenants.length; a++) {
    const acting = world.tenants[a]!;
    const role = tenantRoleFor(target, acting);
    for (let v = 0; v < world.tenants.length; v++) {
      if (v === a) continue;
      const victim = world.tenants[v]!;
      for (const table of tables.filter((t) => t.relation.schema === victim)) {
        await probeForeignTable(
          run,
          {
            context: { kind: 'tenant', tenant: acting },
            acting,
            victim,
            victimIndex: v,
            prefix: 'probe-schema',
            object: (t) => t.label,
            remediation: (t) =>
              target.tenantRole
                ? `Role ${role} (tenant ${acting}) reaches ${t.label}: REVOKE ALL ON SCHEMA ${quoteIdent(victim)} and its tables FROM ${role} (and FROM PUBLIC); grant each tenant role USAGE and table privileges on its own schema only.`
                : `The shared role ${target.appRole} has privileges in every tenant schema, so search_path is no boundary: use one role per tenant (--tenant-role) with USAGE on its own schema only, or revoke ${target.appRole}'s access to ${victim}.`,
          },
          table,
        );
      }
    }
    // Unqualified names must resolve to the tenant's own tables.
    for (const table of tables.filter((t) => t.relation.schema === acting)) {
      const sql = `select ${rowKeySql} as tp_key from ${quoteIdent(table.relation.name)} t limit 50`;
      const scan = await run.session.probe<{ tp_key: string }>((await import('../target/context.ts')).enterTenantSql(target, { kind: 'tenant', tenant: acting }), sql);
      run.stats.probes += 1;
      const elsewhere = scan.ok ? scan.rows.filter((r) => !r.tp_key.startsWith(`${table.relation.oid}:`)) : [];
      if (elsewhere.length > 0) {
        run.observe({
          checkId: 'probe-schema-read-unqualified',
          title: `Unqualified ${table.relation.name} in tenant ${acting}'s context reads rows outside its schema`,
          severity: 'critical',
          leakClass: 'read',
          leak: true,
          object: table.label,
          actingTenant: acting,
          statement: sql,
          observed: { rows: elsewhere.length },
          expected: `only rows of ${table.label}`,
          cwe: 'CWE-863',
          remediation: `Set search_path to the tenant's schema only (no shared schema ahead of or after it that holds a table of the same name).`,
        });
      }
    }
  }
}

/** Verifies a schema-model target. */
export async function verifySchemaModel(q: Queryable, target: TargetConfig, options: VerifyOptions): Promise<VerifyResult> {
  const schemas = await tenantSchemasOrFail(q, target);
  await preflight(q, target, rolesFor(target, schemas));
  const guarded = lockGuarded(q, options.lockTimeoutMs);
  const structure = await introspectStructure(guarded, { tenantColumn: target.tenantColumn, tenantTable: target.tenantTable });
  let schemaPlan = planSchemasFrom(structure, target, schemas);
  let bases = await readCounterBases(guarded, schemaPlan.plan);
  // References enforced out of the catalog's sight (a trigger copying rows into a table with a
  // foreign key): write one world, learn from its refusals, plan again (a few rounds at most).
  for (let round = 0, learned: LearnedReference[] = []; round < 3; round++) {
    const found = await refusalsOfOneWorld(q, target, schemaPlan.plan, bases, schemaPlan.relations, schemaWorldArbitrary(schemaPlan, schemas), options);
    if (found.length === 0) break;
    learned = [...learned, ...found];
    schemaPlan = planSchemasFrom(structure, target, schemas, learned);
    bases = await readCounterBases(guarded, schemaPlan.plan);
  }
  const { plan } = schemaPlan;
  const tables = plan.tables.filter((t) => t.role === 'scoped').map((t) => t.label);
  const canDisableTriggers = await q
    .query('begin; set local session_replication_role = replica; rollback')
    .then(() => true, async () => (await q.query('rollback').catch(() => undefined), false));
  options.onProgress?.({ phase: 'introspected', tables, run: 0, runs: options.runs, probes: 0, findings: 0, elapsedMs: 0 });
  return checkProperty(
    {
      q,
      target,
      plan,
      bases,
      catalog: { views: [], functions: [], hints: new Map(), canDisableTriggers },
      existingTenants: new Set(),
      runProbes: runSchemaProbes,
      write: (tx, world) => writeWorld(tx, target, plan, world, bases),
      arbitrary: schemaWorldArbitrary(schemaPlan, schemas),
    },
    options,
    tables,
  );
}
