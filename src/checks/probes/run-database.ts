/**
 * Probes of the database model: tenants are databases matching --database-pattern, each with its own role
 * (--tenant-role, `{tenant}` = database name). For every pair of chosen tenants:
 * - reach (reach-database.ts, once per verify): a scratch login holding the acting tenant's role
 *   must not log in to the victim's database; shared databases it logs in to must show it no
 *   other tenant's rows and let it write nothing; it must not SET ROLE into another tenant's role,
 *   nor read another tenant's database through a foreign table;
 * - cross-database reach (reach-database.ts): dblink / postgres_fdw must not be usable by the acting role;
 * - read/write: inside the victim's database (rows generated there, rolled back), the acting role
 *   must see and change nothing.
 * Each tenant database gets its own connection and rolled-back transaction per world.
 */
import fc from 'fast-check';
import pg from 'pg';
import { databaseModel, planTenantDatabase } from '../../models/database.ts';
import { urlFor, withClient, withTransaction, type Queryable } from '../../target/connection.ts';
import { tenantRoleFor } from '../../target/context.ts';
import type { TargetConfig } from '../../target/types.ts';
import { maxTenants, rowArbitrary, tenantIdsArbitrary, type RowSpec } from '../../world/arbitraries.ts';
import type { WorldPlan } from '../../world/plan.ts';
import { readCounterBases, writeWorld, type CounterBases } from '../../world/write.ts';
import { guardRunTransaction, lockGuarded, preflight, ProbeCoverage, verifyResultOf, type VerifyOptions, type VerifyResult } from './engine.ts';
import { introspectReach } from '../../catalog/reach.ts';
import { probeForeignTable } from './foreign-access.ts';
import { probeCrossDatabaseReach, probeDatabaseReach } from './reach-database.ts';
import type { Observation } from './define.ts';
import type { ProbeRun } from './probe-run.ts';
import type { ProbeObservation } from './registry.ts';
import { ProbeSession } from './session.ts';

interface TenantDatabase {
  readonly name: string;
  readonly url: string;
  readonly plan: WorldPlan;
  readonly bases: CounterBases;
}


