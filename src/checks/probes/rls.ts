/**
 * Probes for the rls model (and, through `enterTenantSql`, the schema model's unqualified access):
 * read, write, aggregate and existence probes for every tenant-scoped table, each run as one
 * tenant inside a savepoint that is rolled back, each compared with the oracle; and
 * `runRlsProbes`, which runs them with the context probes (rls-context.ts) on every world.
 */
import { quoteIdent } from '../../target/connection.ts';
import { tenantSettingSql } from '../../target/context.ts';
import type { TablePlan } from '../../world/plan.ts';
import { fakeCellsOf, insertSql, paramOf, probedTables, rowKeySql, rowValues, toParam, type StoredRow } from '../../world/write.ts';
import { defineProbeChecks, type DeclaredProbeCheck, type IdOf } from './define.ts';
import { foreignRows, inWorldOrder, madeByTargetFor, ownerOf, ownRows, resultFingerprint, visibleKeys } from './oracle.ts';
import { as, nextOrdinal, parentRowOf, probe, probeWithoutTriggers, record, rowPredicate, touchColumn, type Judge, type ProbeRun } from './probe-run.ts';
import { contextEqualities, probeContexts } from './rls-context.ts';
import { attempt, inRolledBackSavepoint, type Outcome } from './session.ts';

const rowRead = (how: string, title: string, finding: string, cwe: string, remediation: string): DeclaredProbeCheck => ({
  title,
  finding,
  severity: 'critical',
  leakClass: 'read',
  leak: true,
  cwe,
  models: ['rls'],
  description: `As each generated tenant, ${how}; any row of another tenant in the result is a leak.`,
  remediation,
});

const rlsFix = `Enable (and FORCE) row level security on {object} with a policy USING ({tenantColumn} = current_setting('{setting}')) for {appRole}; permissive policies are OR-ed, so every one must check the tenant.`;

