/**
 * Probes of another tenant's table from inside one tenant's context, for the schema and database
 * models: the acting tenant reaches the victim's table by its qualified name (or inside the
 * victim's database) and must see nothing and change nothing — an error or zero rows.
 */
import type { RootCause } from '../../findings/types.ts';
import { enterTenantSql } from '../../models/index.ts';
import { quoteIdent } from '../../target/connection.ts';
import type { TenantContext } from '../../target/context.ts';
import type { TablePlan } from '../../world/plan.ts';
import { fakeCellsOf, insertSql, paramOf, rowKeySql, rowValues, toParam, type StoredRow } from '../../world/write.ts';
import { ownRows } from './oracle.ts';
import { judgeActed, type ProbeFor, type ProbeRun } from './probe-run.ts';
import { probeFinding } from './registry.ts';

export interface ForeignAccess {
  readonly context: TenantContext;
  /** How findings name the acting and victim tenants. */
  readonly acting: string;
  readonly victim: string;
  /** Index of the victim in `run.world.tenants`. */
  readonly victimIndex: number;
  /** The model whose probe ids the findings carry (`probe-schema-*`, `probe-database-*`). */
  readonly model: 'schema' | 'database';
  /** Object name for findings (e.g. `tenant_b.orders` or `tenant_b:public.orders`). */
  readonly object: (table: TablePlan) => string;
  /** Blanks of the registry's remediation template for this model (see registry.ts). */
  readonly remediation: (table: TablePlan) => Record<string, string>;
  /** The configuration at fault for every finding of this access, when one is known (a role shared by every tenant). */
  readonly rootCause?: RootCause;
}

async function probeAs(run: ProbeRun, access: ForeignAccess, sql: string, values?: readonly unknown[], triggersOff = false, about?: ProbeFor) {
  run.stats.probes += 1;
  const off = triggersOff && run.catalog.canDisableTriggers ? 'set local session_replication_role = replica; ' : '';
  return judgeActed(run, about, await run.session.probe(`${off}${enterTenantSql(run.target, access.context)}`, sql, values));
}

/** Read, update, delete and insert on the victim's `table`: each must fail or touch nothing. */
export async function probeForeignTable(run: ProbeRun, access: ForeignAccess, table: TablePlan): Promise<void> {
  const victimRows = ownRows(run.world, table.label, access.victimIndex);
  if (victimRows.length > 0) run.stats.foreignRowsSeenByProbes += 1;
  const observe = (verb: 'read' | 'update' | 'delete' | 'insert', statement: string, observed: unknown) =>
    run.observe({
      ...probeFinding(`probe-${access.model}-${verb}`, {
        object: access.object(table),
        actingTenant: access.acting,
        victimTenant: access.victim,
        statement,
        observed,
        expected: 'permission denied, or no rows',
        vars: { name: table.relation.name, ...access.remediation(table) },
      }),
      ...(access.rootCause ? { rootCause: access.rootCause } : {}),
    });

  const scanSql = `select ${rowKeySql} as tp_key from ${table.sql} t limit 50`;
  const scan = await probeAs(run, access, scanSql);
  if (scan.ok && scan.rows.length > 0) {
    observe('read', scanSql, { rows: scan.rows.length });
  }
  const plain = table.columns.find((c) => c.source.kind === 'fake' && !c.source.unique && !(table.key ?? []).includes(c.column.name));
  const first: StoredRow | undefined = victimRows[0];
  if (plain && first) {
    const updateSql = `update ${table.sql} set ${quoteIdent(plain.column.name)} = $1::${plain.column.type}`;
    const update = await probeAs(run, access, updateSql, [paramOf(plain.column, first.values[plain.column.name])], false, {
      id: `probe-${access.model}-update`,
      object: access.object(table),
    });
    if (update.ok && update.rowCount > 0) {
      observe('update', updateSql, { rowsUpdated: update.rowCount });
    }
  }
  const deleteSql = `delete from ${table.sql}`;
  const del = await probeAs(run, access, deleteSql, [], true);
  if (del.ok && del.rowCount > 0) {
    observe('delete', deleteSql, { rowsDeleted: del.rowCount });
  }
  if (first) {
    const cells = fakeCellsOf(table, first);
    const values = rowValues(table, { picks: [], cells }, {
      tenantId: run.world.tenantIds[access.victimIndex] ?? null,
      ordinal: 30_000 + run.stats.probes,
      bases: run.bases,
      parent: (fk) => {
        const p = table.parents[fk];
        if (!p) return null;
        return (run.world.rows.get(p.parent) ?? []).find((r) => p.foreignKey.columns.every((c, i) => toParam(r.values[p.foreignKey.referencedColumns[i]!]) === toParam(first.values[c]))) ?? null;
      },
    });
    const sql = insertSql(table, 1, false);
    const inserted = await probeAs(run, access, sql, values, true, { id: `probe-${access.model}-insert`, object: access.object(table) });
    if (inserted.ok) {
      observe('insert', sql, { inserted: inserted.rowCount });
    }
  }
}
