/**
 * The property engine: introspect the target, generate worlds (fast-check + faker), write each
 * world inside a transaction that is rolled back, run every probe as every generated tenant, and
 * compare with the oracle. A run with any mismatch fails the property; fast-check then shrinks
 * the world, and each finding keeps the evidence of the smallest world that still showed it.
 * `runProperty` is that loop for every model; each model gives it a spec (its world, how one is
 * written and probed): `checkProperty` for rls and schema, run-database.ts for databases.
 */
import fc from 'fast-check';
import pg from 'pg';
import type { IsolationModel } from '../../models/types.ts';
import { setRoleSql } from '../../target/context.ts';
import type { Relation } from '../../catalog/types.ts';
import type { Queryable } from '../../target/connection.ts';
import { withClient, withTransaction } from '../../target/connection.ts';
import { CannotRunError, describeError } from '../../errors.ts';
import type { Finding } from '../../findings/types.ts';
import type { TargetConfig } from '../../target/types.ts';
import { worldArbitrary, type World, type WorldOptions } from '../../world/arbitraries.ts';
import type { WorldPlan } from '../../world/plan.ts';
import { probedTables, readCounterBases, writeWorld, type CounterBases, type StoredWorld } from '../../world/write.ts';
import { referencesFromRefusals, type LearnedReference } from '../../world/learn.ts';
import { ProbeSession } from './session.ts';
import { tablesForRun, type DefinitionClass } from '../../catalog/definition-classes.ts';
import type { Observation } from './define.ts';
import type { ProbeCatalog, ProbeRun } from './probe-run.ts';
import type { ProbeId, ProbeObservation } from './registry.ts';

export interface VerifyOptions {
  /** Property runs (worlds generated), before shrinking. */
  readonly runs: number;
  /** fast-check seed; a random one is drawn (and reported) when absent. */
  readonly seed?: number;
  /** fast-check path, to replay one counterexample directly. */
  readonly path?: string;
  readonly world?: WorldOptions;
  /**
   * Probe every table in every world, even where tables share one definition (default: the later
   * worlds probe `tablesPerClass` tables of each definition class, see catalog/definition-classes.ts).
   */
  readonly exhaustive?: boolean;
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
  /**
   * Tables the generator could not fill, so no probe ran on them (with the reason; "in k of n
   * runs" when other runs did probe them). A table that carries a finding is never listed.
   */
  readonly skippedTables: readonly { readonly table: string; readonly reason: string }[];
  /** Probes that ran but could not act (PostgreSQL refused the values or statement we built, not the tenant). */
  readonly probesNotActed: readonly NotActed[];
  /** Why fast-check ended without executing the runs asked for (too many skipped worlds), if it did. */
  readonly gaveUp: string | null;
  /**
   * Objects the probes acted on without seeing what a static rule claims of them (a SECURITY
   * DEFINER function called as every tenant with every other tenant's names, its result never
   * depending on another tenant's rows): verify() downgrades those rules' findings on them.
   */
  readonly refuted?: readonly Refutation[];
  /**
   * Why the tenant context proved nothing, if it did not: no acting principal ever saw one of its
   * own rows in any table, so the context the probes entered is not one that admits a tenant to its
   * data (a role or setting the application does not use), and "no foreign row seen" says nothing.
   */
  readonly contextAdmittedNothing?: string | null;
  /**
   * Tables that share a definition, and how the worlds divided them (null when every table was
   * probed in every world): every class was probed in every world, every table in at least
   * `leastRuns` of them.
   */
  readonly sampling?: Sampling | null;
}

export interface Sampling {
  readonly tables: number;
  readonly classes: number;
  /** Classes with more members than one world probes. */
  readonly sharedClasses: number;
  readonly tablesPerClass: number;
  /** Worlds that probed every table (the first ones, and every world while shrinking). */
  readonly fullRuns: number;
  /** The fewest worlds any table was probed in. */
  readonly leastRuns: number;
}

/** A static claim about an object that the probes contradicted, and how. */
export interface Refutation {
  readonly object: string;
  /** The static rules whose findings on `object` the probes contradict. */
  readonly checkIds: readonly string[];
  readonly reason: string;
}

/** A probe that could not act on an object, and why. */
export interface NotActed {
  readonly object: string;
  readonly checkId: ProbeId;
  readonly reason: string;
}