/** The checks of the table probes below, in report order: read, aggregate, existence, write. */
export const tableChecks = defineProbeChecks({
  'probe-read-scan': rowRead('scan each tenant-scoped table', "A tenant reads other tenants' rows", "Tenant reads other tenants' rows of {object}", 'CWE-863', rlsFix),
  'probe-read-lookup': rowRead(
    "look up another tenant's row by its primary key",
    "A tenant looks up another tenant's row by key",
    "Tenant looks up another tenant's row of {object} by key",
    'CWE-639',
    `The SELECT policy on {object} must admit only the current tenant's rows.`,
  ),
  'probe-read-join': rowRead(
    'join each table with each tenant-scoped parent along its foreign key',
    "A join returns other tenants' rows",
    "A join of {object} with {parent} returns other tenants' rows",
    'CWE-863',
    `Both {object} and {parent} need a SELECT policy that admits only the current tenant's rows.`,
  ),
  'probe-aggregate-table': {
    title: "Aggregates over a table include other tenants' rows",
    finding: "Aggregates over {object} include other tenants' rows",
    severity: 'high',
    leakClass: 'aggregate',
    leak: true,
    cwe: 'CWE-863',
    models: ['rls'],
    description: "As each tenant, count, sum, min, max and average over each table, grouped by tenant: the figures must equal the ones computed from the tenant's own rows, and no other tenant's group may appear.",
    remediation: `Aggregates see what the table's SELECT policy admits: fix the policy on {object}.`,
  },
  'probe-aggregate-over-restricted': {
    title: "Aggregates see fewer rows than the tenant's own",
    finding: "Aggregates over {object} see fewer rows than the tenant's own",
    severity: 'info',
    leakClass: 'aggregate',
    leak: false,
    cwe: 'CWE-285',
    models: ['rls'],
    description: "As each tenant, aggregates over each table must count exactly the tenant's own rows. Fewer, with no other tenant's group present, crosses no boundary: the SELECT policy hides some of the tenant's own rows (over-restricted), which is reported for information, never as a leak.",
    remediation: `The SELECT policy on {object} hides some of the tenant's own rows from it: nothing crossed a tenant boundary, but check that the policy admits every row the tenant owns.`,
  },
  'probe-aggregate-view': {
    title: "A view reveals other tenants' data",
    finding: "View {object} reveals other tenants' data",
    severity: 'high',
    leakClass: 'aggregate',
    leak: true,
    cwe: 'CWE-863',
    models: ['rls'],
    description: "Non-interference: what a tenant reads through a view must not change when every other tenant's rows are removed.",
    remediation: `View {object} runs with its owner's rights and bypasses the callers' policies: recreate it WITH (security_invoker = true), or filter it by current_setting('{setting}').`,
  },
  'probe-aggregate-function': {
    title: "A function reveals other tenants' data",
    finding: "Function {object} reveals other tenants' data",
    severity: 'high',
    leakClass: 'aggregate',
    leak: true,
    cwe: 'CWE-863',
    models: ['rls'],
    description: "Non-interference: what a tenant reads through a zero-argument function must not change when every other tenant's rows are removed.",
    remediation: `Function {object} (SECURITY DEFINER or reading unprotected tables) bypasses row level security: make it SECURITY INVOKER, or filter by current_setting('{setting}').`,
  },
  'probe-existence-unique': {
    title: "A unique key reveals another tenant's values",
    finding: "A unique key on {object} reveals another tenant's values",
    severity: 'medium',
    leakClass: 'existence',
    leak: true,
    cwe: 'CWE-203',
    models: ['rls'],
    description: "Insert, as one tenant, a row carrying another tenant's value of a unique key that does not include the tenant: a unique violation tells the tenant that the value exists elsewhere.",
    remediation: `Make the unique key ({key}) on {object} per tenant: ({tenantKey}).`,
  },
  'probe-write-insert-foreign': {
    title: 'A tenant inserts rows for another tenant',
    finding: 'Tenant inserts a row into {object} for another tenant',
    severity: 'critical',
    leakClass: 'write',
    leak: true,
    cwe: 'CWE-639',
    models: ['rls'],
    description: "Insert, as one tenant, a copy of another tenant's row carrying that tenant's id: the INSERT policy's WITH CHECK must refuse it.",
    remediation: `The INSERT policy on {object} needs WITH CHECK ({tenantColumn} = current_setting('{setting}')).`,
  },
  'probe-write-update-foreign': {
    title: "A tenant updates other tenants' rows",
    finding: "Tenant updates other tenants' rows of {object}",
    severity: 'critical',
    leakClass: 'write',
    leak: true,
    cwe: 'CWE-639',
    models: ['rls'],
    description:
      "UPDATE, as one tenant, another tenant's row by its key, and every row with no WHERE clause (a blind write reads no column, so only the UPDATE policy applies, not the SELECT policy): more rows touched than the tenant owns is a leak.",
    remediation: `The UPDATE policy on {object} admits other tenants' rows: its USING must check {tenantColumn} = current_setting('{setting}').`,
  },
  'probe-write-delete-foreign': {
    title: "A tenant deletes other tenants' rows",
    finding: "Tenant deletes other tenants' rows of {object}",
    severity: 'critical',
    leakClass: 'write',
    leak: true,
    cwe: 'CWE-639',
    models: ['rls'],
    description:
      "DELETE, as one tenant, another tenant's row by its key, and every row with no WHERE clause (a blind write reads no column, so only the DELETE policy applies, not the SELECT policy): more rows removed than the tenant owns is a leak.",
    remediation: `The DELETE policy on {object} admits other tenants' rows: its USING must check {tenantColumn} = current_setting('{setting}').`,
  },
  'probe-write-move-to-foreign': {
    title: "A tenant moves its rows into another tenant",
    finding: 'Tenant moves its own row of {object} into another tenant',
    severity: 'critical',
    leakClass: 'write',
    leak: true,
    cwe: 'CWE-639',
    models: ['rls'],
    description: "UPDATE, as one tenant, the tenant column of its own rows to another tenant's id: the UPDATE policy's WITH CHECK must refuse the new row.",
    remediation: `The UPDATE policy on {object} needs WITH CHECK ({tenantColumn} = current_setting('{setting}')).`,
  },
  'probe-write-foreign-parent': {
    title: "A tenant's row references another tenant's parent row",
    finding: "Tenant's row of {object} references another tenant's {parent} row",
    severity: 'high',
    leakClass: 'write',
    leak: true,
    cwe: 'CWE-639',
    models: ['rls'],
    description:
      "Insert, as one tenant, a row whose foreign key points at another tenant's parent row: foreign key checks bypass row level security, so only a key that includes the tenant (or a WITH CHECK on the parent's tenant) refuses it.",
    remediation: `Foreign key {foreignKey} on {object} does not include the tenant: make it ({tenantKey}) referencing a unique ({tenantColumn}, …) key of {parent}, or check the parent's tenant in the INSERT/UPDATE policy's WITH CHECK (foreign key checks bypass RLS).`,
  },
  'probe-write-truncate': {
    title: "A tenant truncates a table, removing every tenant's rows",
    finding: "Tenant truncates {object}, removing every tenant's rows",
    severity: 'critical',
    leakClass: 'write',
    leak: true,
    cwe: 'CWE-862',
    models: ['rls'],
    description: 'TRUNCATE, as a tenant: row level security does not apply to it, so the privilege alone lets one tenant empty every tenant\'s rows.',
    remediation: `REVOKE TRUNCATE ON {object} FROM {appRole}: TRUNCATE is not subject to row level security.`,
  },
});

