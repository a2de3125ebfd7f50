/**
 * Writing a world into the target, inside the caller's transaction (which is rolled back).
 *
 * Rows are written as the connecting role with the tenant setting set to each row's tenant, so
 * they land whether the connecting role is a superuser, the owner of tables with FORCED RLS
 * (its policies see the row's own tenant), or a plain role subject to the policies. When the
 * connecting role is refused by a policy (42501), the batch is retried as the app role in that
 * tenant's context — the application's own write path. Identity and nextval() columns get
 * explicit values above the sequence, so no sequence advances (a rolled-back nextval would
 * otherwise leave a trace).
 */
import { CannotRunError } from '../errors.ts';
import type { Queryable } from '../target/connection.ts';
import { quoteIdent } from '../target/connection.ts';
import { tenantSettingSql } from '../target/context.ts';
import type { TargetConfig } from '../target/types.ts';
import type { Column } from '../catalog/types.ts';
import type { RowSpec, World } from './arbitraries.ts';
import type { TablePlan, WorldPlan } from './plan.ts';
import { toRegExp } from './arbitraries.ts';
import { arrayLiteral, hstoreLiteral, rowLiteral } from './literals.ts';

/** A row as stored: its table, owning tenant (index), physical key and values as read back. */
export interface StoredRow {
  readonly table: string;
  /** Index into `tenants`; null for global tables. */
  readonly tenant: number | null;
  /** `tableoid:ctid`, stable while the row is not updated. */
  readonly key: string;
  readonly values: Readonly<Record<string, unknown>>;
}

export interface StoredWorld {
  readonly plan: WorldPlan;
  readonly tenants: readonly string[];
  /** What the world wrote into tenant columns for each tenant (equal to `tenants` in the rls model). */
  readonly tenantIds: readonly string[];
  readonly rows: ReadonlyMap<string, readonly StoredRow[]>;
  /** Tables the world could not be written into (and so were not probed), with the reason. */
  readonly skipped: ReadonlyMap<string, string>;
  /** Why each skipped table refused its rows: the error and the values (one row per inner array, in `table.columns` order). */
  readonly skippedBecause: ReadonlyMap<string, { readonly error: unknown; readonly rows: readonly (readonly (string | null)[])[] }>;
  readonly byKey: ReadonlyMap<string, StoredRow>;
}

/** Base values for counter columns (`schema.table.column` → a value above the sequence). */
export type CounterBases = ReadonlyMap<string, number>;

/** SQL expression giving a row's physical key, for a table aliased `t`. */
export const rowKeySql = `t.tableoid::int::text || ':' || t.ctid::text`;

/**
 * A stored value (as `row_to_json` read it back) as a text parameter, untyped: for comparing
 * values, and for columns whose type is unknown. Use `paramOf` to write a value back.
 */
export const toParam = (v: unknown): string | null =>
  v === null || v === undefined ? null : typeof v === 'object' ? JSON.stringify(v) : String(v);

const jsonTypes = new Set(['json', 'jsonb']);

/**
 * A stored value as the text PostgreSQL accepts for `column`'s type when it is written back:
 * `row_to_json` reads arrays back as JSON arrays (`[]`, which is no array literal: `'{}'` is) and
 * json values as JSON (a json string must stay quoted).
 */
export function paramOf(column: Column | undefined, v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (!column) return toParam(v);
  const element = (x: unknown) => (jsonTypes.has(column.baseType) ? JSON.stringify(x) : typeof x === 'object' ? JSON.stringify(x) : String(x));
  if (column.isArray && Array.isArray(v)) return arrayLiteral(v, element, column.baseType === 'box' ? ';' : ',');
  if (jsonTypes.has(column.baseType)) return JSON.stringify(v);
  // hstore has a cast to json, so row_to_json reads it back as an object: `"k"=>"v"` again.
  if (column.baseType === 'hstore' && typeof v === 'object') return hstoreLiteral(v as Record<string, unknown>);
  // A composite value comes back as an object of its fields, in order: a row literal again.
  if (column.typeKind === 'c' && typeof v === 'object' && !Array.isArray(v)) return rowLiteral(Object.values(v as Record<string, unknown>));
  return toParam(v);
}