/**
 * What a verification could not probe, across its runs: tables a world could not fill, and probes
 * whose statement failed for reasons of its own making (a value or statement PostgreSQL rejects,
 * not a refusal of the tenant). Anything that carries a finding was probed, so it is left out.
 */
export class ProbeCoverage {
  private readonly skipped = new Map<string, { reason: string; runs: number }>();
  private readonly probed = new Map<string, number>();
  private readonly notActed = new Map<string, NotActed>();

  tableSkipped(table: string, reason: string): void {
    this.skipped.set(table, { reason, runs: (this.skipped.get(table)?.runs ?? 0) + 1 });
  }

  tableProbed(table: string): void {
    this.probed.set(table, (this.probed.get(table) ?? 0) + 1);
  }

  /** The fewest runs that probed any of `tables`. */
  leastProbed(tables: readonly string[]): number {
    return tables.reduce((least, t) => Math.min(least, this.probed.get(t) ?? 0), tables.length > 0 ? Infinity : 0);
  }

  probeCouldNotAct(object: string, checkId: ProbeId, reason: string): void {
    this.notActed.set(`${checkId}|${object}`, { object, checkId, reason });
  }

  skippedTables(findings: readonly { readonly object: string }[]): { table: string; reason: string }[] {
    const found = new Set(findings.map((f) => f.object));
    return [...this.skipped]
      .filter(([table]) => !found.has(table))
      .map(([table, { reason, runs }]) => {
        const probedRuns = this.probed.get(table) ?? 0;
        return { table, reason: probedRuns === 0 ? reason : `in ${runs} of ${runs + probedRuns} runs: ${reason}` };
      });
  }