type TableProbeId = IdOf<typeof tableChecks>;

/** Every probe of one world, for the rls model. */
export async function runRlsProbes(run: ProbeRun): Promise<void> {
  const { world } = run;
  const scoped = probedTables(world, run.probeTables);
  const equalities = run.contextProbes === false ? null : await contextEqualities(run);
  const judges: Judge[] = [];
  for (const table of scoped) {
    for (let a = 0; a < world.tenants.length; a++) probeTableAsTenant(run, table, a, judges);
    probeTruncate(run, table, judges);
    if (equalities) probeContexts(run, table, equalities, judges);
  }
  for (const judge of judges) await judge();
  if (run.catalog.views.length + run.catalog.functions.length > 0) await probeNonInterference(run, 0);
}

function probeTableAsTenant(run: ProbeRun, table: TablePlan, a: number, judges: Judge[]): void {
  const { world } = run;
  const acting = world.tenants[a]!;
  const v = (a + 1) % world.tenants.length;
  const victim = world.tenants[v]!;
  const own = visibleKeys(world, table.label, [a]);
  const victimRow = ownRows(world, table.label, v)[0];
  const ownRow = ownRows(world, table.label, a)[0];
  const foreignPresent = (world.rows.get(table.label) ?? []).filter((r) => r.tenant !== a).length;
  if (foreignPresent > 0) run.stats.foreignRowsSeenByProbes += 1;
  const tenantCol = table.tenantColumn;
  const rowJson = tenantCol ? `, t.${quoteIdent(tenantCol)}::text as tp_tenant` : '';

  // read: a scan sees exactly the tenant's own rows.
  const scanSql = `select ${rowKeySql} as tp_key${rowJson} from ${table.sql} t limit ${own.size + 50}`;
  const scanSent = probe<{ tp_key: string; tp_tenant?: string }>(run, as(acting), scanSql);
  judges.push(async () => {
    const scan = await scanSent;
    if (scan.ok && own.size > 0) {
      run.stats.ownRowsExpected = (run.stats.ownRowsExpected ?? 0) + 1;
      if (scan.rows.some((r) => own.has(r.tp_key))) run.stats.ownRowsSeen = (run.stats.ownRowsSeen ?? 0) + 1;
    }
    if (scan.ok) {
      const foreign = foreignRows(world, scan.rows, own, [a]);
      if (foreign.length > 0) {
        record(run, tableChecks, 'probe-read-scan', {
          table,
          acting,
          victim: ownerOf(world, foreign[0]!),
          statement: scanSql,
          observed: { rows: scan.rows.length, foreignRows: foreign.length, sample: foreign.slice(0, 3).map((k) => world.byKey.get(k)?.values ?? k) },
          expected: { rows: own.size, foreignRows: 0 },
          hinted: true,
        });
      }
    }
  });

  // aggregate: count, sum/avg/min/max and group by over the table equal the oracle computed from the world.
  const measure = table.columns.find(
    (c) => c.source.kind === 'fake' && ['int2', 'int4', 'int8'].includes(c.column.baseType) && !c.source.unique && !c.column.isArray,
  );
  const ownValues = measure ? ownRows(world, table.label, a).map((r) => r.values[measure.column.name]).filter((x): x is number => typeof x === 'number') : [];
  const measureSql = measure
    ? `, sum(t.${quoteIdent(measure.column.name)})::text as tp_sum, min(t.${quoteIdent(measure.column.name)})::text as tp_min, max(t.${quoteIdent(measure.column.name)})::text as tp_max, round(avg(t.${quoteIdent(measure.column.name)}), 6)::text as tp_avg`
    : '';
  const groupSql = tenantCol
    ? `select t.${quoteIdent(tenantCol)}::text as tp_group, count(*)::int as tp_count${measureSql} from ${table.sql} t group by 1`
    : `select count(*)::int as tp_count${measureSql} from ${table.sql} t`;
  type AggregateRow = { tp_group?: string; tp_count: number; tp_sum?: string | null; tp_min?: string | null; tp_max?: string | null; tp_avg?: string | null };
  const groupsSent = probe<AggregateRow>(run, as(acting), groupSql);
  judges.push(async () => {
    const groups = await groupsSent;
    if (groups.ok) {
      // Rows the target made itself for this tenant during the run (seen by the scan) count as its own.
      const scan = await scanSent;
      const ownByTarget = scan.ok && tenantCol ? madeByTargetFor(world, scan.rows, [a]).size : 0;
      const ownGroup = (group: string | undefined) => group === ownRow?.values[tenantCol ?? '']?.toString() || group === world.tenantIds[a];
      const total = groups.rows.reduce((s, r) => s + r.tp_count, 0);
      const otherGroups = tenantCol ? groups.rows.filter((r) => !ownGroup(r.tp_group)) : [];
      const expected: AggregateRow = { tp_count: own.size + ownByTarget };
      let measureMismatch = false;
      if (measure && ownValues.length === own.size && ownByTarget === 0) {
        const sum = ownValues.reduce((x, y) => x + y, 0);
        Object.assign(expected, {
          tp_sum: own.size ? String(sum) : null,
          tp_min: own.size ? String(Math.min(...ownValues)) : null,
          tp_max: own.size ? String(Math.max(...ownValues)) : null,
        });
        const seen = groups.rows.find((r) => !tenantCol || ownGroup(r.tp_group));
        measureMismatch = (seen?.tp_sum ?? null) !== expected.tp_sum || (seen?.tp_min ?? null) !== expected.tp_min || (seen?.tp_max ?? null) !== expected.tp_max;
      }
      // Fewer rows than its own, and none of another tenant's: over-restricted, not a leak.
      if (otherGroups.length === 0 && total < expected.tp_count) {
        record(run, tableChecks, 'probe-aggregate-over-restricted', {
          table,
          acting,
          statement: groupSql,
          observed: groups.rows,
          expected: tenantCol ? [{ tp_group: acting, ...expected }] : [expected],
        });
      } else if (total !== expected.tp_count || otherGroups.length > 0 || measureMismatch) {
        record(run, tableChecks, 'probe-aggregate-table', {
          table,
          acting,
          victim: otherGroups[0]?.tp_group ?? victim,
          statement: groupSql,
          observed: groups.rows,
          expected: tenantCol ? [{ tp_group: acting, ...expected }] : [expected],
          hinted: true,
        });
      }
    }
  });

  probeJoins(run, table, a, judges);
  if (!victimRow) return;
  const target = rowPredicate(table, victimRow);

  // read: lookup of another tenant's row by its key.
  const lookupSql = `select ${rowKeySql} as tp_key from ${table.sql} t where ${target.sql}`;
  const lookupSent = probe<{ tp_key: string }>(run, as(acting), lookupSql, target.params, { id: 'probe-read-lookup', object: table.label });
  judges.push(async () => {
    const lookup = await lookupSent;
    if (lookup.ok && lookup.rows.length > 0) {
      record(run, tableChecks, 'probe-read-lookup', {
        table,
        acting,
        victim,
        statement: lookupSql,
        observed: { params: target.params, rows: lookup.rows.length, row: victimRow.values },
        expected: { rows: 0 },
        hinted: true,
      });
    }
  });

  // write: UPDATE and DELETE aimed at another tenant's row (the row count shows what was touched).
  const touch = touchColumn(table);
  const foreignWrites: readonly { id: TableProbeId; sql: string; counted: string }[] = [
    ...(touch ? [{ id: 'probe-write-update-foreign' as const, sql: `update ${table.sql} t set ${quoteIdent(touch)} = t.${quoteIdent(touch)} where ${target.sql}`, counted: 'rowsUpdated' }] : []),
    { id: 'probe-write-delete-foreign', sql: `delete from ${table.sql} t where ${target.sql}`, counted: 'rowsDeleted' },
  ];
  for (const write of foreignWrites) {
    const sent = probe(run, as(acting), write.sql, target.params, { id: write.id, object: table.label });
    judges.push(async () => {
      const outcome = await sent;
      if (!outcome.ok || outcome.rowCount === 0) return;
      record(run, tableChecks, write.id, {
        table,
        acting,
        victim,
        statement: write.sql,
        observed: { params: target.params, [write.counted]: outcome.rowCount },
        expected: { [write.counted]: 0 },
        hinted: true,
      });
    });
  }

  if (!ownRow) return;
  probeBlindWrites(run, table, a, ownRow, own.size, judges);
  const spec = { picks: [], cells: [] };
  const copyOf = (row: StoredRow, tenantId: string, parents: (fk: number) => StoredRow | null) => {
    const ordinal = nextOrdinal();
    // Reuse the stored row's own values for fake columns, freshened where unique.
    const cells = fakeCellsOf(table, row);
    return rowValues(table, { ...spec, cells }, { tenantId, ordinal, bases: run.bases, parent: parents });
  };
  const parentOf = (row: StoredRow) => (fk: number) => parentRowOf(world, table, row, fk);

  // write: INSERT a row carrying another tenant's id.
  if (tenantCol) {
    const values = copyOf(victimRow, victim, parentOf(victimRow));
    const sql = insertSql(table, 1, false);
    const insertedSent = probe(run, as(acting), sql, values, { id: 'probe-write-insert-foreign', object: table.label });
    judges.push(async () => {
      const inserted = await insertedSent;
      if (inserted.ok) {
        record(run, tableChecks, 'probe-write-insert-foreign', {
          table,
          acting,
          victim,
          statement: sql,
          observed: { params: values, inserted: inserted.rowCount },
          expected: 'an error (new row violates row-level security policy)',
          hinted: true,
        });
      }
    });
    // write: UPDATE one's own rows into another tenant. No WHERE: a WHERE clause would make
    // PostgreSQL apply the SELECT policy to the new row too, hiding an UPDATE policy without
    // WITH CHECK; foreign keys from child rows would refuse the move for other reasons.
    const moveSql = `update ${table.sql} set ${quoteIdent(tenantCol)} = $1::${table.columns.find((c) => c.source.kind === 'tenant')?.column.type ?? 'text'}`;
    const movedSent = probeWithoutTriggers(run, as(acting), moveSql, [victim], { id: 'probe-write-move-to-foreign', object: table.label });
    judges.push(async () => {
      const moved = await movedSent;
      if (moved.ok && moved.rowCount > 0) {
        record(run, tableChecks, 'probe-write-move-to-foreign', {
          table,
          acting,
          victim,
          statement: moveSql,
          observed: { params: [victim], rowsMoved: moved.rowCount },
          expected: 'an error (new row violates row-level security policy)',
          hinted: true,
        });
      }
    });
  }

  // write: reference another tenant's parent row through each foreign key to a scoped table.
  for (const [fk, parent] of table.parents.entries()) {
    const parentPlan = world.plan.tables.find((t) => t.label === parent.parent);
    if (parentPlan?.role !== 'scoped') continue;
    const { columns, referencedColumns } = parent.foreignKey;
    // A key that carries the tenant on both sides can only reference the tenant's own rows.
    const tenantAt = tenantCol ? columns.indexOf(tenantCol) : -1;
    if (tenantAt >= 0 && referencedColumns[tenantAt] === parentPlan.tenantColumn) continue;
    // A victim parent whose key also names one of the acting tenant's parents is no crossing.
    const keyOf = (r: StoredRow) => JSON.stringify(referencedColumns.map((c) => toParam(r.values[c])));
    const ownParentKeys = new Set(ownRows(world, parent.parent, a).map(keyOf));
    const victimParent = ownRows(world, parent.parent, v).find((r) => !ownParentKeys.has(keyOf(r)));
    if (!victimParent) continue;
    const values = copyOf(ownRow, acting, (i) => (i === fk ? victimParent : parentRowOf(world, table, ownRow, i)));
    const sql = insertSql(table, 1, false);
    const insertedSent = probe(run, as(acting), sql, values, { id: 'probe-write-foreign-parent', object: table.label });
    judges.push(async () => {
      const inserted = await insertedSent;
      if (inserted.ok) {
        record(run, tableChecks, 'probe-write-foreign-parent', {
          table,
          acting,
          victim,
          statement: sql,
          observed: { params: values, foreignKey: parent.foreignKey.name, parentRow: victimParent.values },
          expected: 'an error (foreign key or row-level security violation)',
          vars: {
            parent: parent.parent,
            foreignKey: parent.foreignKey.name,
            tenantColumn: run.target.tenantColumn,
            tenantKey: [tenantCol ?? run.target.tenantColumn, ...parent.foreignKey.columns].join(', '),
          },
        });
      }
    });
  }

  // existence: a unique key without the tenant column tells one tenant what another has.
  for (const key of table.globalUniqueKeys) {
    const values = copyOf(ownRow, acting, parentOf(ownRow));
    for (const col of key) {
      const at = table.columns.findIndex((c) => c.column.name === col);
      if (at >= 0) values[at] = paramOf(table.columns[at]!.column, victimRow.values[col]);
    }
    const sql = insertSql(table, 1, false);
    const insertedSent = probe(run, as(acting), sql, values, { id: 'probe-existence-unique', object: table.label });
    judges.push(async () => {
      const inserted = await insertedSent;
      if (!inserted.ok && inserted.code === '23505') {
        record(run, tableChecks, 'probe-existence-unique', {
          table,
          acting,
          victim,
          statement: sql,
          observed: { params: values, error: inserted.message },
          expected: 'the insert succeeds (values only need to be unique within a tenant)',
          vars: { key: key.join(', '), tenantKey: [tenantCol ?? run.target.tenantColumn, ...key].join(', ') },
        });
      }
    });
  }
}

