/**
 * The property engine: introspect the target, generate worlds (fast-check + faker), write each
 * world inside a transaction that is rolled back, run every probe as every generated tenant, and
 * compare with the oracle. A run with any mismatch fails the property; fast-check then shrinks
 * the world, and each finding keeps the evidence of the smallest world that still showed it.
 */
import fc from 'fast-check';
import pg from 'pg';
import { introspectStructure, type Structure } from '../../catalog/index.ts';
import type { Relation } from '../../catalog/types.ts';
import type { Queryable } from '../../target/connection.ts';
import { quoteIdent, withClient, withTransaction } from '../../target/connection.ts';
import { CannotRunError, describeError } from '../../errors.ts';
import type { Finding } from '../../findings/types.ts';
import type { TargetConfig } from '../../target/types.ts';
import { worldArbitrary, type World, type WorldOptions } from '../../world/arbitraries.ts';
import { planWorld, type WorldPlan } from '../../world/plan.ts';
import { readCounterBases, writeWorld, type CounterBases, type StoredWorld } from '../../world/write.ts';
import { referencesFromRefusals, withLearnedReferences, type LearnedReference } from '../../world/learn.ts';
import { ProbeSession } from './session.ts';
import { runRlsProbes, type Observation, type ProbeCatalog, type ProbeRun } from './rls.ts';

export interface VerifyOptions {
  /** Property runs (worlds generated), before shrinking. */
  readonly runs: number;
  /** fast-check seed; a random one is drawn (and reported) when absent. */
  readonly seed?: number;
  /** fast-check path, to replay one counterexample directly. */
  readonly path?: string;
  readonly world?: WorldOptions;
  /** Property runs spent shrinking after the first failure (default 15). */
  readonly shrinkBudget?: number;
  /** How long a statement of a run may wait for a lock (default `lockTimeoutMs`). */
  readonly lockTimeoutMs?: number;
  readonly onProgress?: (progress: VerifyProgress) => void;
}

export interface VerifyProgress {
  readonly phase: 'introspected' | 'run' | 'done';
  readonly tables: readonly string[];
  readonly run: number;
  readonly runs: number;
  readonly probes: number;
  readonly findings: number;
  readonly elapsedMs: number;
}

export interface VerifyResult {
  readonly model: TargetConfig['model'];
  readonly findings: readonly Finding[];
  readonly seed: number;
  readonly path: string | null;
  readonly runs: number;
  /** Property runs executed, shrinking included. */
  readonly runsExecuted: number;
  /** Runs in which every probed table held other tenants' rows for each acting tenant. */
  readonly runsWithForeignRows: number;
  readonly probes: number;
  readonly tables: readonly string[];
  readonly elapsedMs: number;
  /** The shrunk counterexample (tenants and rows per table), when findings were made. */
  readonly counterexample: unknown;
  /** Tables the generator could not fill, so no probe ran on them (with the reason). */
  readonly skippedTables: readonly { readonly table: string; readonly reason: string }[];
  /** Why fast-check ended without executing the runs asked for (too many skipped worlds), if it did. */
  readonly gaveUp: string | null;
}

/** A connection that is open for one verification. */
export interface Connection extends Queryable {
  end(): Promise<void>;
}

export async function connectTarget(url: string): Promise<Connection> {
  const client = new pg.Client({ connectionString: url, application_name: 'tenantproof' });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (cause) {
    throw new CannotRunError(`cannot connect to the target database: ${describeError(cause)}`, {}, { cause });
  }
  return client;
}

/** Checks that the connecting role can enter the target's tenant context at all. */
export async function preflight(q: Queryable, target: TargetConfig, roles: readonly string[]): Promise<void> {
  const state = await withTransaction(
    q,
    (tx) => tx.query<{ ro: string; recovery: boolean }>(`select current_setting('transaction_read_only') as ro, pg_is_in_recovery() as recovery`),
    'rollback',
  ).catch((cause) => {
    throw new CannotRunError(`cannot start a transaction on the target: ${describeError(cause)}`, {}, { cause });
  });
  const row = state.rows[0];
  if (row?.recovery) throw new CannotRunError('the target is a read-only standby (in recovery): verify needs a primary, where it writes rows that it rolls back');
  if (row?.ro === 'on') throw new CannotRunError('the target rejects writes (transactions are read-only): verify needs to write rows that it rolls back');
  for (const role of roles) {
    await withTransaction(
      q,
      async (tx) => {
        try {
          await tx.query(`set local role ${quoteIdent(role)}`);
        } catch (cause) {
          const who = (await q.query<{ u: string }>('select session_user as u').catch(() => ({ rows: [{ u: '?' }] }))).rows[0]?.u;
          throw new CannotRunError(`role ${who} cannot SET ROLE ${role}: ${describeError(cause)}`, { role }, { cause });
        }
        if (target.model === 'rls') {
          try {
            await tx.query('select set_config($1, $2, true)', [target.tenantSetting, 'tenantproof']);
          } catch (cause) {
            throw new CannotRunError(`tenant setting ${target.tenantSetting} cannot be set: ${describeError(cause)}`, {}, { cause });
          }
        }
      },
      'rollback',
    ).catch((error) => {
      if (error instanceof CannotRunError) throw error;
      throw new CannotRunError(`cannot start a transaction on the target: ${describeError(error)}`, {}, { cause: error });
    });
  }
}

