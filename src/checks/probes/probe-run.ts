/**
 * What every probe of a world acts with: the run (the world's transaction, the target, the world
 * and where observations go), sending a statement as one tenant under a rolled-back savepoint,
 * and `record`, which observes a hit of a table probe through the family that declares it (the
 * root cause and hint from the catalog). The rls probes (rls.ts, rls-context.ts), the principal
 * probes and the schema and database models' probes share it.
 */
import type { ProbeSurface } from '../../catalog/probe-surface.ts';
import { enterTenantSql } from '../../models/index.ts';
import type { TenantContext } from '../../target/context.ts';
import type { TargetConfig } from '../../target/types.ts';
import type { Queryable } from '../../target/connection.ts';
import { quoteIdent } from '../../target/connection.ts';
import type { TablePlan } from '../../world/plan.ts';
import { paramOf, rowKeySql, toParam, type CounterBases, type StoredRow, type StoredWorld } from '../../world/write.ts';
import type { ProbeFamily } from './define.ts';
import type { ProbeId, ProbeObservation } from './registry.ts';
import { probeCouldNotAct, type Outcome, type ProbeSession } from './session.ts';

/** What the probes may use besides the tables (catalog/probe-surface.ts). */
export type ProbeCatalog = ProbeSurface;

export interface ProbeRun {
  /** The world's transaction; `session` runs probes on it (use either: they flush each other). */
  readonly tx: Queryable;
  readonly session: ProbeSession;
  readonly target: TargetConfig;
  readonly world: StoredWorld;
  readonly bases: CounterBases;
  readonly catalog: ProbeCatalog;
  /** Takes observations made through a family's `finding` only (define.ts), of a check registry.ts lists. */
  readonly observe: (o: ProbeObservation) => void;
  /** Reports a probe that could not act on `object` (its statement or values were rejected): not proven. */
  readonly couldNotAct: (object: string, checkId: ProbeId, reason: string) => void;
  /** Counts probes run and, per run, that foreign rows were present for the acting tenant. */
  readonly stats: {
    probes: number;
    foreignRowsSeenByProbes: number;
    /** Scans of a table holding the acting principal's own rows, and how many of them showed at least one. */
    ownRowsExpected?: number;
    ownRowsSeen?: number;
  };
  /**
   * Whether this world runs the malformed-context probes (default: yes). Their outcome depends on
   * the policies and the context value, hardly on the world, so the engine runs them in the first
   * worlds and in every world while shrinking, not in all of them.
   */
  readonly contextProbes?: boolean;
  /** The tables this world probes (default: every tenant-scoped table); see engine.ts, tablesPerClass. */
  readonly probeTables?: ReadonlySet<string>;
}

const probeOrdinalBase = 20_000;
let probeOrdinal = probeOrdinalBase;
export const nextOrdinal = () => (probeOrdinal = probeOrdinal >= probeOrdinalBase + 9_000 ? probeOrdinalBase + 1 : probeOrdinal + 1);

/** Which check a probe serves and on what: a probe that could not act is reported for it. */
export interface ProbeFor {
  readonly id: ProbeId;
  readonly object: string;
}

/** Reports `outcome` to `run.couldNotAct` when the probe's own statement or values were rejected. */
export function judgeActed<R extends object>(run: ProbeRun, about: ProbeFor | undefined, outcome: Outcome<R>): Outcome<R> {
  if (about && !outcome.ok && probeCouldNotAct(outcome.code)) run.couldNotAct(about.object, about.id, `${outcome.code}: ${outcome.message}`);
  return outcome;
}

/** Runs one statement as `context` under a rolled-back savepoint. */
export async function probe<R extends object = Record<string, unknown>>(
  run: ProbeRun,
  context: TenantContext,
  sql: string,
  values?: readonly unknown[],
  about?: ProbeFor,
): Promise<Outcome<R>> {
  run.stats.probes += 1;
  return judgeActed(run, about, await run.session.probe<R>(enterTenantSql(run.target, context), sql, values));
}

