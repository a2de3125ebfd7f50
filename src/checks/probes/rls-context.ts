/**
 * The context probes of the rls model: every tenant-scoped table read, updated and written into
 * with the tenant setting missing or malformed (empty, whitespace, a wildcard, another tenant's id
 * in other case or padded, SQL injected, …). Each must see and change nothing beyond the rows of a
 * tenant whose id PostgreSQL takes as equal to the value.
 */
import { quoteIdent, quoteLiteral } from '../../target/connection.ts';
import { enterTenantSql } from '../../models/index.ts';
import { setSettingSql, type TenantContext } from '../../target/context.ts';
import type { TablePlan } from '../../world/plan.ts';
import { fakeCellsOf, insertSql, rowKeySql, rowValues } from '../../world/write.ts';
import { defineProbeChecks, type DeclaredProbeCheck } from './define.ts';
import { foreignRows, ownerOf, ownRows, visibleKeys } from './oracle.ts';
import { nextOrdinal, parentRowOf, probe, record, touchColumn, type Judge, type ProbeRun } from './probe-run.ts';
import type { Outcome } from './session.ts';

/**
 * The malformed or missing tenant contexts every rls table is probed with, in probe order: the
 * label, and how a sentence opens with it.
 */
const contexts = {
  'probe-context-no-context-set': ['no context set', 'Without a tenant context'],
  'probe-context-empty': ['empty', 'With an empty tenant setting'],
  'probe-context-whitespace': ['whitespace', 'With a whitespace-only tenant setting'],
  'probe-context-wildcard': ['wildcard', "With the tenant setting '%'"],
  'probe-context-null-like': ['NULL-like', "With the tenant setting 'null'"],
  'probe-context-star': ['star', "With the tenant setting '*'"],
  'probe-context-another-tenant-s-id-in-other-case': ["another tenant's id in other case", "With another tenant's id in other case as the tenant setting"],
  'probe-context-another-tenant-s-id-padded': ["another tenant's id padded", "With another tenant's id padded with spaces as the tenant setting"],
  'probe-context-injection': ['injection', 'With SQL injected into the tenant setting'],
  'probe-context-injection-comment': ['injection (comment)', 'With SQL injected into the tenant setting (ending in a comment)'],
} as const;

export type ContextProbeId = keyof typeof contexts;

const contextCheck = ([label, opening]: readonly [string, string]): DeclaredProbeCheck => ({
  title: `${opening}, a table fails open`,
  finding: `${opening}, {object} fails open`,
  severity: 'critical',
  leakClass: 'context',
  leak: true,
  cwe: 'CWE-636',
  models: ['rls'],
  description: `With the tenant setting ${label === 'no context set' ? 'left unset' : `set to a ${label} value`}, a scan, an UPDATE of every row and an INSERT for another tenant must see and change nothing beyond the rows of a tenant whose id is equal to the value.`,
  remediation: `The policy on {object} must fail closed: compare {tenantColumn} with current_setting('{setting}', true) strictly — no OR … = '' fallbacks, no coalesce/nullif to the column itself, no LIKE, no trimming or case folding, no SQL built from the setting.`,
});

/** One check per malformed context, in probe order. */
export const contextChecks = defineProbeChecks(
  Object.fromEntries(Object.entries(contexts).map(([id, words]) => [id, contextCheck(words)])) as Record<ContextProbeId, DeclaredProbeCheck>,
);

/** The context probes' ids and labels, in the order they run. */
export const contextProbes: readonly { readonly id: ContextProbeId; readonly label: string }[] = Object.entries(contexts).map(([id, [label]]) => ({
  id: id as ContextProbeId,
  label,
}));

/** Malformed or missing tenant contexts: each must see and write nothing (beyond an equal tenant's rows). */
export function contextValues(tenants: readonly string[]): { id: ContextProbeId; label: string; value: string | null }[] {
  const victim = tenants[0]!;
  const flipped = victim === victim.toUpperCase() ? victim.toLowerCase() : victim.toUpperCase();
  const values: Record<ContextProbeId, string | null> = {
    'probe-context-no-context-set': null,
    'probe-context-empty': '',
    'probe-context-whitespace': ' ',
    'probe-context-wildcard': '%',
    'probe-context-null-like': 'null',
    'probe-context-star': '*',
    'probe-context-another-tenant-s-id-in-other-case': flipped,
    'probe-context-another-tenant-s-id-padded': ` ${victim} `,
    'probe-context-injection': `' OR '1'='1`,
    'probe-context-injection-comment': `${victim}' OR true --`,
  };
  return contextProbes.map(({ id, label }) => ({ id, label, value: values[id] }));
}

