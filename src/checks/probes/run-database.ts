/**
 * Probes of the database model: tenants are databases matching --database-pattern, each with its own role
 * (--tenant-role, `{tenant}` = database name). For every pair of chosen tenants:
 * - reach (reach-database.ts, once per verify): a scratch login holding the acting tenant's role
 *   must not log in to the victim's database; shared databases it logs in to must show it no
 *   other tenant's rows and let it write nothing; it must not SET ROLE into another tenant's role,
 *   nor read another tenant's database through a foreign table;
 * - cross-database reach: dblink / postgres_fdw must not be usable by the acting role;
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
import { probedTables, readCounterBases, writeWorld, type CounterBases } from '../../world/write.ts';
import { guardRunTransaction, lockGuarded, preflight, runProperty, type ProbeReport, type VerifyOptions, type VerifyResult } from './engine.ts';
import { introspectReach } from '../../catalog/reach.ts';
import { probeForeignTable } from './foreign-access.ts';
import { probeDatabaseReach } from './reach-database.ts';
import type { ProbeRun } from './probe-run.ts';
import { ProbeSession } from './session.ts';

interface TenantDatabase {
  readonly name: string;
  readonly url: string;
  readonly plan: WorldPlan;
  readonly bases: CounterBases;
}

/** A world of the database model: the chosen tenants (indices into the tenant databases) and, for every database, its tenant id and rows per table. */
interface DatabaseWorld {
  readonly tenants: readonly number[];
  readonly rows: readonly { readonly tenantIds: readonly string[]; readonly tables: readonly (readonly RowSpec[])[] }[];
}

/** Verifies a database-model target. */
export async function verifyDatabaseModel(q: Queryable, target: TargetConfig, options: VerifyOptions): Promise<VerifyResult> {
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
  // Logins, role memberships, foreign tables and dblink reach across databases the same in every world
  // (another database never sees a world's uncommitted rows): probed once, for real.
  const probeOnce = async ({ observe, couldNotAct, stats }: ProbeReport) => {
    const reach = await introspectReach(q, dbs.map((d) => tenantRoleFor(target, d.name)));
    await probeDatabaseReach({
      q,
      target,
      dbs,
      reach,
      observe,
      couldNotAct,
      stats,
      clientOf: (name) => clients.get(name),
    });
  };
  try {
    for (const d of dbs) {
      const c = new pg.Client({ connectionString: d.url, application_name: 'tenantproof' });
      c.on('error', () => undefined);
      await c.connect();
      clients.set(d.name, c);
    }
    // A world: the chosen tenants (indices into dbs, at least two) and rows for every database.
    const arbitrary: fc.Arbitrary<DatabaseWorld> = fc.record({
      tenants: fc.uniqueArray(fc.nat(dbs.length - 1), { minLength: 2, maxLength: Math.min(maxTenants, dbs.length) }),
      rows: fc.tuple(
        ...dbs.map((d) =>
          fc.record({
            tenantIds: tenantIdsArbitrary(d.plan, { minTenants: 1, maxTenants: 1 }),
            tables: fc.tuple(
              ...d.plan.tables.map((t) =>
                fc.array(rowArbitrary(t), t.role === 'global' ? { minLength: 2, maxLength: 4 } : t.role === 'tenants' ? { minLength: 1, maxLength: 1 } : { minLength: 1, maxLength: 3 }),
              ),
            ),
          }),
        ),
      ),
    });
    return await runProperty<DatabaseWorld>(
      {
        model: 'database',
        arbitrary,
        beforeWorlds: probeOnce,
        // Each victim database in its own transaction, rolled back: every other chosen tenant acts in it.
        runWorld: async ({ tenants, rows }, run) => {
          const skipped: [string, string][] = [];
          const probedLabels: string[] = [];
          for (const v of tenants) {
            const victim = dbs[v]!;
            await withTransaction(
              clients.get(victim.name)!,
              async (tx) => {
                await guardRunTransaction(tx, options);
                const drawn = rows[v]!;
                const world = { tenants: [victim.name], tenantIds: drawn.tenantIds, rows: victim.plan.tables.map((_, i) => [drawn.tables[i] ?? []]) };
                const stored = await writeWorld(tx, target, victim.plan, world, victim.bases);
                const session = new ProbeSession(tx);
                const probeRun: ProbeRun = {
                  tx: session,
                  session,
                  target,
                  world: stored,
                  bases: victim.bases,
                  catalog: { views: [], functions: [], hints: new Map(), canDisableTriggers: true, causes: new Map() },
                  observe: run.observe,
                  couldNotAct: run.couldNotAct,
                  stats: run.stats,
                };
                const probed = probedTables(stored);
                for (const [label, reason] of stored.skipped) skipped.push([`${victim.name}:${label}`, reason]);
                for (const table of probed) probedLabels.push(`${victim.name}:${table.label}`);
                for (const a of tenants) {
                  if (a === v) continue;
                  const acting = dbs[a]!.name;
                  for (const table of probed) {
                    await probeForeignTable(
                      probeRun,
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
          // Every acting tenant must have met every other chosen tenant's rows.
          return { skipped, probed: probedLabels, foreignRowsNeeded: tenants.length * (tenants.length - 1) };
        },
        summarize: ({ tenants, rows }) => ({
          tenants: tenants.map((v) => dbs[v]!.name),
          rowsPerTable: Object.fromEntries(tenants.flatMap((v) => dbs[v]!.plan.tables.map((t, i) => [`${dbs[v]!.name}:${t.label}`, rows[v]?.tables[i]?.length ?? 0]))),
        }),
        // One finding per acting tenant: each tenant's reach into a database is its own.
        findingKey: (o) => `${o.checkId}|${o.object}|${o.actingTenant}`,
      },
      options,
      tables,
    );
  } finally {
    for (const c of clients.values()) await c.end().catch(() => undefined);
  }
}
