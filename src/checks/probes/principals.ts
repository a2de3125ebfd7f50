/**
 * Probes of principals (the rls model with a context template): the two-tenant member, the member
 * of nothing, the anonymous principal, users in user-keyed tables, shared tables, and the
 * membership table itself. The oracle: a principal reads and changes exactly the rows of its
 * tenants plus its own rows in user-keyed tables; the anonymous principal none; seeing fewer rows
 * than one's own is over-restricted (info), never a leak.
 */
import type { PrincipalCatalog } from '../../catalog/principals.ts';
import { enterPrincipalContextSql, type PrincipalContext } from '../../models/rls.ts';
import { quoteIdent, quoteLiteral } from '../../target/connection.ts';
import { principalUserId } from '../../target/contexts.ts';
import type { TablePlan } from '../../world/plan.ts';
import { insertRowSql, type UserPrincipal, type WorldPrincipals } from '../../world/principals.ts';
import { probedTables, rowKeySql } from '../../world/write.ts';
import { defineProbeChecks } from './define.ts';
import { foreignRows, inWorldOrder, ownerOf, visibleKeys } from './oracle.ts';
import { judgeActed, record, type ProbeFor, type ProbeRun } from './probe-run.ts';
import { tableChecks } from './rls.ts';
import type { Outcome } from './session.ts';

/** The checks of the principal probes below (a multi-tenant member's leak is the rls model's `probe-read-scan`). */
export const principalChecks = defineProbeChecks({
  'probe-principal-nonmember-read': {
    title: "A user of no tenant reads tenants' rows",
    finding: "A user of no tenant reads tenants' rows of {object}",
    severity: 'critical',
    leakClass: 'read',
    leak: true,
    cwe: 'CWE-863',
    models: ['rls'],
    description: 'As a signed-in user with no membership (through the context template: `--preset`, `--membership-table`), scan each tenant-scoped table: it must see no row. Policies that treat a missing membership as NULL and NULL as true (coalesce(…, true), NOT EXISTS over the other tenants) fail here.',
    remediation: 'The policy on {object} must admit a row only when the caller is a member of its tenant: `{tenantColumn} in (select … from memberships where user_id = <the caller>)`; a user without membership must match nothing (no coalesce to true, no NOT EXISTS).',
  },
  'probe-principal-anonymous-read': {
    title: "The anonymous principal reads tenants' or users' rows",
    finding: "The anonymous principal reads rows of {object}",
    severity: 'critical',
    leakClass: 'read',
    leak: true,
    cwe: 'CWE-306',
    models: ['rls'],
    description: "As the anonymous principal of the convention (Supabase: role anon with an anon JWT), scan each tenant-scoped and user-keyed table: it must see no row of any tenant or user.",
    remediation: 'Drop the policy that admits {anonRole} on {object} (or make it `to authenticated`), and revoke the table privileges {anonRole} does not need: REVOKE ALL ON {object} FROM {anonRole}.',
  },
  'probe-principal-user-row-read': {
    title: "A user reads other users' rows of a user-keyed table",
    finding: "A user reads other users' rows of {object}",
    severity: 'critical',
    leakClass: 'read',
    leak: true,
    cwe: 'CWE-639',
    models: ['rls'],
    description: "Tables keyed by the user (a foreign key to the users table: profiles, settings) hold one row per principal of the world; as each user, a scan must see only rows whose user column is the caller.",
    remediation: 'The SELECT policy on {object} must compare {userColumn} with the caller: `{userColumn} = (select auth.uid())` (or the convention\'s user id), never a comparison of the caller with itself.',
  },
  'probe-principal-user-row-write': {
    title: "A user changes other users' rows of a user-keyed table",
    finding: "A user updates or deletes other users' rows of {object}",
    severity: 'critical',
    leakClass: 'write',
    leak: true,
    cwe: 'CWE-639',
    models: ['rls'],
    description: "As a user, UPDATE and DELETE the rows of a user-keyed table whose user column is another user: no row may be touched.",
    remediation: 'The UPDATE and DELETE policies on {object} must check `{userColumn} = <the caller>` in USING (and WITH CHECK for UPDATE).',
  },
  'probe-principal-shared-write': {
    title: 'A principal writes into a table every tenant shares',
    finding: 'A principal writes into shared table {object}, which every tenant reads',
    severity: 'high',
    leakClass: 'write',
    leak: false,
    cwe: 'CWE-284',
    models: ['rls'],
    description: "Tables with neither a tenant nor a user key (a price list) are shared by design and never flagged for being read; a principal able to UPDATE or DELETE their rows changes what every tenant reads.",
    remediation: 'REVOKE INSERT, UPDATE, DELETE ON {object} FROM {appRole} (and PUBLIC), or give it only a SELECT policy; shared tables are written by migrations or an admin role.',
  },
  'probe-membership-self-add': {
    title: 'A user adds itself to another tenant',
    finding: 'A user adds itself to another tenant through {object}',
    severity: 'critical',
    leakClass: 'write',
    leak: false,
    cwe: 'CWE-269',
    models: ['rls'],
    description: "As the user of one tenant, INSERT a membership of its own into another tenant: it must be refused (the next query would read the whole tenant).",
    remediation: "The INSERT policy on {object} must require the caller to manage the target tenant (e.g. `{tenantColumn} in (select … where role = 'owner')`), not just `user_id = <the caller>`.",
  },
  'probe-membership-role-raise': {
    title: 'A user raises its own role in its tenant',
    finding: 'A user raises its own role in {object}',
    severity: 'high',
    leakClass: 'write',
    leak: false,
    cwe: 'CWE-269',
    models: ['rls'],
    description: "As a plain member, UPDATE its own membership row's role column to a higher role (owner/admin): it must touch no row.",
    remediation: 'The UPDATE policy on {object} must not let a member update its own membership (or must fix {roleColumn} in WITH CHECK); only owners change roles.',
  },
  'probe-principal-over-restricted': {
    title: "A member of several tenants sees fewer rows than its tenants'",
    finding: "A member of several tenants sees fewer rows of {object} than its tenants own",
    severity: 'info',
    leakClass: 'read',
    leak: false,
    cwe: 'CWE-285',
    models: ['rls'],
    description: "A user belonging to two tenants must see the rows of both. Fewer (or an error such as 'more than one row returned by a subquery') crosses no boundary: it is reported for information, never as a leak.",
    remediation: 'The policy on {object} assumes one tenant per user (a scalar subquery or `= (select …)`): compare with `in (select …)` so members of several tenants see each of them.',
  },
});

