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
import { defineProbeChecks, type DeclaredProbeCheck, type ProbeHit } from './define.ts';
import { ownRows } from './oracle.ts';
import { judgeActed, type ProbeFor, type ProbeRun } from './probe-run.ts';

type Verb = 'read' | 'update' | 'delete' | 'insert';

/** The check of `verb` on another tenant's table in `model` (the schema and the database model share the probe). */
const foreignTable = (model: 'schema' | 'database', verb: Verb): DeclaredProbeCheck => {
  const where = model === 'schema' ? "another tenant's schema, by qualified name" : "another tenant's database, as the acting tenant's role";
  const does = { read: 'reads', update: 'updates', delete: 'deletes from', insert: 'inserts into' }[verb];
  return {
    title: `A tenant ${does} another tenant's table (${model} model)`,
    finding: `Tenant {acting} ${does} tenant {victim}'s {name}`,
    severity: 'critical',
    leakClass: verb === 'read' ? 'read' : 'write',
    leak: true,
    cwe: 'CWE-863',
    models: [model],
    description: `As each chosen tenant, ${verb === 'read' ? 'scan' : verb === 'insert' ? 'insert a row into' : `${verb} every row of`} each table in ${where}: it must fail with permission denied, or touch no row.`,
    remediation:
      model === 'schema'
        ? `Revoke the acting tenant's access to the victim's schema: {fix}`
        : `Role {actingRole} has privileges on {table} in {victim}: REVOKE ALL ON {table} FROM PUBLIC and from other tenants' roles; grant only {victimRole}.`,
  };
};

/** The schema model's checks of another tenant's table (reported in that order, before the schema model's other probes). */
export const schemaForeignChecks = defineProbeChecks({
  'probe-schema-read': foreignTable('schema', 'read'),
  'probe-schema-update': foreignTable('schema', 'update'),
  'probe-schema-delete': foreignTable('schema', 'delete'),
  'probe-schema-insert': foreignTable('schema', 'insert'),
});

/** The database model's checks of another tenant's table. */
export const databaseForeignChecks = defineProbeChecks({
  'probe-database-read': foreignTable('database', 'read'),
  'probe-database-update': foreignTable('database', 'update'),
  'probe-database-delete': foreignTable('database', 'delete'),
  'probe-database-insert': foreignTable('database', 'insert'),
});

/** The observation of one hit of `verb` on another tenant's table, as `model`'s check. */
function foreignFinding(model: 'schema' | 'database', verb: Verb, hit: ProbeHit) {
  return model === 'schema' ? schemaForeignChecks.finding(`probe-schema-${verb}`, hit) : databaseForeignChecks.finding(`probe-database-${verb}`, hit);
}

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
  /** Blanks of this model's remediation template (`foreignTable` above). */
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
  const observe = (verb: Verb, statement: string, observed: unknown) =>
    run.observe({
      ...foreignFinding(access.model, verb, {
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