/** Verifies a database-model target. */
export async function verifyDatabaseModel(q: Queryable, target: TargetConfig, options: VerifyOptions): Promise<VerifyResult> {
  const started = Date.now();
  const names = await databaseModel.discoverTenantUnits(q, target);
  await preflight(q, target, databaseModel, names);
  const dbs: TenantDatabase[] = [];
  for (const name of names) {
    const url = urlFor(target.databaseUrl, name);
    const plan = await planTenantDatabase(url, target, (c) => lockGuarded(c, options.lockTimeoutMs));
    const bases = await withClient(url, (c) => readCounterBases(lockGuarded(c, options.lockTimeoutMs), plan));
    dbs.push({ name, url, plan, bases });
  }
  const tables = dbs.flatMap((d) => d.plan.tables.map((t) => `${d.name}:${t.label}`));
  options.onProgress?.({ phase: 'introspected', tables, run: 0, runs: options.runs, probes: 0, findings: 0, elapsedMs: 0 });

  const clients = new Map<string, pg.Client>();
  const findings = new Map<string, Observation>();
  const stats = { probes: 0, foreignRowsSeenByProbes: 0 };
  let runsExecuted = 0;
  let runsWithForeignRows = 0;
  let harnessError: unknown = null;
  const coverage = new ProbeCoverage();
  let leaksThisRun = 0;
  const observe = (o: ProbeObservation) => {
    if (o.leak) leaksThisRun += 1;
    findings.set(`${o.checkId}|${o.object}|${o.actingTenant}`, o);
  };
  try {
    for (const d of dbs) {
      const c = new pg.Client({ connectionString: d.url, application_name: 'tenantproof' });
      c.on('error', () => undefined);
      await c.connect();
      clients.set(d.name, c);
    }
    // Logins, role memberships and foreign tables reach across databases the same in every world
    // (another database never sees a world's uncommitted rows): probed once, for real.
    const reach = await introspectReach(q, dbs.map((d) => tenantRoleFor(target, d.name)));
    await probeDatabaseReach({
      q,
      target,
      dbs,
      reach,
      observe,
      couldNotAct: (object, checkId, reason) => coverage.probeCouldNotAct(object, checkId, reason),
      stats,
      clientOf: (name) => clients.get(name),
    });
    await probeCrossDatabaseReach({ target, dbs, observe, stats }, (name) => clients.get(name)!);

    const rows = dbs.map((d) =>
      fc.record({
        tenantIds: tenantIdsArbitrary(d.plan, { minTenants: 1, maxTenants: 1 }),
        tables: fc.tuple(
          ...d.plan.tables.map((t) =>
            fc.array(rowArbitrary(t), t.role === 'global' ? { minLength: 2, maxLength: 4 } : t.role === 'tenants' ? { minLength: 1, maxLength: 1 } : { minLength: 1, maxLength: 3 }),
          ),
        ),
      }),
    );
    const arbitrary = fc.record({
      tenants: fc.uniqueArray(fc.nat(dbs.length - 1), { minLength: 2, maxLength: Math.min(maxTenants, dbs.length) }),
      rows: fc.tuple(...rows),
    });
    let failures = 0;
    let afterFailure = 0;
    const property = fc.asyncProperty(arbitrary, async ({ tenants, rows: worldRows }) => {
      if (harnessError) return true;
      if (failures > 0 && ++afterFailure > (options.shrinkBudget ?? 15)) return true;
      runsExecuted += 1;
      leaksThisRun = 0;
      const beforeSeen = stats.foreignRowsSeenByProbes;
      try {
        for (const v of tenants) {
          const victim = dbs[v]!;
          const client = clients.get(victim.name)!;
          await withTransaction(
            client,
            async (tx) => {
              await guardRunTransaction(tx, options);
              const drawn = worldRows[v] as unknown as { tenantIds: string[]; tables: RowSpec[][] };
              const world = { tenants: [victim.name], tenantIds: drawn.tenantIds, rows: victim.plan.tables.map((_, i) => [drawn.tables[i] ?? []]) };
              const stored = await writeWorld(tx, target, victim.plan, world, victim.bases);
              const session = new ProbeSession(tx);
              const run: ProbeRun = {
                tx: session,
                session,
                target,
                world: stored,
                bases: victim.bases,
                catalog: { views: [], functions: [], hints: new Map(), canDisableTriggers: true, causes: new Map() },
                observe,
                couldNotAct: (object, checkId, reason) => coverage.probeCouldNotAct(object, checkId, reason),
                stats,
              };
              const probed = victim.plan.tables.filter((t) => t.role === 'scoped' && !stored.skipped.has(t.label));
              for (const [label, reason] of stored.skipped) coverage.tableSkipped(`${victim.name}:${label}`, reason);
              for (const table of probed) coverage.tableProbed(`${victim.name}:${table.label}`);
              for (const a of tenants) {
                if (a === v) continue;
                const acting = dbs[a]!.name;
                for (const table of probed) {
                  await probeForeignTable(
                    run,
                    {
                      context: { kind: 'tenant', tenant: acting },
                      acting,
                      victim: victim.name,
                      victimIndex: 0,
                      model: 'database',
                      object: (t) => `${victim.name}:${t.label}`,
                      remediation: (t) => ({ actingRole: tenantRoleFor(target, acting), victimRole: tenantRoleFor(target, victim.name), table: t.label }),
                    },
                    table,
                  );
                }
              }
              await session.flush();
            },
            'rollback',
          );
        }
      } catch (error) {
        harnessError = error;
        return true;
      } finally {
        options.onProgress?.({ phase: 'run', tables, run: runsExecuted, runs: options.runs, probes: stats.probes, findings: findings.size, elapsedMs: Date.now() - started });
      }
      if (stats.foreignRowsSeenByProbes - beforeSeen >= tenants.length * (tenants.length - 1)) runsWithForeignRows += 1;
      if (leaksThisRun === 0) return true;
      failures += 1;
      return false;
    });
    const details = await fc.check(property, { numRuns: options.runs, ...(options.seed !== undefined ? { seed: options.seed } : {}), ...(options.path ? { path: options.path } : {}) });
    return verifyResultOf(
      {
        model: 'database',
        details,
        harnessError,
        observations: findings.values(),
        runsExecuted,
        runsWithForeignRows,
        probes: stats.probes,
        tables,
        started,
        counterexample: null,
        coverage,
      },
      options,
    );
  } finally {
    for (const c of clients.values()) await c.end().catch(() => undefined);
  }
}