/** A stored row's values for the plan's `fake` columns (plan order), ready to write again. */
export function fakeCellsOf(table: TablePlan, row: StoredRow): (string | null)[] {
  return table.columns.filter((c) => c.source.kind === 'fake').map((c) => paramOf(c.column, row.values[c.column.name]));
}

/** Reads bases for counter columns: the sequence's last value or the visible maximum, plus a margin. */
/** A read that may fail (no privilege) yields nothing, but a verify that must stop still stops. */
function keepStopping(error: unknown): { rows: { v: string | null }[] } {
  if (error instanceof CannotRunError) throw error;
  return { rows: [] };
}

export async function readCounterBases(q: Queryable, plan: WorldPlan): Promise<CounterBases> {
  const counters = plan.tables.flatMap((table) => table.columns.filter((c) => c.source.kind === 'counter').map((c) => ({ table, column: c.column.name })));
  const bases = new Map<string, number>();
  if (counters.length === 0) return bases;
  // Three reads per counter column, batched: the sequences in one statement, then every
  // sequence's last value and every column's maximum in one more (each read on its own, as
  // before, only when the batch is refused — a sequence or table the role may not read).
  const { rows: seqs } = await q.query<{ seq: string | null }>(
    'select pg_get_serial_sequence(c.tbl, c.col) as seq from unnest($1::text[], $2::text[]) with ordinality as c(tbl, col, n) order by c.n',
    [counters.map((c) => c.table.sql), counters.map((c) => c.column)],
  );
  const reads = counters.flatMap((c, i) => [
    ...(seqs[i]?.seq ? [{ at: i, value: 'last_value::text', from: seqs[i]!.seq! }] : []),
    { at: i, value: `max(${quoteIdent(c.column)})::text`, from: c.table.sql },
  ]);
  const tops = counters.map(() => 0);
  const batched = await q
    .query<Record<string, string | null>>(`select ${reads.map((r, k) => `(select ${r.value} from ${r.from}) as v${k}`).join(', ')}`)
    .catch(keepStopping);
  const row = batched.rows[0] as Record<string, string | null> | undefined;
  for (const [k, r] of reads.entries()) {
    const v = row ? row[`v${k}`] : (await q.query<{ v: string | null }>(`select ${r.value} as v from ${r.from}`).catch(keepStopping)).rows[0]?.v;
    tops[r.at] = Math.max(tops[r.at]!, Number(v ?? 0));
  }
  for (const [i, c] of counters.entries()) bases.set(`${c.table.label}.${c.column}`, tops[i]! + 1_000);
  return bases;
}

export interface RowValueContext {
  readonly tenantId: string | null;
  /** The parent row a foreign key (by index in `table.parents`) references, or null. */
  readonly parent: (foreignKey: number) => StoredRow | null;
  readonly ordinal: number;
  readonly bases: CounterBases;
}

/** The values (as text params) of one row, aligned with `table.columns`. */
export function rowValues(table: TablePlan, spec: RowSpec, ctx: RowValueContext): (string | null)[] {
  let fake = 0;
  return table.columns.map((c) => {
    switch (c.source.kind) {
      case 'tenant':
        return ctx.tenantId;
      case 'parent':
        return paramOf(c.column, ctx.parent(c.source.foreignKey)?.values[c.source.parentColumn] ?? null);
      case 'counter':
        return String((ctx.bases.get(`${table.label}.${c.column.name}`) ?? 1_000) + ctx.ordinal);
      case 'fake': {
        const value = spec.cells[fake++] ?? null;
        if (!c.source.unique || (c.bounds.oneOf?.length ?? 0) > 0) return value;
        const limit = Math.min(c.column.maxLength ?? Infinity, c.bounds.maxLength ?? Infinity);
        return uniqueVariant(value, c.column.baseType, Number.isFinite(limit) ? limit : null, ctx.ordinal, c.bounds.pattern);
      }
    }
  });
}