/** TRUNCATE ignores row level security: a tenant that may truncate empties every tenant's rows. */
function probeTruncate(run: ProbeRun, table: TablePlan, judges: Judge[]): void {
  const { world } = run;
  const acting = world.tenants[0]!;
  const sql = `truncate ${table.sql}`;
  const sent = probe(run, as(acting), sql);
  judges.push(async () => {
    const outcome = await sent;
    let observed: unknown = { foreignRowsRemoved: (world.rows.get(table.label) ?? []).filter((r) => r.tenant !== 0).length };
    if (!outcome.ok) {
      // Refused only because other tables reference this one? Then the privilege is still there
      // (TRUNCATE … CASCADE, or after the referencing rows go): ask the privilege system.
      if (outcome.code !== '0A000') return;
      const granted = await probe<{ ok: boolean }>(run, as(acting), `select has_table_privilege(current_user, '${table.sql.replaceAll("'", "''")}', 'TRUNCATE') as ok`);
      if (!granted.ok || !granted.rows[0]?.ok) return;
      observed = { truncate: outcome.message, truncatePrivilege: true };
    }
    record(run, tableChecks, 'probe-write-truncate', {
      table,
      acting,
      victim: world.tenants[1],
      statement: sql,
      observed,
      expected: 'permission denied',
  });
  });
}