type Judge = () => Promise<void> | void;

/** The principals a run acts as besides each tenant's own user. */
export interface PrincipalRun {
  readonly catalog: PrincipalCatalog;
  readonly principals: WorldPrincipals;
}

function contextOf(run: ProbeRun, p: UserPrincipal): PrincipalContext {
  const tenant = p.tenants[0] !== undefined ? run.world.tenantIds[p.tenants[0]]! : null;
  const other = tenant === null ? null : (run.target.context?.resolved?.others.get(tenant) ?? null);
  return { kind: 'principal', values: { user: p.user, tenant, role: run.target.context?.role ?? run.target.appRole, other } };
}

function anonymousContext(run: ProbeRun): PrincipalContext {
  return { kind: 'principal', anonymous: true, values: { user: null, tenant: null, role: run.target.context?.anonymous?.role ?? run.target.appRole } };
}

function probeAs<R extends object = Record<string, unknown>>(run: ProbeRun, context: PrincipalContext, sql: string, values?: readonly unknown[], about?: ProbeFor): Promise<Outcome<R>> {
  run.stats.probes += 1;
  const sent = run.session.probe<R>(enterPrincipalContextSql(run.target, context), sql, values).then((o) => judgeActed(run, about, o));
  sent.catch(() => undefined);
  return sent;
}