/** Views and zero-argument functions the role may use, and remediation hints per table. */
export async function readProbeCatalog(q: Queryable, target: TargetConfig, plan: WorldPlan, role: string): Promise<ProbeCatalog> {
  const system = `n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_'`;
  const notExtension = (oid: string) => `not exists (select 1 from pg_depend d where d.objid = ${oid} and d.deptype = 'e')`;
  const views = await q.query<{ label: string; sql: string }>(
    `select n.nspname || '.' || c.relname as label, quote_ident(n.nspname) || '.' || quote_ident(c.relname) as sql
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'v' and ${system} and has_table_privilege($1, c.oid, 'SELECT') and ${notExtension('c.oid')}
      order by 1`,
    [role],
  );
  const functions = await q.query<{ label: string; sql: string }>(
    `select n.nspname || '.' || p.proname || '()' as label, quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '()' as sql
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where p.pronargs = 0 and p.prokind = 'f' and ${system}
        and p.prorettype not in ('trigger'::regtype, 'void'::regtype, 'event_trigger'::regtype, 'internal'::regtype, 'language_handler'::regtype)
        and has_function_privilege($1, p.oid, 'EXECUTE') and ${notExtension('p.oid')}
      order by 1`,
    [role],
  );
  const roleInfo = (
    await q.query<{ bypass: boolean; superuser: boolean }>('select rolbypassrls as bypass, rolsuper as superuser from pg_roles where rolname = $1', [role])
  ).rows[0];
  const policies = await q.query<{ schemaname: string; tablename: string; text: string }>(
    `select schemaname, tablename,
            string_agg(format('%s (%s, %s, to %s)%s%s', policyname, cmd, lower(permissive), array_to_string(roles, ','),
                              coalesce(' USING ' || qual, ''), coalesce(' WITH CHECK ' || with_check, '')), '; ' order by policyname) as text
       from pg_policies group by 1, 2`,
  );
  const policyText = new Map(policies.rows.map((p) => [`${p.schemaname}.${p.tablename}`, p.text]));
  const hints = new Map<string, string>();
  for (const table of plan.tables) {
    const r = table.relation;
    const parts: string[] = [];
    if (roleInfo?.superuser) parts.push(`Role ${role} is a superuser and bypasses row level security.`);
    else if (roleInfo?.bypass) parts.push(`Role ${role} has BYPASSRLS.`);
    if (!r.rlsEnabled) parts.push(`Row level security is disabled on ${table.label}.`);
    else if (r.owner === role && !r.rlsForced) parts.push(`${role} owns ${table.label} and row level security is not forced (owners bypass their own policies).`);
    const p = policyText.get(table.label);
    if (r.rlsEnabled && p) parts.push(`Policies: ${p.length > 400 ? `${p.slice(0, 400)}…` : p}.`);
    if (r.rlsEnabled && !p) parts.push(`${table.label} has no policies.`);
    hints.set(table.label, parts.join(' '));
  }
  const canDisableTriggers = await withTransaction(
    q,
    async (tx) => tx.query('set local session_replication_role = replica').then(() => true, () => false),
    'rollback',
  ).catch(() => false);
  return { views: views.rows, functions: functions.rows, hints, canDisableTriggers };
}

/** Introspects the target for the rls model; refuses (one line) when nothing is tenant-scoped. */
export async function introspectTarget(q: Queryable, target: TargetConfig, schemas?: readonly string[]): Promise<Structure> {
  let structure: Structure;
  try {
    const only = schemas ?? target.schemas ?? undefined;
    structure = await introspectStructure(q, { tenantColumn: target.tenantColumn, tenantTable: target.tenantTable, ...(only ? { schemas: only } : {}) });
  } catch (cause) {
    if (cause instanceof CannotRunError) throw cause;
    throw new CannotRunError(`cannot read the target's catalog: ${describeError(cause)}`, {}, { cause });
  }
  if (structure.tenantScoped.length === 0) {
    throw new CannotRunError(
      `no tenant-scoped tables found: no table has a ${target.tenantColumn} column or a foreign key to ${target.tenantTable} (see --tenant-column, --tenant-table)`,
    );
  }
  return structure;
}