/**
 * Non-interference for views and zero-argument functions: what `tenant` sees through them must
 * not change when every other tenant's rows are removed.
 */
async function probeNonInterference(run: ProbeRun, a: number): Promise<void> {
  const { world, tx } = run;
  const acting = world.tenants[a]!;
  const objects = [
    ...run.catalog.views.map((o) => ({ ...o, kind: 'view' as const, sql: `select * from ${o.sql}` })),
    ...run.catalog.functions.map((o) => ({ ...o, kind: 'function' as const, sql: `select * from ${o.sql}` })),
  ];
  const before = new Map<string, string>();
  for (const o of objects) {
    const r = await probe(run, as(acting), o.sql);
    if (r.ok) before.set(o.label, resultFingerprint(r.rows));
  }
  if (before.size === 0) return;
  await inRolledBackSavepoint(tx, async () => {
    const removable = [...world.plan.tables].reverse().filter((t) => t.role !== 'global');
    for (let v = 0; v < world.tenants.length; v++) {
      if (v === a) continue;
      await tx.query(tenantSettingSql(run.target, world.tenants[v]!));
      for (const table of removable) {
        const keys = (world.rows.get(table.label) ?? []).filter((r) => r.tenant === v).map((r) => r.key);
        if (keys.length === 0) continue;
        const removed = await attempt(tx, `delete from ${table.sql} t where (${rowKeySql}) = any($1::text[])`, [keys]);
        if (!removed.ok) return; // cannot remove the other tenants cleanly: no verdict this run
      }
    }
    for (const o of objects) {
      const was = before.get(o.label);
      if (was === undefined) continue;
      const r = await probe(run, as(acting), o.sql);
      if (!r.ok) continue;
      const now = resultFingerprint(r.rows);
      if (now === was) continue;
      record(run, tableChecks, o.kind === 'view' ? 'probe-aggregate-view' : 'probe-aggregate-function', {
        table: o.label,
        acting,
        victim: world.tenants.find((_, i) => i !== a),
        statement: o.sql,
        observed: { withOtherTenants: was.split('\n').slice(0, 5), withoutOtherTenants: now.split('\n').slice(0, 5) },
        expected: 'the same result with or without other tenants\' rows',
      });
    }
  });
}