  probesNotActed(findings: readonly { readonly object: string; readonly checkId: string }[]): NotActed[] {
    const found = new Set(findings.map((f) => `${f.checkId}|${f.object}`));
    return [...this.notActed.entries()].filter(([key, n]) => !found.has(key) && !(this.skipped.has(n.object) && !this.probed.has(n.object))).map(([, n]) => n);
  }
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

/** Checks that the connecting role can enter every tenant context the model will use. */
export async function preflight(q: Queryable, target: TargetConfig, model: IsolationModel, units: readonly string[]): Promise<void> {
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
  const who = (await q.query<{ u: string }>('select session_user as u').catch(() => ({ rows: [] as { u: string }[] }))).rows[0]?.u ?? 'the connecting role';
  for (const role of new Set(model.contextRoles(target, units))) {
    await withTransaction(
      q,
      async (tx) => {
        try {
          await tx.query(setRoleSql(role));
        } catch (cause) {
          throw new CannotRunError(`role ${who} cannot SET ROLE ${role}: ${describeError(cause)}`, { role }, { cause });
        }
        await model.checkContext?.(tx, target);
      },
      'rollback',
    ).catch((error) => {
      if (error instanceof CannotRunError) throw error;
      throw new CannotRunError(`cannot start a transaction on the target: ${describeError(error)}`, {}, { cause: error });
    });
  }
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

/** What the property loop ends with: the error that stopped it, or the result. */
interface PropertyOutcome {
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
  readonly coverage: ProbeCoverage;
  /** Scans that should have shown the acting principal's own rows, and those that did (rls probes). */
  readonly ownRows: { readonly expected: number; readonly seen: number };
  readonly sampling: Sampling | null;
}

/** The one-line error for what stopped a verification (a lock wait says so). */
export function stopReason(error: unknown, options: VerifyOptions): CannotRunError {
  if (error instanceof CannotRunError) return error;
  if (isLockTimeout(error)) return lockWaitError(error, options.lockTimeoutMs ?? lockTimeoutMs);
  return new CannotRunError(`verification stopped: ${describeError(error)}`, {}, { cause: error });
}

/** Turns the end of a property loop into a VerifyResult, or into the one-line error that stopped it. */
function verifyResultOf(outcome: PropertyOutcome, options: VerifyOptions): VerifyResult {
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
    skippedTables: outcome.coverage.skippedTables(findings),
    probesNotActed: outcome.coverage.probesNotActed(findings),
    gaveUp,
    sampling: outcome.sampling,
    contextAdmittedNothing:
      outcome.ownRows.expected > 0 && outcome.ownRows.seen === 0
        ? `in ${outcome.ownRows.expected} scans of tables holding the acting tenant's own rows, the tenant context showed none of them: it is not a context that admits a tenant to its data (wrong role or setting?), so seeing no other tenant's rows proves nothing`
        : null,
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
  writeAs?: (tenantId: string) => string,
): Promise<LearnedReference[]> {
  const world = fc.sample(arbitrary, { numRuns: 20, seed: options.seed ?? 0 }).find(accept);
  if (!world) return [];
  return withTransaction(
    q,
    async (tx) => {
      await guardRunTransaction(tx, options);
      return referencesFromRefusals(relations, await writeWorld(tx, target, plan, world, bases, writeAs));
    },
    'rollback',
  ).catch((error: unknown) => {
    throw stopReason(error, options);
  });
}

/** A world plan and the relations it was planned from (a model's planner may carry more). */
export interface Planned {
  readonly plan: WorldPlan;
  readonly relations: readonly Relation[];
}

/**
 * Plans worlds, learning the references the catalog does not show (a trigger copying rows into a
 * table with a foreign key): writes one world in a rolled-back transaction, learns from its
 * refusals, plans again — three rounds at most. Every model's property starts here.
 */
export async function planLearningReferences<P extends Planned>(
  q: Queryable,
  target: TargetConfig,
  options: VerifyOptions,
  model: {
    /** Reads outside a run's transaction (lock-guarded). */
    readonly guarded: Queryable;
    readonly planFor: (learned: readonly LearnedReference[]) => P;
    readonly arbitraryFor: (planned: P) => fc.Arbitrary<World>;
    readonly accept?: (world: World) => boolean;
    readonly writeAs?: (tenantId: string) => string;
  },
): Promise<{ planned: P; bases: CounterBases }> {
  let planned = model.planFor([]);
  let bases = await readCounterBases(model.guarded, planned.plan);
  for (let round = 0, learned: LearnedReference[] = []; round < 3; round++) {
    const found = await refusalsOfOneWorld(q, target, planned.plan, bases, planned.relations, model.arbitraryFor(planned), options, model.accept, model.writeAs);
    if (found.length === 0) break;
    learned = [...learned, ...found];
    planned = model.planFor(learned);
    bases = await readCounterBases(model.guarded, planned.plan);
  }
  return { planned, bases };
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
  /** Writes the world: every table, or (`only`) the tables those need (world/write.ts, tablesNeededFor). */
  readonly write: (tx: Queryable, world: World, only?: ReadonlySet<string>) => Promise<StoredWorld>;
  /** The world arbitrary (default: tenants generated for the plan's tenant id type). */
  readonly arbitrary?: fc.Arbitrary<World>;
  /** How many foreign rows the probes must have seen for a run to prove something (every acting tenant, every table it could leak). */
  readonly foreignRowsNeeded: (tenants: number, scopedTables: number) => number;
  /** Tables grouped by definition (rls): worlds after the first probe some members of each class. */
  readonly definitionClasses?: readonly DefinitionClass[];
}

/**
 * How many tables of one definition class a world probes after the first. Every class is probed in
 * every world, with the same probes as any table (the malformed-context probes in the first
 * `contextProbeWorlds` worlds, as without classes); the members take turns, so with 20 runs each
 * table of a class of 20 is probed in the first world and in about two more.
 */
export const tablesPerClass = 2;

/**
 * How many of the first worlds run the malformed-context probes (every world does while shrinking).
 * A context probe sets the tenant setting to a fixed malformed value ('', '%', another tenant's id
 * in other case, …) and reads and writes every table: what it shows depends on the policies and
 * the value, and on the world only through the victim's id, so three worlds (three victims) prove
 * what twenty would. They were half of every world's probes: on 80 tables, 20 worlds, a verify
 * went from 100,570 probes to 60,280.
 */
export const contextProbeWorlds = 3;

/** The counts every probe adds to (`ProbeRun.stats`), for one whole property. */
export interface PropertyStats {
  probes: number;
  foreignRowsSeenByProbes: number;
  ownRowsExpected: number;
  ownRowsSeen: number;
}

/** Where probes report: what they observed, what they could not act on, what they counted. */
export interface ProbeReport {
  readonly observe: (o: ProbeObservation) => void;
  readonly couldNotAct: (object: string, checkId: ProbeId, reason: string) => void;
  readonly stats: PropertyStats;
}

/** One world as `runProperty` hands it to its model: observations made here fail the world. */
export interface WorldRun extends ProbeReport {
  /** Which world this is among those executed, from 1 (shrinking included). */
  readonly run: number;
  /** A world has failed, so fast-check is shrinking: the model probes everything in this world. */
  readonly shrinking: boolean;
}

/** What one world wrote and probed, as its model reports it. */
export interface WorldOutcome {
  /** Tables the world could not fill, and why (in the order met). */
  readonly skipped: Iterable<readonly [table: string, reason: string]>;
  /** Tables the world probed. */
  readonly probed: Iterable<string>;
  /** How many foreign rows the probes must have seen for the world to prove something (every acting tenant met rows to leak). */
  readonly foreignRowsNeeded: number;
}

/** A model's property: its worlds, and how one world is written and probed. */
export interface PropertySpec<W> {
  readonly model: TargetConfig['model'];
  readonly arbitrary: fc.Arbitrary<W>;
  /** Worlds that may run (default: all); fast-check draws another for the others (`fc.pre`, at most 20 skips a run). */
  readonly accept?: (world: W) => boolean;
  /** Probes that no world changes, run once before the first world; what they observe is kept as it is. */
  readonly beforeWorlds?: (report: ProbeReport) => Promise<void>;
  /**
   * Writes `world` in transaction(s) it rolls back, runs the probes on it and reports what it
   * probed. Anything it throws stops the verification (`stopReason`).
   */
  readonly runWorld: (world: W, run: WorldRun) => Promise<WorldOutcome>;
  /** The smallest failing world as the result shows it (`counterexample`). */
  readonly summarize: (world: W) => unknown;
  /** Observations with one key are one finding, the last observed kept (default `checkId|object`). */
  readonly findingKey?: (o: Observation) => string;
  /** How the worlds divided tables that share a definition, read after the last world (rls). */
  readonly sampling?: (coverage: ProbeCoverage) => Sampling;
}

/**
 * The property loop of every model: fast-check draws `options.runs` worlds (`spec.arbitrary`), a
 * world with any observation fails the property, and fast-check shrinks it within
 * `options.shrinkBudget` runs; each finding keeps the evidence of the smallest world that showed it.
 */
export async function runProperty<W>(spec: PropertySpec<W>, options: VerifyOptions, tables: readonly string[]): Promise<VerifyResult> {
  const started = Date.now();
  const evidence = new Map<string, Observation>();
  const keyOf = spec.findingKey ?? ((o: Observation) => `${o.checkId}|${o.object}`);
  let harnessError: unknown = null;
  let runsExecuted = 0;
  let runsWithForeignRows = 0;
  let lastFailing: { world: W } | null = null;
  const coverage = new ProbeCoverage();
  const stats: PropertyStats = { probes: 0, foreignRowsSeenByProbes: 0, ownRowsExpected: 0, ownRowsSeen: 0 };
  const couldNotAct = (object: string, checkId: ProbeId, reason: string) => coverage.probeCouldNotAct(object, checkId, reason);
  const progress = (phase: VerifyProgress['phase']) =>
    options.onProgress?.({ phase, tables, run: runsExecuted, runs: options.runs, probes: stats.probes, findings: evidence.size, elapsedMs: Date.now() - started });

  await spec.beforeWorlds?.({ observe: (o) => evidence.set(keyOf(o), o), couldNotAct, stats });
  const shrinkBudget = options.shrinkBudget ?? 15;
  let failures = 0;
  let runsAfterFirstFailure = 0;
  const property = fc.asyncProperty(spec.arbitrary, async (world) => {
    if (harnessError) return true;
    // Shrinking budget: past it, remaining candidates are declared passing without running, so
    // fast-check stops at the smallest world that really failed (whose evidence we keep).
    if (failures > 0 && ++runsAfterFirstFailure > shrinkBudget) return true;
    if (spec.accept) fc.pre(spec.accept(world));
    runsExecuted += 1;
    const observed: Observation[] = [];
    const foreignRowsBefore = stats.foreignRowsSeenByProbes;
    let outcome: WorldOutcome;
    try {
      outcome = await spec.runWorld(world, { run: runsExecuted, shrinking: failures > 0, observe: (o) => observed.push(o), couldNotAct, stats });
    } catch (error) {
      harnessError = error;
      progress('run');
      return true;
    }
    for (const [table, reason] of outcome.skipped) coverage.tableSkipped(table, reason);
    for (const table of outcome.probed) coverage.tableProbed(table);
    // A run only proves something if every acting tenant had foreign rows to leak.
    if (stats.foreignRowsSeenByProbes - foreignRowsBefore >= outcome.foreignRowsNeeded) runsWithForeignRows += 1;
    if (observed.length > 0) {
      failures += 1;
      lastFailing = { world };
      for (const o of observed) evidence.set(keyOf(o), o);
    }
    progress('run');
    return observed.length === 0;
  });

  const details = await fc.check(property, {
    numRuns: options.runs,
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.path !== undefined ? { path: options.path } : {}),
    maxSkipsPerRun: 20,
  });
  const failing = lastFailing as { world: W } | null;
  const result = verifyResultOf(
    {
      model: spec.model,
      details,
      harnessError,
      observations: evidence.values(),
      runsExecuted,
      runsWithForeignRows,
      probes: stats.probes,
      tables,
      started,
      counterexample: failing ? spec.summarize(failing.world) : null,
      coverage,
      ownRows: { expected: stats.ownRowsExpected, seen: stats.ownRowsSeen },
      sampling: spec.sampling?.(coverage) ?? null,
    },
    options,
  );
  progress('done');
  return result;
}

/** Runs the world property of the rls and schema models: one world, one rolled-back transaction. */
export async function checkProperty(ctx: PropertyContext, options: VerifyOptions, tables: readonly string[]): Promise<VerifyResult> {
  // Sampling only pays where some class has more members than a world probes.
  const sampled = !options.exhaustive && ctx.definitionClasses?.some((c) => c.members.length > tablesPerClass) ? ctx.definitionClasses : null;
  let fullRuns = 0;
  return runProperty<World>(
    {
      model: ctx.target.model,
      arbitrary: ctx.arbitrary ?? worldArbitrary(ctx.plan, options.world),
      accept: (world) => world.tenants.every((t) => !ctx.existingTenants.has(t.toLowerCase())),
      runWorld: (world, run) =>
        withTransaction(
          ctx.q,
          async (tx) => {
            await guardRunTransaction(tx, options);
            // The first world and every world while shrinking probe every table; the others one class member or two.
            const full = run.run === 1 || run.shrinking;
            if (full) fullRuns += 1;
            const chosen = sampled ? tablesForRun(sampled, run.run, tablesPerClass, full) : null;
            const stored = await ctx.write(tx, world, chosen ?? undefined);
            const probed = probedTables(stored, chosen ?? undefined);
            if (probed.length === 0) throw new CannotRunError(`no tenant-scoped table could be filled with generated rows: ${[...stored.skipped.values()][0] ?? 'unknown reason'}`);
            const session = new ProbeSession(tx);
            await ctx.runProbes({
              tx: session,
              session,
              target: ctx.target,
              world: stored,
              bases: ctx.bases,
              catalog: ctx.catalog,
              observe: run.observe,
              couldNotAct: run.couldNotAct,
              stats: run.stats,
              contextProbes: run.run <= contextProbeWorlds || run.shrinking,
              ...(chosen ? { probeTables: chosen } : {}),
            });
            await session.flush();
            return { skipped: stored.skipped, probed: probed.map((t) => t.label), foreignRowsNeeded: ctx.foreignRowsNeeded(world.tenants.length, probed.length) };
          },
          'rollback',
        ),
      summarize: (world) => summarizeWorld(ctx.plan, world),
      ...(sampled
        ? {
            sampling: (coverage: ProbeCoverage) => ({
              tables: tables.length,
              classes: sampled.length,
              sharedClasses: sampled.filter((c) => c.members.length > tablesPerClass).length,
              tablesPerClass,
              fullRuns,
              leastRuns: coverage.leastProbed(sampled.flatMap((c) => c.members)),
            }),
          }
        : {}),
    },
    options,
    tables,
  );
}

function summarizeWorld(plan: WorldPlan, world: World) {
  return {
    tenants: world.tenants,
    rowsPerTable: Object.fromEntries(
      plan.tables.map((t, i) => [t.label, t.role === 'global' ? (world.rows[i]?.[0]?.length ?? 0) : world.tenants.map((_, k) => world.rows[i]?.[k]?.length ?? 0)]),
    ),
  };
}

/**
 * A pipelined connection (pg ≥ 8.23: queries are written without waiting for the previous
 * answer; each keeps its own result or error): probes sent without awaiting each other cost one
 * network round trip per batch instead of one each.
 */
export function withPipelinedClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  return withClient(url, fn, { application_name: 'tenantproof', pipeline: true } as Partial<pg.ClientConfig>);
}