/** A column to `set c = c` (any written, non-key column), or the first column. */
function touchable(columns: readonly { readonly name: string; readonly generated: boolean; readonly identity: string }[], avoid: readonly string[] = []): string | null {
  return (columns.find((c) => !c.generated && c.identity !== 'a' && !avoid.includes(c.name)) ?? columns.find((c) => !c.generated && c.identity !== 'a'))?.name ?? null;
}

/** Every principal probe of one world. */
export async function runPrincipalProbes(run: ProbeRun, pr: PrincipalRun): Promise<void> {
  const { world } = run;
  const { principals, catalog } = pr;
  const judges: Judge[] = [];
  // A sampled world (definition classes) probes the tables it wrote for that, as the rls probes do.
  const scoped = probedTables(world, run.probeTables);
  for (const table of scoped) {
    if (principals.multi) probeMultiMember(run, table, principals.multi, judges);
    if (principals.nobody) probeNobody(run, table, principals.nobody, judges);
    if (run.target.context?.anonymous) probeAnonymous(run, table.label, table.sql, judges);
  }
  const me = principals.byTenant[0];
  for (const table of catalog.userKeyed) {
    const rows = principals.userRows.get(table.label);
    if (!rows || 'skipped' in rows) {
      run.couldNotAct(table.label, 'probe-principal-user-row-read', `no row could be written for the world's users: ${rows && 'skipped' in rows ? rows.skipped : 'unknown reason'}`);
      continue;
    }
    if (me) probeUserKeyed(run, pr, table, me, judges);
    if (run.target.context?.anonymous) probeAnonymous(run, table.label, table.sql, judges);
  }
  if (me) for (const table of principals.sharedWithRows) probeShared(run, table, me, judges);
  if (catalog.membership && me && world.tenants.length >= 2) probeMembership(run, catalog, principals, me, judges);
  for (const judge of judges) await judge();
}

function probeMultiMember(run: ProbeRun, table: TablePlan, p: UserPrincipal, judges: Judge[]): void {
  const { world } = run;
  const tenantCol = table.tenantColumn;
  const allowed = visibleKeys(world, table.label, p.tenants);
  const sql = `select ${rowKeySql} as tp_key${tenantCol ? `, t.${quoteIdent(tenantCol)}::text as tp_tenant` : ''} from ${table.sql} t limit ${allowed.size + 50}`;
  const sent = probeAs<{ tp_key: string; tp_tenant?: string }>(run, contextOf(run, p), sql);
  judges.push(async () => {
    const scan = await sent;
    const foreign = scan.ok ? foreignRows(world, scan.rows, allowed, p.tenants) : [];
    if (foreign.length > 0) {
      record(run, tableChecks, 'probe-read-scan', {
        table,
        acting: p.label,
        victim: ownerOf(world, foreign[0]!),
        statement: sql,
        observed: { principal: p.user, memberOf: p.tenants.map((t) => world.tenants[t]), rows: scan.ok ? scan.rows.length : 0, foreignRows: foreign.length },
        expected: { rows: allowed.size, foreignRows: 0 },
        hinted: true,
      });
      return;
    }
    const seen = scan.ok ? scan.rows.filter((r) => allowed.has(r.tp_key)).length : 0;
    if (seen < allowed.size) {
      record(run, principalChecks, 'probe-principal-over-restricted', {
        table,
        acting: p.label,
        statement: sql,
        observed: scan.ok ? { principal: p.user, rows: seen } : { principal: p.user, error: scan.message },
        expected: { rows: allowed.size },
      });
    }
  });
}

function probeNobody(run: ProbeRun, table: TablePlan, p: UserPrincipal, judges: Judge[]): void {
  const { world } = run;
  const sql = `select ${rowKeySql} as tp_key from ${table.sql} t limit 50`;
  const sent = probeAs<{ tp_key: string }>(run, contextOf(run, p), sql);
  judges.push(async () => {
    const scan = await sent;
    if (!scan.ok || scan.rows.length === 0) return;
    record(run, principalChecks, 'probe-principal-nonmember-read', {
      table,
      acting: p.label,
      victim: ownerOf(world, inWorldOrder(world, scan.rows.map((r) => r.tp_key))[0]!),
      statement: sql,
      observed: { principal: p.user, memberships: 0, rows: scan.rows.length },
      expected: { rows: 0 },
      vars: { tenantColumn: table.tenantColumn ?? run.target.tenantColumn },
      hinted: true,
    });
  });
}