/** How long one statement of a run may wait for a lock before the run stops with a reason. */
export const lockTimeoutMs = 15_000;
/** How long a run's transaction may sit idle (its verify frozen or gone) before the server ends it. */
export const idleInTransactionTimeoutMs = 60_000;

function lockWaitError(cause: unknown, waitMs: number): CannotRunError {
  return new CannotRunError(
    `verification stopped: a statement waited more than ${waitMs / 1000} s for a lock another session holds (another verify, a migration, or the app locking the same rows); nothing was changed`,
    {},
    { cause },
  );
}

const isLockTimeout = (error: unknown) => (error as { code?: string } | null)?.code === '55P03';

/**
 * `q` for reads made outside a run's transaction (before the first world): each statement runs
 * in a transaction of its own with a lock timeout, so a table locked elsewhere stops the verify
 * with a reason instead of stalling it (and sets nothing on the session, so a pooler's server
 * connection keeps no setting of ours).
 */
export function lockGuarded(q: Queryable, waitMs = lockTimeoutMs): Queryable {
  let inTransaction = false;
  const guarded = async (sql: string, params?: unknown[]) => {
    const statement = sql.trim();
    // Transactions the caller opens get the lock timeout as their first statement; a complete
    // `begin; …; rollback` string runs as it is.
    if (/^begin\b/i.test(statement) && !statement.includes(';')) {
      const result = await q.query(sql, params);
      inTransaction = true;
      await q.query(`select set_config('lock_timeout', $1, true)`, [`${waitMs}ms`]);
      return result;
    }
    if (/^(commit|rollback|end|abort)\b/i.test(statement)) {
      inTransaction = false;
      return q.query(sql, params);
    }
    if (inTransaction || /^begin\b/i.test(statement)) return q.query(sql, params);
    await q.query('begin');
    try {
      await q.query(`select set_config('lock_timeout', $1, true)`, [`${waitMs}ms`]);
      return await q.query(sql, params);
    } finally {
      await q.query('rollback').catch(() => undefined);
    }
  };
  return {
    async query(sql: string, params?: unknown[]) {
      try {
        return await guarded(sql, params);
      } catch (error) {
        throw isLockTimeout(error) ? lockWaitError(error, waitMs) : error;
      }
    },
  } as Queryable;
}

/**
 * The first statement of every run's transaction. Never wait silently: a lock held elsewhere
 * fails the run with a reason instead of stalling it, and a verify that freezes mid-run has its
 * transaction ended by the server (both settings end with the transaction).
 */
export async function guardRunTransaction(tx: Queryable, options: VerifyOptions): Promise<void> {
  await tx.query(`select set_config('lock_timeout', $1, true), set_config('idle_in_transaction_session_timeout', $2, true)`, [
    `${options.lockTimeoutMs ?? lockTimeoutMs}ms`,
    `${idleInTransactionTimeoutMs}ms`,
  ]);
}

/** What every model's property loop ends with: the error that stopped it, or the result. */
export interface PropertyOutcome {
  readonly model: TargetConfig['model'];
  /** What fast-check reports of the run (only these fields are read). */
  readonly details: { readonly failed: boolean; readonly seed: number; readonly counterexamplePath: string | null; readonly numSkips?: number };
  readonly harnessError: unknown;
  readonly observations: Iterable<Observation>;
  readonly runsExecuted: number;
  readonly runsWithForeignRows: number;
  readonly probes: number;
  readonly tables: readonly string[];
  readonly started: number;
  readonly counterexample: unknown;
  readonly skippedTables: ReadonlyMap<string, string>;
}

/** The one-line error for what stopped a verification (a lock wait says so). */
export function stopReason(error: unknown, options: VerifyOptions): CannotRunError {
  if (error instanceof CannotRunError) return error;
  if (isLockTimeout(error)) return lockWaitError(error, options.lockTimeoutMs ?? lockTimeoutMs);
  return new CannotRunError(`verification stopped: ${describeError(error)}`, {}, { cause: error });
}