function uniqueVariant(value: string | null, baseType: string, maxLength: number | null, ordinal: number, pattern?: string): string | null {
  if (value === null) return null;
  if (pattern) {
    // Keep values matching the CHECK regex: try a few ways of making them unique.
    const re = toRegExp(pattern);
    const room = (s: string) => (maxLength === null ? value : value.slice(0, Math.max(0, maxLength - s.length)));
    for (const suffix of [`-${ordinal}`, `${ordinal}`, `_${ordinal}`, `x${ordinal}`]) {
      const head = room(suffix);
      for (const candidate of [`${head}${suffix}`, `${head.slice(0, Math.max(1, head.length - suffix.length))}${suffix}`]) {
        if (!re || re.test(candidate)) return candidate;
      }
    }
    return value;
  }
  if (['int2', 'int4', 'int8', 'numeric'].includes(baseType)) return String(Math.trunc(Number(value)) + ordinal * 1_000);
  if (baseType === 'uuid') return `${value.slice(0, 24)}${ordinal.toString(16).padStart(12, '0')}`;
  if (!['text', 'varchar', 'bpchar', 'citext', 'name'].includes(baseType)) return value;
  const suffix = `-${ordinal}`;
  const at = value.indexOf('@');
  if (at > 0 && maxLength === null) return `${value.slice(0, at)}+${ordinal}${value.slice(at)}`;
  const room = maxLength === null ? value.length : Math.max(0, maxLength - suffix.length);
  return `${value.slice(0, room)}${suffix}`;
}

/** `insert into … values (…), (…) returning key, row` for `rows` (each aligned with table.columns). */
export function insertSql(table: TablePlan, rowCount: number, returning = true): string {
  const cols = table.columns.map((c) => quoteIdent(c.column.name)).join(', ');
  const overriding = table.columns.some((c) => c.column.identity === 'a') ? ' overriding system value' : '';
  let n = 0;
  const tuples = Array.from({ length: rowCount }, () => `(${table.columns.map((c) => `$${++n}::${c.column.type}`).join(', ')})`);
  const values = table.columns.length === 0 ? ' default values' : ` (${cols})${overriding} values ${tuples.join(', ')}`;
  const back = returning ? ` returning ${rowKeySql} as tp_key, row_to_json(t.*) as tp_row` : '';
  return `insert into ${table.sql} as t${values}${back}`;
}

/** Writes `world` (inside the caller's transaction) and returns what was stored. */
/**
 * `writeAs`: SQL that enters a tenant's context, for rows the connecting role is refused (42501)
 * but the application's own path may write (the rls model: the app role with the tenant setting).
 */
