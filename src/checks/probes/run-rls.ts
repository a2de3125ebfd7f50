/**
 * The rls model's property: introspect, plan worlds (learning references the catalog does not
 * show), then in every world run every rls probe as every generated tenant.
 */
import { readProbeSurface } from '../../catalog/probe-surface.ts';
import { findDefinitionClasses } from '../../catalog/definition-classes.ts';
import { introspectRlsTarget, planRlsWorlds, rlsModel } from '../../models/rls.ts';
import { CannotRunError } from '../../errors.ts';
import { quoteIdent, type Queryable } from '../../target/connection.ts';
import type { TargetConfig } from '../../target/types.ts';
import { worldArbitrary, type World } from '../../world/arbitraries.ts';
import type { LearnedReference } from '../../world/learn.ts';
import { writeWorld } from '../../world/write.ts';
import { checkProperty, lockGuarded, planLearningReferences, preflight, type VerifyOptions, type VerifyResult } from './engine.ts';
import { runRlsProbes } from './rls.ts';
import { runPrincipalProbes } from './principals.ts';
import { findPrincipals, type PrincipalCatalog } from '../../catalog/principals.ts';
import { placeholdersOf, type ContextConfig } from '../../target/contexts.ts';
import { createTenantRoles, writePrincipals, type WorldPrincipals } from '../../world/principals.ts';
import type { WorldPlan } from '../../world/plan.ts';

/** The target with its context template resolved against the catalog (where placeholders are looked up). */
function resolveContext(target: TargetConfig, context: ContextConfig, plan: WorldPlan, principals: PrincipalCatalog): TargetConfig {
  const tenantsPlan = plan.tables.find((t) => t.role === 'tenants');
  const tenants = tenantsPlan?.tenantColumn ? { sql: tenantsPlan.sql, key: tenantsPlan.tenantColumn } : null;
  const templates = [context.role ?? '', ...Object.values(context.settings), context.sql ?? ''];
  const rowColumns = templates.flatMap(placeholdersOf).filter((p) => p.startsWith('tenant.')).map((p) => p.slice('tenant.'.length));
  for (const column of rowColumns) {
    if (!tenantsPlan) throw new CannotRunError(`context template names {tenant.${column}}, but there is no tenants table (see --tenant-table)`);
    if (!tenantsPlan.relation.columns.some((c) => c.name === column)) {
      throw new CannotRunError(`context template names {tenant.${column}}, which is not a column of the tenants table ${tenantsPlan.label}`);
    }
  }
  return { ...target, context: { ...context, resolved: { tenants, userKeyType: principals.userKeyType, userIsTenant: principals.membership === null, others: new Map(), sessionKeyType: principals.sessions?.key.baseType ?? null } } };
}

/** Verifies an rls target: every tenant-scoped table, every probe, `options.runs` worlds. */
export async function verifyRls(q: Queryable, given: TargetConfig, options: VerifyOptions): Promise<VerifyResult> {
  await preflight(q, given, rlsModel, []);
  // Reads before the first world wait for no lock longer than the runs themselves do.
  const guarded = lockGuarded(q, options.lockTimeoutMs);
  const structure = await introspectRlsTarget(guarded, given);
  const planFor = (learned: readonly LearnedReference[]) => planRlsWorlds(structure, learned);
  // Principals (a context template): users, memberships, user-keyed and shared tables.
  const principalCatalog = given.context ? findPrincipals(structure, { ...given.context, tenantColumn: given.tenantColumn }) : null;
  const target = given.context ? resolveContext(given, given.context, planFor([]).plan, principalCatalog!) : given;
  // Rows the connecting role is refused are written the application's way: as the tenant.
  const writeAs = (tenant: string) => rlsModel.enterTenantSql(target, { kind: 'tenant', tenant });
  const existingTenants = new Set<string>();
  const tenantsPlan = planFor([]).plan.tables.find((t) => t.role === 'tenants');
  if (tenantsPlan?.tenantColumn) {
    const { rows } = await guarded
      .query<{ id: string }>(`select ${quoteIdent(tenantsPlan.tenantColumn)}::text as id from ${tenantsPlan.sql}`)
      .catch((error) => {
        if (error instanceof CannotRunError) throw error;
        return { rows: [] as { id: string }[] };
      });
    for (const r of rows) existingTenants.add(r.id.toLowerCase());
  }
  const fresh = (world: World) => world.tenants.every((t) => !existingTenants.has(t.toLowerCase()));
  const { planned, bases } = await planLearningReferences(q, target, options, {
    guarded,
    planFor,
    arbitraryFor: ({ plan }) => worldArbitrary(plan, options.world),
    accept: fresh,
    writeAs,
  });
  const { plan } = planned;
  const scoped = plan.tables.filter((t) => t.role === 'scoped');
  const tables = scoped.map((t) => t.label);
  let principals: WorldPrincipals | null = null;
  const catalog = await readProbeSurface(guarded, plan.tables, target.appRole);
  // Tables built alike share the later worlds (principal probes included: they follow probeTables).
  const definitionClasses = await findDefinitionClasses(guarded, new Map(scoped.map((t) => [t.relation.oid, { label: t.label, schema: t.relation.schema, name: t.relation.name }])));
  options.onProgress?.({ phase: 'introspected', tables, run: 0, runs: options.runs, probes: 0, findings: 0, elapsedMs: 0 });
  return checkProperty(
    {
      q,
      target,
      plan,
      bases,
      catalog,
      existingTenants,
      runProbes: async (run) => {
        await runRlsProbes(run);
        if (principalCatalog && principals) await runPrincipalProbes(run, { catalog: principalCatalog, principals });
      },
      write: async (tx, world, only) => {
        const stored = await writeWorld(tx, target, plan, world, bases, writeAs, only);
        if (!principalCatalog) return stored;
        const others = target.context?.resolved?.others;
        others?.clear();
        stored.tenantIds.forEach((id, i) => others?.set(id, stored.tenantIds[(i + 1) % stored.tenantIds.length]!));
        if (target.context?.role && placeholdersOf(target.context.role).length > 0) await createTenantRoles(tx, target, stored);
        const written = await writePrincipals(tx, principalCatalog, stored);
        principals = written.principals;
        return written.world;
      },
      // Every acting tenant must have met other tenants' rows in every table it probed.
      foreignRowsNeeded: (tenants, scopedTables) => scopedTables * tenants,
      definitionClasses,
    },
    options,
    tables,
  );
}