/** Turns the end of a property loop into a VerifyResult, or into the one-line error that stopped it. */
export function verifyResultOf(outcome: PropertyOutcome, options: VerifyOptions): VerifyResult {
  const { harnessError, details } = outcome;
  if (harnessError) throw stopReason(harnessError, options);
  const path = details.failed ? details.counterexamplePath : null;
  const findings: Finding[] = [...outcome.observations].map((o) => ({ ...o, model: outcome.model, seed: details.seed, ...(path ? { path } : {}) }));
  // A failed check without an observation is fast-check giving up (too many skipped worlds), never "no findings".
  const gaveUp =
    details.failed && findings.length === 0
      ? `fast-check gave up after skipping ${details.numSkips ?? 'too many'} generated worlds (their tenant ids clashed with existing tenants); ${outcome.runsExecuted} of ${options.runs} runs executed`
      : null;
  return {
    model: outcome.model,
    findings,
    seed: details.seed,
    path,
    runs: options.runs,
    runsExecuted: outcome.runsExecuted,
    runsWithForeignRows: outcome.runsWithForeignRows,
    probes: outcome.probes,
    tables: outcome.tables,
    elapsedMs: Date.now() - outcome.started,
    counterexample: outcome.counterexample,
    skippedTables: [...outcome.skippedTables].map(([table, reason]) => ({ table, reason })),
    gaveUp,
  };
}

/**
 * Writes one world (the first of a few drawn that `accept` takes) in a rolled-back transaction and
 * returns the references its refusals reveal (`world/learn.ts`).
 */
export async function refusalsOfOneWorld(
  q: Queryable,
  target: TargetConfig,
  plan: WorldPlan,
  bases: CounterBases,
  relations: readonly Relation[],
  arbitrary: fc.Arbitrary<World>,
  options: VerifyOptions,
  accept: (world: World) => boolean = () => true,
): Promise<LearnedReference[]> {
  const world = fc.sample(arbitrary, { numRuns: 20, seed: options.seed ?? 0 }).find(accept);
  if (!world) return [];
  return withTransaction(
    q,
    async (tx) => {
      await guardRunTransaction(tx, options);
      return referencesFromRefusals(relations, await writeWorld(tx, target, plan, world, bases));
    },
    'rollback',
  ).catch((error: unknown) => {
    throw stopReason(error, options);
  });
}

/** Everything one property needs per world. */
export interface PropertyContext {
  readonly q: Queryable;
  readonly target: TargetConfig;
  readonly plan: WorldPlan;
  readonly bases: CounterBases;
  readonly catalog: ProbeCatalog;
  readonly existingTenants: ReadonlySet<string>;
  readonly runProbes: (run: ProbeRun) => Promise<void>;
  readonly write: (tx: Queryable, world: World) => Promise<StoredWorld>;
  /** The world arbitrary (default: tenants generated for the plan's tenant id type). */
  readonly arbitrary?: fc.Arbitrary<World>;
}

/** Runs the world property with fast-check and turns failures into findings. */
export async function checkProperty(ctx: PropertyContext, options: VerifyOptions, tables: readonly string[]): Promise<VerifyResult> {
  const started = Date.now();
  const evidence = new Map<string, Observation>();
  let harnessError: unknown = null;
  let runsExecuted = 0;
  let runsWithForeignRows = 0;
  let lastFailing: World | null = null;
  const skippedTables = new Map<string, string>();
  const stats = { probes: 0, foreignRowsSeenByProbes: 0 };
  const progress = (phase: VerifyProgress['phase']) =>
    options.onProgress?.({ phase, tables, run: runsExecuted, runs: options.runs, probes: stats.probes, findings: evidence.size, elapsedMs: Date.now() - started });

  const shrinkBudget = options.shrinkBudget ?? 15;
  let failures = 0;
  let runsAfterFirstFailure = 0;
  const property = fc.asyncProperty(ctx.arbitrary ?? worldArbitrary(ctx.plan, options.world), async (world) => {
    if (harnessError) return true;
    // Shrinking budget: past it, remaining candidates are declared passing without running, so
    // fast-check stops at the smallest world that really failed (whose evidence we keep).
    if (failures > 0 && ++runsAfterFirstFailure > shrinkBudget) return true;
    fc.pre(world.tenants.every((t) => !ctx.existingTenants.has(t.toLowerCase())));
    runsExecuted += 1;
    const observed: Observation[] = [];
    try {
      await withTransaction(
        ctx.q,
        async (tx) => {
          await guardRunTransaction(tx, options);
          const stored = await ctx.write(tx, world);
          const probedBefore = stats.foreignRowsSeenByProbes;
          for (const [table, reason] of stored.skipped) skippedTables.set(table, reason);
          const scopedTables = ctx.plan.tables.filter((t) => t.role === 'scoped' && !stored.skipped.has(t.label)).length;
          if (scopedTables === 0) throw new CannotRunError(`no tenant-scoped table could be filled with generated rows: ${[...stored.skipped.values()][0] ?? 'unknown reason'}`);
          const session = new ProbeSession(tx);
          await ctx.runProbes({ tx: session, session, target: ctx.target, world: stored, bases: ctx.bases, catalog: ctx.catalog, observe: (o) => observed.push(o), stats });
          await session.flush();
          // A run only proves something if every acting tenant had foreign rows to leak.
          if (stats.foreignRowsSeenByProbes - probedBefore >= (ctx.target.model === 'rls' ? scopedTables * world.tenants.length : world.tenants.length * (world.tenants.length - 1))) runsWithForeignRows += 1;
        },
        'rollback',
      );
    } catch (error) {
      harnessError = error;
      return true;
    } finally {
      progress('run');
    }
    if (observed.length === 0) return true;
    failures += 1;
    lastFailing = world;
    for (const o of observed) evidence.set(`${o.checkId}|${o.object}`, o);
    return false;
  });

  const details = await fc.check(property, {
    numRuns: options.runs,
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.path !== undefined ? { path: options.path } : {}),
    maxSkipsPerRun: 20,
  });
  const failing = lastFailing as World | null;
  const result = verifyResultOf(
    {
      model: ctx.target.model,
      details,
      harnessError,
      observations: evidence.values(),
      runsExecuted,
      runsWithForeignRows,
      probes: stats.probes,
      tables,
      started,
      counterexample: failing ? summarizeWorld(ctx.plan, failing) : null,
      skippedTables,
    },
    options,
  );
  progress('done');
  return result;
}

