/**
 * The rls model's property: introspect, plan worlds (learning references the catalog does not
 * show), then in every world run every rls probe as every generated tenant.
 */
import { readProbeSurface } from '../../catalog/probe-surface.ts';
import { introspectRlsTarget, planRlsWorlds, rlsModel } from '../../models/rls.ts';
import { CannotRunError } from '../../errors.ts';
import { quoteIdent, type Queryable } from '../../target/connection.ts';
import type { TargetConfig } from '../../target/types.ts';
import { worldArbitrary, type World } from '../../world/arbitraries.ts';
import type { LearnedReference } from '../../world/learn.ts';
import { readCounterBases, writeWorld } from '../../world/write.ts';
import { checkProperty, lockGuarded, preflight, refusalsOfOneWorld, type VerifyOptions, type VerifyResult } from './engine.ts';
import { runRlsProbes } from './rls.ts';

/** Verifies an rls target: every tenant-scoped table, every probe, `options.runs` worlds. */
export async function verifyRls(q: Queryable, target: TargetConfig, options: VerifyOptions): Promise<VerifyResult> {
  await preflight(q, target, rlsModel, []);
  // Reads before the first world wait for no lock longer than the runs themselves do.
  const guarded = lockGuarded(q, options.lockTimeoutMs);
  const structure = await introspectRlsTarget(guarded, target);
  const planFor = (learned: readonly LearnedReference[]) => planRlsWorlds(structure, learned);
  // Rows the connecting role is refused are written the application's way: as the tenant.
  const writeAs = (tenant: string) => rlsModel.enterTenantSql(target, { kind: 'tenant', tenant });
  let { plan, relations } = planFor([]);
  const existingTenants = new Set<string>();
  const tenantsPlan = plan.tables.find((t) => t.role === 'tenants');
  if (tenantsPlan?.tenantColumn) {
    const { rows } = await guarded
      .query<{ id: string }>(`select ${quoteIdent(tenantsPlan.tenantColumn)}::text as id from ${tenantsPlan.sql}`)
      .catch((error) => {
        if (error instanceof CannotRunError) throw error;
        return { rows: [] as { id: string }[] };
      });
    for (const r of rows) existingTenants.add(r.id.toLowerCase());
  }
  // References enforced out of the catalog's sight (a trigger copying rows into a table with a
  // foreign key): write one world, learn from its refusals, plan again (a few rounds at most).
  const fresh = (world: World) => world.tenants.every((t) => !existingTenants.has(t.toLowerCase()));
  let bases = await readCounterBases(guarded, plan);
  for (let round = 0, learned: LearnedReference[] = []; round < 3; round++) {
    const found = await refusalsOfOneWorld(q, target, plan, bases, relations, worldArbitrary(plan, options.world), options, fresh, writeAs);
    if (found.length === 0) break;
    learned = [...learned, ...found];
    ({ plan, relations } = planFor(learned));
    bases = await readCounterBases(guarded, plan);
  }
  const tables = plan.tables.filter((t) => t.role === 'scoped').map((t) => t.label);
  const catalog = await readProbeSurface(guarded, plan.tables, target.appRole);
  options.onProgress?.({ phase: 'introspected', tables, run: 0, runs: options.runs, probes: 0, findings: 0, elapsedMs: 0 });
  return checkProperty(
    {
      q,
      target,
      plan,
      bases,
      catalog,
      existingTenants,
      runProbes: runRlsProbes,
      write: (tx, world) => writeWorld(tx, target, plan, world, bases, writeAs),
      // Every acting tenant must have met other tenants' rows in every table it probed.
      foreignRowsNeeded: (tenants, scopedTables) => scopedTables * tenants,
    },
    options,
    tables,
  );
}

