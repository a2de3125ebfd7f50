/**
 * Probes of the schema model: in every world each chosen tenant reaches every other chosen
 * tenant's tables by qualified name (it must see and change nothing), and its own tables by
 * unqualified name (which must resolve to its own schema only).
 */
import type { RootCause } from '../../findings/types.ts';
import { introspectStructure } from '../../catalog/structure.ts';
import { planSchemasFrom, schemaModel, schemaWorldArbitrary } from '../../models/schema.ts';
import { quoteIdent, type Queryable } from '../../target/connection.ts';
import { tenantRoleFor } from '../../target/context.ts';
import type { TargetConfig } from '../../target/types.ts';
import { probedTables, rowKeySql, writeWorld } from '../../world/write.ts';
import { checkProperty, lockGuarded, planLearningReferences, preflight, type VerifyOptions, type VerifyResult } from './engine.ts';
import { introspectReach } from '../../catalog/reach.ts';
import { probeForeignTable } from './foreign-access.ts';
import { ReachLedger, runSchemaReachProbes } from './reach.ts';
import { defineProbeChecks } from './define.ts';
import type { ProbeRun } from './probe-run.ts';

/** The check of the unqualified-name probe below (the qualified ones are foreign-access.ts's). */
export const unqualifiedChecks = defineProbeChecks({
  'probe-schema-read-unqualified': {
    title: "An unqualified table name reads rows outside the tenant's schema",
    finding: "Unqualified {name} in tenant {acting}'s context reads rows outside its schema",
    severity: 'critical',
    leakClass: 'read',
    leak: true,
    cwe: 'CWE-863',
    models: ['schema'],
    description:
      "As each tenant, with its search_path, scan each of its own tables by unqualified name: every row must come from that table itself (not from another schema's table of the same name, nor from tables inheriting from it).",
    remediation: `Unqualified names in tenant {acting}'s context must resolve to its own schema's table alone: set search_path to the tenant's schema only, and let no other schema's table inherit from (or be a partition of) {object}.`,
  },
});

/** All probes of one world for the schema model. */
async function runSchemaProbes(run: ProbeRun): Promise<void> {
  const { world, target } = run;
  const tables = probedTables(world);
  // One role entering every tenant schema: search_path is no boundary, and every cross-schema
  // finding is a consequence of that one role (named by the rule schema-isolation-by-search-path).
  const sharedRole: RootCause | undefined = target.tenantRole
    ? undefined
    : {
        key: `shared-role:${target.appRole}`,
        checkId: 'schema-isolation-by-search-path',
        object: `role ${target.appRole}`,
        title: `Every tenant schema is entered as the one role ${target.appRole}, so search_path is the only boundary`,
        remediation: `Use one role per tenant (--tenant-role) with USAGE on its own schema only, or revoke ${target.appRole}'s access to the tenant schemas.`,
      };
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
            model: 'schema',
            ...(sharedRole ? { rootCause: sharedRole } : {}),
            object: (t) => t.label,
            remediation: (t) => ({
              fix: target.tenantRole
                ? `role ${role} (tenant ${acting}) reaches ${t.label}: REVOKE ALL ON SCHEMA ${quoteIdent(victim)} and its tables FROM ${role} (and FROM PUBLIC); grant each tenant role USAGE and table privileges on its own schema only.`
                : `the shared role ${target.appRole} has privileges in every tenant schema, so search_path is no boundary: use one role per tenant (--tenant-role) with USAGE on its own schema only, or revoke ${target.appRole}'s access to ${victim}.`,
            }),
          },
          table,
        );
      }
    }
    // Unqualified names must resolve to the tenant's own tables.
    for (const table of tables.filter((t) => t.relation.schema === acting)) {
      const sql = `select ${rowKeySql} as tp_key from ${quoteIdent(table.relation.name)} t limit 50`;
      const scan = await run.session.probe<{ tp_key: string }>(schemaModel.enterTenantSql(target, { kind: 'tenant', tenant: acting }), sql);
      run.stats.probes += 1;
      const elsewhere = scan.ok ? scan.rows.filter((r) => !r.tp_key.startsWith(`${table.relation.oid}:`)) : [];
      if (elsewhere.length > 0) {
        run.observe(
          unqualifiedChecks.finding('probe-schema-read-unqualified', {
            object: table.label,
            actingTenant: acting,
            statement: sql,
            observed: { rows: elsewhere.length, sample: elsewhere.slice(0, 3).map((r) => r.tp_key) },
            expected: `only rows of ${table.label}`,
            vars: { name: table.relation.name },
          }),
        );
      }
    }
  }
}

/** Verifies a schema-model target. */
export async function verifySchemaModel(q: Queryable, target: TargetConfig, options: VerifyOptions): Promise<VerifyResult> {
  const schemas = await schemaModel.discoverTenantUnits(q, target);
  await preflight(q, target, schemaModel, schemas);
  const guarded = lockGuarded(q, options.lockTimeoutMs);
  const structure = await introspectStructure(guarded, { tenantColumn: target.tenantColumn, tenantTable: target.tenantTable });
  const { planned: schemaPlan, bases } = await planLearningReferences(q, target, options, {
    guarded,
    planFor: (learned) => planSchemasFrom(structure, target, schemas, learned),
    arbitraryFor: (planned) => schemaWorldArbitrary(planned, schemas),
  });
  const { plan } = schemaPlan;
  // What each tenant role can reach beyond its own tables (views, functions, shared tables, other roles).
  const reach = await introspectReach(guarded, target.tenantRole ? schemas.map((s) => tenantRoleFor(target, s)) : []);
  const ledger = new ReachLedger();
  const tables = plan.tables.filter((t) => t.role === 'scoped').map((t) => t.label);
  const canDisableTriggers = await q
    .query('begin; set local session_replication_role = replica; rollback')
    .then(() => true, async () => (await q.query('rollback').catch(() => undefined), false));
  options.onProgress?.({ phase: 'introspected', tables, run: 0, runs: options.runs, probes: 0, findings: 0, elapsedMs: 0 });
  const result = await checkProperty(
    {
      q,
      target,
      plan,
      bases,
      catalog: { views: [], functions: [], hints: new Map(), canDisableTriggers, causes: new Map() },
      existingTenants: new Set(),
      runProbes: async (run) => {
        await runSchemaProbes(run);
        await runSchemaReachProbes(run, reach, schemas, ledger);
      },
      write: (tx, world) => writeWorld(tx, target, plan, world, bases),
      arbitrary: schemaWorldArbitrary(schemaPlan, schemas),
      // Every acting tenant must have met every other chosen tenant's rows.
      foreignRowsNeeded: (tenants) => tenants * (tenants - 1),
    },
    options,
    tables,
  );
  return { ...result, refuted: ledger.refutations() };
}