/**
 * Blind writes: UPDATE and DELETE with no WHERE and no RETURNING read no column, so only the
 * UPDATE/DELETE policies apply (SELECT policies do not): an open DELETE or UPDATE policy shows
 * here even when the SELECT policy is tight. More rows touched than the tenant owns is a leak.
 */
function probeBlindWrites(run: ProbeRun, table: TablePlan, a: number, ownRow: StoredRow, ownCount: number, judges: Judge[]): void {
  const { world } = run;
  const acting = world.tenants[a]!;
  const judge = (verb: 'DELETE' | 'UPDATE', statement: string, sent: Promise<Outcome<Record<string, unknown>>>, params?: readonly unknown[]) =>
    judges.push(async () => {
      const outcome = await sent;
      if (!outcome.ok || outcome.rowCount <= ownCount) return;
      const counted = verb === 'DELETE' ? 'rowsDeleted' : 'rowsUpdated';
      record(run, tableChecks, verb === 'DELETE' ? 'probe-write-delete-foreign' : 'probe-write-update-foreign', {
        table,
        acting,
        victim: world.tenants[(a + 1) % world.tenants.length],
        statement,
        observed: { ...(params ? { params } : {}), [counted]: outcome.rowCount },
        expected: { [counted]: ownCount },
        hinted: true,
      });
    });
  const deleteSql = `delete from ${table.sql}`;
  judge('DELETE', deleteSql, probeWithoutTriggers(run, as(acting), deleteSql, [], { id: 'probe-write-delete-foreign', object: table.label }));
  const plain = table.columns.find((c) => c.source.kind === 'fake' && !c.source.unique && !(table.key ?? []).includes(c.column.name));
  if (!plain) return;
  const updateSql = `update ${table.sql} set ${quoteIdent(plain.column.name)} = $1::${plain.column.type}`;
  const params = [paramOf(plain.column, ownRow.values[plain.column.name])];
  judge('UPDATE', updateSql, probe(run, as(acting), updateSql, params, { id: 'probe-write-update-foreign', object: table.label }), params);
}

