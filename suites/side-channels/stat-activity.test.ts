/**
 * Other sessions' query text. pg_stat_activity shows a session's current (or last) statement to
 * every role that has the privileges of the session's role. In the pooled rls model every tenant's
 * requests run as the same app role, so one tenant's session reads the statements — and their
 * literals — of another tenant's sessions, on every database of the cluster.
 *
 * What closes it (measured below): revoking EXECUTE on both pg_stat_get_activity(integer) and
 * pg_stat_get_backend_activity(integer) from PUBLIC — in every database the app role can connect
 * to; revoking SELECT on the view alone does not. Or one role per tenant.
 */
import { describe, expect, test } from 'vitest';
import { quoteIdent, type Queryable } from '../../src/index.ts';
import { evidence, openLab, ruleFindings, tenants, type Lab, type Session } from './harness.ts';

/** What tenant B's request said, literal included: an email address of one of B's customers. */
const literalOfB = 'ceo@globex.example';

/** The ways a session can read another backend's statement text. */
const readers = {
  view: 'select query from pg_stat_activity where pid = $1',
  function: 'select query from pg_stat_get_activity($1)',
  backendFunction: 'select pg_stat_get_backend_activity(i) as query from pg_stat_get_backend_idset() i where pg_stat_get_backend_pid(i) = $1',
} as const;
type Reader = keyof typeof readers;

/** Per reader: the statement text A sees for B's backend, or the error it gets. */
async function whatASees(a: Queryable, pidOfB: number): Promise<Record<Reader, string>> {
  const out = {} as Record<Reader, string>;
  for (const [name, sql] of Object.entries(readers) as [Reader, string][]) {
    out[name] = await a.query<{ query: string | null }>(sql, [pidOfB]).then(
      (r) => r.rows[0]?.query ?? '(no row)',
      (e: Error) => `error: ${e.message}`,
    );
  }
  return out;
}

/** Tenant B's pooled session: it ran a statement with a literal and sits idle in its transaction. */
async function sessionOfB(lab: Lab, role: string): Promise<Session> {
  const b = await lab.session(role);
  await b.query('begin');
  await b.query("select set_config('app.current_tenant', $1, true)", [tenants.b]);
  await b.query(`select count(*) from pg_class where relname = '${literalOfB}'`);
  return b;
}

const revealed = (seen: Record<Reader, string>) => (Object.keys(seen) as Reader[]).filter((k) => seen[k].includes(literalOfB));

describe('pg_stat_activity: other sessions\' statements', () => {
  test('red: a session of the shared app role (tenant A) reads the statement of another (tenant B), literal included, by all three readers', async () => {
    const lab = await openLab();
    await using _ = lab;
    const app = await lab.createRole('app');
    await using b = await sessionOfB(lab, app);
    await using a = await lab.session(app);
    const seen = await whatASees(a, b.pid);
    await evidence('what tenant A sees of B\'s session', seen);
    expect(revealed(seen)).toEqual(['view', 'function', 'backendFunction']);
    expect((await ruleFindings(lab, app, 'stat-activity-visible-to-app-role')).map((f) => f.object)).toEqual([`role ${app}`]);
  });

  test('not a mitigation: revoking SELECT on the view leaves the functions, and revoking pg_stat_get_activity leaves pg_stat_get_backend_activity', async () => {
    const lab = await openLab();
    await using _ = lab;
    const app = await lab.createRole('app');
    await using b = await sessionOfB(lab, app);
    await using a = await lab.session(app);
    await lab.admin('revoke select on pg_catalog.pg_stat_activity from public');
    const viewRevoked = await whatASees(a, b.pid);
    expect(viewRevoked.view).toMatch(/permission denied/);
    expect(revealed(viewRevoked)).toEqual(['function', 'backendFunction']);
    await lab.admin('grant select on pg_catalog.pg_stat_activity to public; revoke execute on function pg_catalog.pg_stat_get_activity(integer) from public');
    const activityRevoked = await whatASees(a, b.pid);
    await evidence('after each partial revoke', { viewRevoked, activityRevoked });
    expect(revealed(activityRevoked)).toEqual(['backendFunction']);
    expect((await ruleFindings(lab, app, 'stat-activity-visible-to-app-role')).map((f) => f.observed)).toEqual([
      expect.objectContaining({ executable: ['pg_stat_get_backend_activity(integer)'] }),
    ]);
  });

  test('green in this database: revoking both functions from PUBLIC hides B\'s statement from every reader — but not in another database the app role can connect to', async () => {
    const lab = await openLab();
    await using _ = lab;
    const app = await lab.createRole('app');
    const other = await lab.createDatabase('other');
    await lab.admin('revoke execute on function pg_catalog.pg_stat_get_activity(integer), pg_catalog.pg_stat_get_backend_activity(integer) from public');
    await using b = await sessionOfB(lab, app);
    await using a = await lab.session(app);
    const seen = await whatASees(a, b.pid);
    expect(revealed(seen), JSON.stringify(seen)).toEqual([]);
    for (const reader of Object.keys(seen) as Reader[]) expect(seen[reader]).toMatch(/permission denied/);
    // The revoke lives in this database's pg_proc; pg_stat_activity lists the whole cluster.
    await using elsewhere = await lab.session(app, other);
    const fromOther = await whatASees(elsewhere, b.pid);
    await evidence('after revoking both functions', { sameDatabase: seen, fromAnotherDatabase: fromOther });
    expect(revealed(fromOther)).toEqual(['view', 'function', 'backendFunction']);
    // The rule is silent here (it reads this database's grants) and says where else the revoke is needed when it fires.
    expect(await ruleFindings(lab, app, 'stat-activity-visible-to-app-role')).toEqual([]);
  });

  test("green: one role per tenant (schema and database models) — A's role sees '<insufficient privilege>'", async () => {
    const lab = await openLab();
    await using _ = lab;
    const roleA = await lab.createRole('t_a_role');
    const roleB = await lab.createRole('t_b_role');
    await using b = await sessionOfB(lab, roleB);
    await using a = await lab.session(roleA);
    const seen = await whatASees(a, b.pid);
    await evidence('what tenant A\'s role sees of B\'s session', seen);
    expect(revealed(seen)).toEqual([]);
    for (const reader of Object.keys(seen) as Reader[]) expect(seen[reader]).toBe('<insufficient privilege>');
    // The same holds until a tenant role is given pg_read_all_stats (which sees everyone's statements).
    await lab.admin(`grant pg_read_all_stats to ${quoteIdent(roleA)}`);
    expect(revealed(await whatASees(a, b.pid))).toEqual(['view', 'function', 'backendFunction']);
  });
});