export async function writeWorld(
  tx: Queryable,
  target: TargetConfig,
  plan: WorldPlan,
  world: World,
  bases: CounterBases,
  writeAs?: (tenantId: string) => string,
  only?: ReadonlySet<string>,
): Promise<StoredWorld> {
  const needed = only ? tablesNeededFor(plan, only) : null;
  const stored = new Map<string, StoredRow[]>();
  const byKey = new Map<string, StoredRow>();
  const skipped = new Map<string, string>();
  const skippedBecause = new Map<string, { error: unknown; rows: (string | null)[][] }>();
  const byLabel = new Map(plan.tables.map((t) => [t.label, t]));
  let ordinal = 0;
  for (const [index, table] of plan.tables.entries()) {
    if (needed && !needed.has(table.label)) {
      stored.set(table.label, []);
      continue;
    }
    const slots = world.rows[index] ?? [];
    const owners: (number | null)[] = table.role === 'global' ? [null] : world.tenants.map((_, t) => t);
    const out: StoredRow[] = [];
    const seen = new Map<string, Set<string>>();
    for (const tenant of owners) {
      const specs = (table.role === 'global' ? slots[0] : slots[tenant ?? 0]) ?? [];
      if (specs.length === 0) continue;
      const tenantId = tenant === null ? null : (world.tenantIds ?? world.tenants)[tenant]!;
      const params: (string | null)[] = [];
      let accepted = 0;
      for (const spec of specs) {
        // Unique keys made only of tenant/parent columns (e.g. (tenant_id, user_id)) can collide
        // when two rows pick the same parent: try other parents, else leave the row out.
        for (let attempt = 0; attempt < 8; attempt++) {
          ordinal += 1;
          const values = rowValues(table, spec, {
            tenantId,
            ordinal,
            bases,
            parent: (fk) => pickParent(stored, byLabel, table, fk, tenant, (spec.picks[fk] ?? 0) + attempt),
          });
          const tuples = uniqueTuples(table, values);
          if (tuples.some(([k, t]) => seen.get(k)?.has(t))) continue;
          for (const [k, t] of tuples) seen.set(k, (seen.get(k) ?? new Set()).add(t));
          params.push(...values);
          accepted += 1;
          break;
        }
      }
      if (accepted === 0) continue;
      const sql = insertSql(table, accepted);
      let rows: Returned[];
      try {
        rows = await insertBatch(tx, target, table, sql, params, tenantId, writeAs);
      } catch (error) {
        // A table the generator cannot fill (an unsupported type, an unsatisfiable CHECK) is left
        // out of this world and reported as not probed; the rest of the world goes on.
        if (!(error instanceof CannotRunError) || table.role !== 'scoped') throw error;
        skipped.set(table.label, error.message);
        const width = Math.max(1, table.columns.length);
        skippedBecause.set(table.label, {
          error: error.cause ?? error,
          rows: Array.from({ length: Math.ceil(params.length / width) }, (_, i) => params.slice(i * width, (i + 1) * width)),
        });
        break;
      }
      for (const r of rows) {
        const row: StoredRow = { table: table.label, tenant, key: r.tp_key, values: r.tp_row };
        out.push(row);
        byKey.set(row.key, row);
      }
    }
    stored.set(table.label, out);
  }
  return { plan, tenants: world.tenants, tenantIds: world.tenantIds ?? world.tenants, rows: stored, byKey, skipped, skippedBecause };
}

/**
 * The tenant-scoped tables a world's probes act on: those it could fill, and of them (`only`, a
 * sampled world, engine.ts) the ones it was written for.
 */
export function probedTables(world: StoredWorld, only?: ReadonlySet<string>): TablePlan[] {
  return world.plan.tables.filter((t) => t.role === 'scoped' && !world.skipped.has(t.label) && (!only || only.has(t.label)));
}

/**
 * The tables a world must write for probes on `tables` alone: those tables, the tables their rows
 * reference (transitively), and every table that is not tenant-scoped (the tenants table, globals).
 */
export function tablesNeededFor(plan: WorldPlan, tables: ReadonlySet<string>): Set<string> {
  const byLabel = new Map(plan.tables.map((t) => [t.label, t]));
  const needed = new Set(plan.tables.filter((t) => t.role !== 'scoped').map((t) => t.label));
  const visit = (label: string) => {
    if (needed.has(label)) return;
    needed.add(label);
    for (const p of byLabel.get(label)?.parents ?? []) visit(p.parent);
  };
  for (const label of tables) visit(label);
  return needed;
}

/** The row's values on each unique key whose columns are all written and not null. */
function uniqueTuples(table: TablePlan, values: readonly (string | null)[]): [string, string][] {
  const at = new Map(table.columns.map((c, i) => [c.column.name, i]));
  const tuples: [string, string][] = [];
  for (const key of table.relation.uniqueKeys) {
    if (key.predicate !== null || key.hasExpressions) continue;
    const parts = key.columns.map((c) => (at.has(c) ? values[at.get(c)!] : null));
    if (parts.some((p) => p === null || p === undefined)) continue;
    tuples.push([key.name, JSON.stringify(parts)]);
  }
  return tuples;
}