function summarizeWorld(plan: WorldPlan, world: World) {
  return {
    tenants: world.tenants,
    rowsPerTable: Object.fromEntries(
      plan.tables.map((t, i) => [t.label, t.role === 'global' ? (world.rows[i]?.[0]?.length ?? 0) : world.tenants.map((_, k) => world.rows[i]?.[k]?.length ?? 0)]),
    ),
  };
}

/** Verifies an rls target: every tenant-scoped table, every probe, `options.runs` worlds. */
export async function verifyRls(q: Queryable, target: TargetConfig, options: VerifyOptions): Promise<VerifyResult> {
  await preflight(q, target, [target.appRole]);
  // Reads before the first world wait for no lock longer than the runs themselves do.
  const guarded = lockGuarded(q, options.lockTimeoutMs);
  const structure = await introspectTarget(guarded, target);
  const planFor = (learned: readonly LearnedReference[]) => {
    const relations = withLearnedReferences(structure.relations, learned);
    const byOid = new Map(relations.map((r) => [r.oid, r]));
    const scoped = structure.tenantScoped.map((t) => ({ ...t, relation: byOid.get(t.relation.oid) ?? t.relation }));
    return { relations, plan: planWorld(relations, scoped, structure.tenantTable ? (byOid.get(structure.tenantTable.oid) ?? structure.tenantTable) : null) };
  };
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
    const found = await refusalsOfOneWorld(q, target, plan, bases, relations, worldArbitrary(plan, options.world), options, fresh);
    if (found.length === 0) break;
    learned = [...learned, ...found];
    ({ plan, relations } = planFor(learned));
    bases = await readCounterBases(guarded, plan);
  }
  const tables = plan.tables.filter((t) => t.role === 'scoped').map((t) => t.label);
  const catalog = await readProbeCatalog(guarded, target, plan, target.appRole);
  options.onProgress?.({ phase: 'introspected', tables, run: 0, runs: options.runs, probes: 0, findings: 0, elapsedMs: 0 });
  return checkProperty(
    { q, target, plan, bases, catalog, existingTenants, runProbes: runRlsProbes, write: (tx, world) => writeWorld(tx, target, plan, world, bases) },
    options,
    tables,
  );
}

/**
 * A pipelined connection (pg ≥ 8.23: queries are written without waiting for the previous
 * answer; each keeps its own result or error): probes sent without awaiting each other cost one
 * network round trip per batch instead of one each.
 */
function withPipelinedClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  return withClient(url, fn, { application_name: 'tenantproof', pipeline: true } as Partial<pg.ClientConfig>);
}

/** Verifies a target in its isolation model, on its own (pipelined) connection. */
export async function verifyTarget(target: TargetConfig, options: VerifyOptions): Promise<VerifyResult> {
  return withPipelinedClient(target.databaseUrl, async (client) => {
    switch (target.model) {
      case 'rls':
        return verifyRls(client, target, options);
      case 'schema':
        return (await import('../../models/schema.ts')).verifySchemaModel(client, target, options);
      case 'database':
        return (await import('../../models/database.ts')).verifyDatabaseModel(client, target, options);
    }
  });
}