export function probeContexts(run: ProbeRun, table: TablePlan, equalities: ReadonlyMap<string, number[]>, judges: Judge[]): void {
  const { world } = run;
  const tenantCol = table.tenantColumn;
  for (const { id, value } of contextValues(world.tenants)) {
    const equal = value === null ? [] : (equalities.get(value) ?? []);
    const allowed = visibleKeys(world, table.label, equal);
    const context: TenantContext = { kind: 'raw', value };
    const scanSql = `select ${rowKeySql} as tp_key${tenantCol ? `, t.${quoteIdent(tenantCol)}::text as tp_tenant` : ''} from ${table.sql} t limit ${allowed.size + 50}`;
    const scanSent = probe<{ tp_key: string; tp_tenant?: string }>(run, context, scanSql);
    const touch = touchColumn(table);
    const updateSql = touch ? `update ${table.sql} t set ${quoteIdent(touch)} = t.${quoteIdent(touch)}` : null;
    const updateSent = updateSql ? probe(run, context, updateSql) : null;
    let insertedSent: Promise<Outcome<Record<string, unknown>>> | null = null;
    let insertStatement = '';
    const victimRow = ownRows(world, table.label, 0)[0];
    if (tenantCol && victimRow && !equal.includes(0)) {
      const cells = fakeCellsOf(table, victimRow);
      const values = rowValues(table, { picks: [], cells }, {
        tenantId: world.tenants[0]!,
        ordinal: nextOrdinal(),
        bases: run.bases,
        parent: (fk) => parentRowOf(world, table, victimRow, fk),
      });
      insertStatement = insertSql(table, 1, false);
      insertedSent = probe(run, context, insertStatement, values);
    }
    judges.push(async () => {
      const scan = await scanSent;
      const seen = scan.ok ? foreignRows(world, scan.rows, allowed, equal) : [];
      const update = updateSent ? await updateSent : null;
      const written = update?.ok && update.rowCount > allowed.size ? [...Array(update.rowCount - allowed.size).keys()].map(String) : [];
      const inserted = insertedSent ? (await insertedSent).ok : false;
      if (seen.length === 0 && written.length === 0 && !inserted) return;
      const statement = seen.length > 0 ? scanSql : written.length > 0 ? updateSql! : insertStatement;
      record(run, contextChecks, id, {
        table,
        victim: seen[0] ? ownerOf(world, seen[0]) : world.tenants[0],
        // Pastes into psql as printed: the setting's value is a literal, never a quoted identifier.
        statement: run.target.context
          ? `${enterTenantSql(run.target, context)};\n${statement}`
          : `${value === null ? '-- tenant setting not set' : `${setSettingSql(run.target.tenantSetting, value)}`};\n${statement}`,
        observed: { context: value, rowsSeen: seen.length, rowsUpdated: written.length, insertedForAnotherTenant: inserted },
        expected: { rowsSeen: 0, rowsUpdated: 0, insertedForAnotherTenant: false },
        vars: { tenantColumn: tenantCol ?? 'the tenant' },
        hinted: true,
    });
    });
  }
}

const equalityCache = new Map<string, number[]>();

/**
 * For each context value: the world tenants equal to it under the tenant column's type
 * (PostgreSQL decides). One rolled-back savepoint per value (a value may not even cast), all sent
 * at once.
 */
export async function contextEqualities(run: ProbeRun): Promise<Map<string, number[]>> {
  const { world } = run;
  const idType = world.plan.tenantIdType;
  const tenants = `array[${world.tenants.map(quoteLiteral).join(', ')}]::text[]`;
  const pending: [string, Promise<number[]>][] = [];
  for (const { value } of contextValues(world.tenants)) {
    if (value === null) continue;
    const cacheKey = JSON.stringify([value, idType, world.tenants]);
    const cached = equalityCache.get(cacheKey);
    if (cached) {
      pending.push([value, Promise.resolve(cached)]);
      continue;
    }
    const sql = `select array_agg(u.i - 1)::int[] as i from unnest(${tenants}) with ordinality u(t, i) where u.t::${idType} = ${quoteLiteral(value)}::${idType}`;
    const sent = run.session.probe<{ i: number[] | null }>('', sql).then((outcome) => {
      const result = outcome.ok ? (outcome.rows[0]?.i ?? []) : [];
      if (equalityCache.size > 1_000) equalityCache.clear();
      equalityCache.set(cacheKey, result);
      return result;
    });
    pending.push([value, sent]);
  }
  const equalities = new Map<string, number[]>();
  for (const [value, sent] of pending) equalities.set(value, await sent);
  return equalities;
}