function pickParent(
  stored: Map<string, StoredRow[]>,
  byLabel: Map<string, TablePlan>,
  table: TablePlan,
  fk: number,
  tenant: number | null,
  pick: number,
): StoredRow | null {
  const parentLabel = table.parents[fk]?.parent;
  if (!parentLabel) return null;
  const parentRole = byLabel.get(parentLabel)?.role;
  const candidates = (stored.get(parentLabel) ?? []).filter((r) => parentRole === 'global' || r.tenant === tenant);
  return candidates.length === 0 ? null : candidates[pick % candidates.length]!;
}

interface Returned {
  tp_key: string;
  tp_row: Record<string, unknown>;
}

async function insertBatch(
  tx: Queryable,
  target: TargetConfig,
  table: TablePlan,
  sql: string,
  params: (string | null)[],
  tenantId: string | null,
  writeAs: ((tenantId: string) => string) | undefined,
): Promise<Returned[]> {
  // The tenant setting is set in every model: hybrid layouts (tenant columns, triggers and RLS on
  // shared tables inside schema/database tenants) read it too. It is transaction-local.
  const settings = tenantId !== null ? tenantSettingSql(target, tenantId) : null;
  const open = settings ? `savepoint tp_world; ${settings}` : 'savepoint tp_world';
  const sent = await (async (): Promise<{ ok: true; rows: Returned[] } | { ok: false; error: unknown }> => {
    if (isPipelined(tx)) {
      // Sent back to back. When the insert fails, the release after it fails too (the transaction
      // is aborted), so the savepoint is still there to roll back to, as below.
      const [opened, inserted, released] = await Promise.allSettled([tx.query(open), tx.query<Returned>(sql, params), tx.query('release savepoint tp_world')]);
      if (inserted.status === 'fulfilled' && opened.status === 'fulfilled' && released.status === 'fulfilled') return { ok: true, rows: inserted.value.rows };
      return { ok: false, error: [opened, inserted, released].find((r): r is PromiseRejectedResult => r.status === 'rejected')!.reason };
    }
    try {
      await tx.query(open);
      const { rows } = await tx.query<Returned>(sql, params);
      await tx.query('release savepoint tp_world');
      return { ok: true, rows };
    } catch (error) {
      return { ok: false, error };
    }
  })();
  if (sent.ok) return sent.rows;
  {
    const { error } = sent;
    await tx.query('rollback to savepoint tp_world');
    const code = (error as { code?: string }).code;
    // A lock held elsewhere is no property of the table: the run stops (the engine says why).
    if (code === '55P03') throw error;
    if (code === '42501' && tenantId !== null && writeAs) {
      // Refused to the connecting role by a policy or grant: write through the app's own path.
      try {
        await tx.query(writeAs(tenantId));
        const { rows } = await tx.query<Returned>(sql, params);
        await tx.query(`reset role; release savepoint tp_world`);
        return rows;
      } catch (retryError) {
        await tx.query('rollback to savepoint tp_world; release savepoint tp_world').catch(() => undefined);
        throw worldError(table, retryError);
      }
    }
    await tx.query('release savepoint tp_world').catch(() => undefined);
    throw worldError(table, error);
  }
}

/** A node-postgres client in pipeline mode (`pg.Client({ pipeline: true })`, pg ≥ 8.23). */
function isPipelined(tx: Queryable): boolean {
  return (tx as { pipeline?: unknown }).pipeline === true;
}

function worldError(table: TablePlan, cause: unknown): CannotRunError {
  const message = (cause as Error)?.message?.split('\n')[0] ?? String(cause);
  return new CannotRunError(`cannot write generated rows into ${table.label}: ${message}`, { table: table.label }, { cause });
}