/** Like `probe`, with foreign-key and user triggers off first (when the connecting role may). */
export async function probeWithoutTriggers(run: ProbeRun, context: TenantContext, sql: string, values?: readonly unknown[], about?: ProbeFor) {
  run.stats.probes += 1;
  const off = run.catalog.canDisableTriggers ? 'set local session_replication_role = replica; ' : '';
  return judgeActed(run, about, await run.session.probe(`${off}${enterTenantSql(run.target, context)}`, sql, values));
}

export const as = (tenant: string): TenantContext => ({ kind: 'tenant', tenant });

/** The primary-key (or physical) predicate selecting one stored row, with its params from `$offset+1`. */
export function rowPredicate(table: TablePlan, row: StoredRow, offset = 0): { sql: string; params: (string | null)[] } {
  if (table.key) {
    const cols = table.key.map((k) => `t.${quoteIdent(k)}`).join(', ');
    const types = table.key.map((k) => table.relation.columns.find((c) => c.name === k)?.type ?? 'text');
    const params = table.key.map((k) => paramOf(table.relation.columns.find((c) => c.name === k), row.values[k]));
    return { sql: `(${cols}) = (${types.map((t, i) => `$${offset + i + 1}::${t}`).join(', ')})`, params };
  }
  return { sql: `(${rowKeySql}) = $${offset + 1}`, params: [row.key] };
}

/** A column the app could plausibly update in place (`set c = c`). */
export function touchColumn(table: TablePlan): string | null {
  const fake = table.columns.find((c) => c.source.kind === 'fake' && !(table.key ?? []).includes(c.column.name));
  return (fake ?? table.columns.find((c) => c.source.kind !== 'counter'))?.column.name ?? null;
}

export interface Evidence {
  table: TablePlan | string;
  acting?: string | undefined;
  victim?: string | undefined;
  statement: string;
  observed: unknown;
  expected: unknown;
  /** Blanks of the check's templates besides object, acting and victim ({setting}, {appRole}, {tenantColumn} are filled here). */
  vars?: Record<string, string>;
  /** Prefix the remediation with the catalog's hint for the table. */
  hinted?: boolean;
}

/**
 * Observes a hit of check `id` of `family`: title, severity, class, CWE and remediation come from
 * the family's declaration; the root cause from the catalog.
 */
export function record<Id extends ProbeId>(run: ProbeRun, family: ProbeFamily<Id>, id: NoInfer<Id>, e: Evidence): void {
  const table = typeof e.table === 'string' ? null : e.table;
  const object = table ? table.label : (e.table as string);
  const cause = table ? run.catalog.causes.get(table.label) : undefined;
  run.observe({
    ...family.finding(id, {
      object,
      actingTenant: e.acting,
      victimTenant: e.victim,
      statement: e.statement,
      observed: e.observed,
      expected: e.expected,
      vars: {
        setting: run.target.tenantSetting,
        appRole: run.target.appRole,
        tenantColumn: table?.tenantColumn ?? (table ? 'tenant check' : run.target.tenantColumn),
        ...e.vars,
      },
      hint: e.hinted && table ? run.catalog.hints.get(table.label) : undefined,
    }),
    ...(cause ? { rootCause: cause } : {}),
  });
}

/**
 * A verdict on probes already sent: probes are issued without waiting (the connection pipelines
 * them, one simple-query message each, every message opening with the rollback of the previous
 * probe's savepoint, so an error in one cannot poison the next), and judged afterwards in the order
 * they were issued, so findings come out in the same order, with the same evidence, as when every
 * probe waited for the one before it.
 */
export type Judge = () => Promise<void> | void;

/** The parent row that a stored row references through plan foreign key `fk`. */
export function parentRowOf(world: StoredWorld, table: TablePlan, row: StoredRow, fk: number): StoredRow | null {
  const parent = table.parents[fk];
  if (!parent) return null;
  const { columns, referencedColumns } = parent.foreignKey;
  return (
    (world.rows.get(parent.parent) ?? []).find((p) =>
      columns.every((c, i) => toParam(p.values[referencedColumns[i]!]) === toParam(row.values[c])),
    ) ?? null
  );
}