function probeAnonymous(run: ProbeRun, label: string, tableSql: string, judges: Judge[]): void {
  const sql = `select count(*)::int as n from ${tableSql} t`;
  const sent = probeAs<{ n: number }>(run, anonymousContext(run), sql);
  judges.push(async () => {
    const counted = await sent;
    const n = counted.ok ? (counted.rows[0]?.n ?? 0) : 0;
    if (n === 0) return;
    const anonRole = run.target.context?.anonymous?.role ?? run.target.appRole;
    const table = run.world.plan.tables.find((t) => t.label === label) ?? label;
    record(run, principalChecks, 'probe-principal-anonymous-read', {
      table,
      acting: `anonymous (${anonRole})`,
      statement: sql,
      observed: { role: anonRole, rows: n },
      expected: { rows: 0 },
      vars: { anonRole },
      hinted: typeof table !== 'string',
    });
  });
}

function probeUserKeyed(run: ProbeRun, pr: PrincipalRun, table: PrincipalCatalog['userKeyed'][number], me: UserPrincipal, judges: Judge[]): void {
  const col = quoteIdent(table.userColumn.name);
  const ctx = contextOf(run, me);
  const readSql = `select t.${col}::text as tp_user from ${table.sql} t limit 100`;
  const readSent = probeAs<{ tp_user: string | null }>(run, ctx, readSql);
  const vars = { userColumn: table.userColumn.name };
  judges.push(async () => {
    const scan = await readSent;
    if (!scan.ok) return;
    const others = scan.rows.filter((r) => r.tp_user !== me.user);
    if (others.length === 0) return;
    record(run, principalChecks, 'probe-principal-user-row-read', {
      table: table.label,
      acting: me.label,
      statement: readSql,
      observed: { principal: me.user, rows: scan.rows.length, otherUsersRows: others.length, otherUsers: [...new Set(others.map((r) => r.tp_user))].slice(0, 3) },
      expected: { otherUsersRows: 0 },
      vars,
    });
  });
  // Blind writes (no WHERE, no column read): only the UPDATE/DELETE policies apply, not the SELECT
  // policy; more rows touched than the user's own is a leak.
  const own = (() => {
    const rows = (pr.principals.userRows.get(table.label) as { perUser?: ReadonlyMap<string, number> } | undefined);
    return rows?.perUser?.get(me.user) ?? 0;
  })();
  const touch = touchable(table.relation.columns.filter((c) => !c.notNull || c.defaultExpr !== null), [table.userColumn.name, ...(table.relation.primaryKey ?? [])]);
  const writes = [...(touch ? [`update ${table.sql} set ${quoteIdent(touch)} = default`] : []), `delete from ${table.sql}`];
  for (const sql of writes) {
    const sent = probeAs(run, ctx, sql, [], { id: 'probe-principal-user-row-write', object: table.label });
    judges.push(async () => {
      const outcome = await sent;
      if (!outcome.ok || outcome.rowCount <= own) return;
      record(run, principalChecks, 'probe-principal-user-row-write', {
        table: table.label,
        acting: me.label,
        statement: sql,
        observed: { principal: me.user, rowsTouched: outcome.rowCount },
        expected: { rowsTouched: own },
        vars,
      });
    });
  }
}

