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
import { insertSql, rowKeySql, rowValues, toParam, type StoredRow } from '../../world/write.ts';
import { ownRows } from './oracle.ts';
import type { Observation, ProbeRun } from './rls.ts';

export interface ForeignAccess {
  readonly context: TenantContext;
  /** How findings name the acting and victim tenants. */
  readonly acting: string;
  readonly victim: string;
  /** Index of the victim in `run.world.tenants`. */
  readonly victimIndex: number;
  /** Check id prefix, e.g. `probe-schema` or `probe-database`. */
  readonly prefix: string;
  /** Object name for findings (e.g. `tenant_b.orders` or `tenant_b:public.orders`). */
  readonly object: (table: TablePlan) => string;
  readonly remediation: (table: TablePlan) => string;
  /** The configuration at fault for every finding of this access, when one is known (a role shared by every tenant). */
  readonly rootCause?: RootCause;
}

async function probeAs(run: ProbeRun, access: ForeignAccess, sql: string, values?: readonly unknown[], triggersOff = false) {
  run.stats.probes += 1;
  const off = triggersOff && run.catalog.canDisableTriggers ? 'set local session_replication_role = replica; ' : '';
  return run.session.probe(`${off}${enterTenantSql(run.target, access.context)}`, sql, values);
}

/** Read, update, delete and insert on the victim's `table`: each must fail or touch nothing. */
export async function probeForeignTable(run: ProbeRun, access: ForeignAccess, table: TablePlan): Promise<void> {
  const victimRows = ownRows(run.world, table.label, access.victimIndex);
  if (victimRows.length > 0) run.stats.foreignRowsSeenByProbes += 1;
  const observe = (checkId: string, title: string, leakClass: 'read' | 'write', statement: string, observed: unknown) =>
    run.observe({
      ...(access.rootCause ? { rootCause: access.rootCause } : {}),
      checkId: `${access.prefix}-${checkId}`,
      title,
      severity: 'critical',
      leakClass,
      leak: true,
      object: access.object(table),
      actingTenant: access.acting,
      victimTenant: access.victim,
      statement,
      observed,
      expected: 'permission denied, or no rows',
      cwe: 'CWE-863',
      remediation: access.remediation(table),
    } satisfies Observation);

  const scanSql = `select ${rowKeySql} as tp_key from ${table.sql} t limit 50`;
  const scan = await probeAs(run, access, scanSql);
  if (scan.ok && scan.rows.length > 0) {
    observe('read', `Tenant ${access.acting} reads tenant ${access.victim}'s ${table.relation.name}`, 'read', scanSql, { rows: scan.rows.length });
  }
  const plain = table.columns.find((c) => c.source.kind === 'fake' && !c.source.unique && !(table.key ?? []).includes(c.column.name));
  const first: StoredRow | undefined = victimRows[0];
  if (plain && first) {
    const updateSql = `update ${table.sql} set ${quoteIdent(plain.column.name)} = $1::${plain.column.type}`;
    const update = await probeAs(run, access, updateSql, [toParam(first.values[plain.column.name])]);
    if (update.ok && update.rowCount > 0) {
      observe('update', `Tenant ${access.acting} updates tenant ${access.victim}'s ${table.relation.name}`, 'write', updateSql, { rowsUpdated: update.rowCount });
    }
  }
  const deleteSql = `delete from ${table.sql}`;
  const del = await probeAs(run, access, deleteSql, [], true);
  if (del.ok && del.rowCount > 0) {
    observe('delete', `Tenant ${access.acting} deletes tenant ${access.victim}'s ${table.relation.name}`, 'write', deleteSql, { rowsDeleted: del.rowCount });
  }
  if (first) {
    const cells = table.columns.filter((c) => c.source.kind === 'fake').map((c) => toParam(first.values[c.column.name]));
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
    const inserted = await probeAs(run, access, sql, values, true);
    if (inserted.ok) {
      observe('insert', `Tenant ${access.acting} inserts into tenant ${access.victim}'s ${table.relation.name}`, 'write', sql, { inserted: inserted.rowCount });
    }
  }
}