/** Joins across tables along each foreign key to a tenant-scoped parent: both sides own rows only. */
function probeJoins(run: ProbeRun, table: TablePlan, a: number, judges: Judge[]): void {
  const { world } = run;
  const acting = world.tenants[a]!;
  for (const parent of table.parents) {
    const parentPlan = world.plan.tables.find((t) => t.label === parent.parent);
    if (parentPlan?.role !== 'scoped') continue;
    const on = parent.foreignKey.columns.map((c, i) => `c.${quoteIdent(c)} = p.${quoteIdent(parent.foreignKey.referencedColumns[i]!)}`).join(' and ');
    const ownChild = visibleKeys(world, table.label, [a]);
    const ownParent = visibleKeys(world, parent.parent, [a]);
    const sql =
      `select c.tableoid::int::text || ':' || c.ctid::text as tp_child, p.tableoid::int::text || ':' || p.ctid::text as tp_parent ` +
      `from ${table.sql} c join ${parentPlan.sql} p on ${on} limit ${ownChild.size + 50}`;
    const joinedSent = probe<{ tp_child: string; tp_parent: string }>(run, as(acting), sql);
    judges.push(async () => {
      const joined = await joinedSent;
      if (!joined.ok) return;
      const crossing = joined.rows.filter((r) => !ownChild.has(r.tp_child) || !ownParent.has(r.tp_parent));
      if (crossing.length === 0) return;
      // The victim: the owner of the first foreign row in the world's order, not the scan's.
      const [first] = inWorldOrder(world, crossing.map((r) => (ownChild.has(r.tp_child) ? r.tp_parent : r.tp_child)));
      record(run, tableChecks, 'probe-read-join', {
        table,
        acting,
        victim: ownerOf(world, first!),
        statement: sql,
        observed: { rows: joined.rows.length, crossing: crossing.length },
        expected: { crossing: 0 },
        vars: { parent: parent.parent },
        hinted: true,
    });
    });
  }
}