function probeShared(run: ProbeRun, table: PrincipalCatalog['shared'][number], me: UserPrincipal, judges: Judge[]): void {
  const touch = touchable(table.relation.columns, table.relation.primaryKey ?? []);
  let insert: string[] = [];
  try {
    insert = [insertRowSql(table, {}).replace(/ returning .*$/, '')];
  } catch {
    // a required column tenantproof cannot fill: UPDATE and DELETE still probe it
  }
  const writes = [...insert, ...(touch ? [`update ${table.sql} t set ${quoteIdent(touch)} = t.${quoteIdent(touch)}`] : []), `delete from ${table.sql}`];
  for (const sql of writes) {
    const sent = probeAs(run, contextOf(run, me), sql, [], { id: 'probe-principal-shared-write', object: table.label });
    judges.push(async () => {
      const outcome = await sent;
      if (!outcome.ok || outcome.rowCount === 0) return;
      record(run, principalChecks, 'probe-principal-shared-write', {
        table: table.label,
        acting: me.label,
        statement: sql,
        observed: { principal: me.user, [sql.startsWith('insert') ? 'rowsInserted' : 'rowsTouched']: outcome.rowCount },
        expected: 'refused, or no row touched (shared tables are read-only to principals)',
      });
    });
  }
}

function probeMembership(run: ProbeRun, catalog: PrincipalCatalog, principals: WorldPrincipals, me: UserPrincipal, judges: Judge[]): void {
  const m = catalog.membership!;
  const { world } = run;
  const ctx = contextOf(run, me);
  const victim = world.tenantIds[1]!;
  // A membership of its own in another tenant (every other column at its default; a sequence
  // column gets a value of its own, so no sequence advances).
  const tenantType = m.relation.columns.find((c) => c.name === m.tenantColumn)?.type ?? 'text';
  const given: [string, string][] = [
    [quoteIdent(m.userColumn.name), `${quoteLiteral(me.user)}::${m.userColumn.type}`],
    [quoteIdent(m.tenantColumn), `${quoteLiteral(victim)}::${tenantType}`],
  ];
  for (const c of m.relation.columns) {
    if (c.name === m.userColumn.name || c.name === m.tenantColumn || c.generated) continue;
    if (c.identity !== '' || (c.defaultExpr ?? '').includes('nextval(')) given.push([quoteIdent(c.name), `${quoteLiteral(principalUserId(`seq:${me.user}:${victim}`, c.baseType))}::${c.type}`]);
  }
  const overriding = m.relation.columns.some((c) => c.identity === 'a') ? ' overriding system value' : '';
  const insertSql = `insert into ${m.sql} (${given.map(([c]) => c).join(', ')})${overriding} values (${given.map(([, v]) => v).join(', ')})`;
  const inserted = probeAs(run, ctx, insertSql, [], { id: 'probe-membership-self-add', object: m.label });
  judges.push(async () => {
    const outcome = await inserted;
    if (!outcome.ok) return;
    record(run, principalChecks, 'probe-membership-self-add', {
      table: m.label,
      acting: me.label,
      victim: world.tenants[1],
      statement: insertSql,
      observed: { principal: me.user, insertedInto: victim },
      expected: 'refused (row-level security or privilege)',
      vars: { tenantColumn: m.tenantColumn },
    });
  });
  const roles = principals.roles;
  if (!m.roleColumn || !roles) return;
  const roleCol = m.roleColumn;
  const updateSql =
    `update ${m.sql} t set ${quoteIdent(roleCol.name)} = ${quoteLiteral(roles.raised)}::${roleCol.type} ` +
    `where t.${quoteIdent(m.userColumn.name)} = ${quoteLiteral(me.user)}::${m.userColumn.type} and t.${quoteIdent(m.tenantColumn)} = ${quoteLiteral(world.tenantIds[0]!)}::${tenantType}`;
  const raised = probeAs(run, ctx, updateSql, [], { id: 'probe-membership-role-raise', object: m.label });
  judges.push(async () => {
    const outcome = await raised;
    if (!outcome.ok || outcome.rowCount === 0) return;
    record(run, principalChecks, 'probe-membership-role-raise', {
      table: m.label,
      acting: me.label,
      statement: updateSql,
      observed: { principal: me.user, from: roles.member, to: roles.raised, rowsUpdated: outcome.rowCount },
      expected: { rowsUpdated: 0 },
      vars: { roleColumn: roleCol.name },
    });
  });
}
