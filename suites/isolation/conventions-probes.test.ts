/**
 * The probes in the conventions' own contexts (Supabase/PostgREST, role per tenant, PostGraphile):
 * every red case is found by the probes, no green case draws anything high or critical, and a
 * verification leaves no trace (catalog and row counts before and after are equal).
 */
import { describe, expect, test } from 'vitest';
import { atLeast, contextFrom, urlFor, verifyTarget, withClient, type ContextTemplateOptions, type Finding } from '../../src/index.ts';
import { expand } from '../catalog/apply-sql.ts';
import { conventionBases } from '../catalog/conventions.ts';
import { fixtureDatabase } from '../catalog/harness.ts';
import { conventionContexts, probeConventionCases } from './conventions-probes.ts';

const seed = Number(process.env.TENANTPROOF_SEED ?? 20261201);
const runs = Number(process.env.TENANTPROOF_RUNS ?? 3);

const describeAll = (findings: readonly Finding[]) => findings.map((f) => `${f.severity} ${f.checkId} ${f.object}: ${f.title} ${JSON.stringify(f.observed)}`).join('\n') || '(none)';

/** What a verification must leave as it found it: the catalog (relations, roles, policies) and every table's row count. */
async function snapshot(url: string, prefix: string): Promise<unknown> {
  return withClient(url, async (c) => {
    // Roles are cluster-wide and other suites create theirs concurrently: the fixture's own roles,
    // Supabase's, and every member of one of them (a per-tenant role tenantproof created is one).
    const catalog = await c.query(
      `with ours as (select oid, rolname from pg_roles where rolname like $1 or rolname in ('anon', 'authenticated', 'service_role'))
       select (select count(*)::int from pg_class) as relations,
              (select string_agg(rolname, ',' order by rolname) from pg_roles r
                where r.oid in (select oid from ours) or exists (select 1 from pg_auth_members a join ours o on o.oid = a.roleid where a.member = r.oid)) as roles,
              (select count(*)::int from pg_policy) as policies, (select count(*)::int from pg_proc) as functions`,
      [`${prefix}\\_%`],
    );
    const tables = await c.query<{ t: string }>(
      `select format('%I.%I', schemaname, tablename) as t from pg_tables where schemaname not in ('pg_catalog', 'information_schema') order by 1`,
    );
    const counts: Record<string, number> = {};
    for (const { t } of tables.rows) counts[t] = (await c.query<{ n: number }>(`select count(*)::int as n from ${t}`)).rows[0]!.n;
    const sequences = await c.query(`select format('%I.%I', schemaname, sequencename) as s, last_value from pg_sequences order by 1`);
    return { catalog: catalog.rows[0], counts, sequences: sequences.rows };
  });
}

function expandContext(options: ContextTemplateOptions, prefix: string): ContextTemplateOptions {
  const e = (v: string | null | undefined) => (typeof v === 'string' ? expand(v, prefix) : v);
  return {
    ...options,
    usersTable: e(options.usersTable),
    membershipTable: e(options.membershipTable),
    role: e(options.role),
    ...(options.settings ? { settings: Object.fromEntries(Object.entries(options.settings).map(([k, v]) => [k, expand(v, prefix)])) } : {}),
  };
}

describe('convention probes: every red case found, nothing high or critical on a green case, no trace', () => {
  test.for(probeConventionCases.map((c) => [`${c.convention}: ${c.expect ? 'red' : 'green'}: ${c.title} (seed=${seed})`, c] as const))('%s', async ([, c]) => {
    await using db = await fixtureDatabase('rls', conventionBases[c.convention]);
    const setup = conventionContexts[c.convention].setup;
    if (setup) await db.apply(setup);
    if (c.sql) await db.apply(c.sql);
    const base = db.target();
    const context = contextFrom(expandContext(conventionContexts[c.convention].context, db.prefix), base.tenantColumn);
    const target = db.target({ context });
    const before = await snapshot(db.url, db.prefix);
    const result = await verifyTarget(target, { runs, seed });
    expect(await snapshot(db.url, db.prefix), 'verify left a trace').toEqual(before);
    expect(result.runsExecuted).toBeGreaterThanOrEqual(runs);
    expect(result.skippedTables, JSON.stringify(result.skippedTables)).toEqual([]);
    const all = describeAll(result.findings);
    if (!c.expect) {
      expect(result.findings.filter((f) => atLeast(f.severity, 'high')), all).toEqual([]);
      expect(result.probesNotActed, JSON.stringify(result.probesNotActed)).toEqual([]);
      expect(result.runsWithForeignRows).toBe(result.runsExecuted);
      return;
    }
    const { checkIds } = c.expect;
    const object = expand(c.expect.object, db.prefix);
    const alsoFound = (c.alsoFound ?? []).map((o) => expand(o, db.prefix));
    const missing = checkIds.filter((id) => !result.findings.some((f) => f.checkId === id && f.object === object));
    expect(missing, `expected ${checkIds.join(', ')} on ${object}; got:\n${all}\nnot acted: ${JSON.stringify(result.probesNotActed)}`).toEqual([]);
    for (const hit of result.findings.filter((f) => f.object === object && checkIds.includes(f.checkId as never))) {
      expect(hit.title).toContain(object);
      expect(hit.remediation).not.toMatch(/\{[a-zA-Z]+\}|undefined|\[object /);
      expect(hit.statement).toBeTruthy();
    }
    // Precision: nothing high or critical on an object the flaw does not reach.
    const spurious = result.findings.filter((f) => f.object !== object && !alsoFound.includes(f.object) && atLeast(f.severity, 'high'));
    expect(spurious.map((f) => `${f.checkId} ${f.object}`), all).toEqual([]);
  });
});

describe('role per tenant: per-tenant roles tenantproof must create', () => {
  test('a connecting role without CREATEROLE: one line naming the missing privilege, nothing left behind', async () => {
    await using db = await fixtureDatabase('rls', conventionBases['role-per-tenant']);
    await db.apply(conventionContexts['role-per-tenant'].setup!);
    // A runner that can write every row (BYPASSRLS) and act as tenants, but not create roles.
    const password = 'runner-pass-1';
    await db.apply(`create role @runner login password '${password}' bypassrls nocreaterole;
grant select, insert, update, delete on all tables in schema public to @runner;
grant @tenant to @runner;`);
    const name = new URL(db.url).pathname.slice(1);
    const target = db.target({ databaseUrl: urlFor(db.url, name, { user: expand('@runner', db.prefix), password }), context: contextFrom({ role: '{tenant.db_user}' }, 'tenant_id') });
    const before = await snapshot(db.url, db.prefix);
    await expect(verifyTarget(target, { runs: 1, seed })).rejects.toThrow(/do not exist for generated tenants .* lacks CREATEROLE/);
    expect(await snapshot(db.url, db.prefix), 'verify left a trace').toEqual(before);
  });
});

describe('Supabase: tables built alike share the later worlds, principal probes included', () => {
  /** Six tables built alike behind is_member (the shape of most Supabase schemas); `nobody` lets a user of no account read them. */
  const alike = (nobody: boolean) =>
    ['notes', 'files', 'tags', 'tasks', 'events', 'links']
      .map(
        (t) => `create table ${t} (id uuid primary key default gen_random_uuid(), account_id uuid not null references accounts (id), body text not null);
create index on ${t} (account_id);
alter table ${t} enable row level security;
create policy members_all on ${t} for all to authenticated using (public.is_member(account_id)) with check (public.is_member(account_id));
${nobody ? `create policy nobody_reads on ${t} for select to authenticated using (not exists (select 1 from account_members m where m.user_id = (select auth.uid())));` : ''}`,
      )
      .join('\n');
  const tables = ['notes', 'files', 'tags', 'tasks', 'events', 'links'].map((t) => `public.${t}`);

  async function verifyAlike(nobody: boolean) {
    await using db = await fixtureDatabase('rls', conventionBases.supabase);
    await db.apply(alike(nobody));
    const context = contextFrom(expandContext(conventionContexts.supabase.context, db.prefix), db.target().tenantColumn);
    const before = await snapshot(db.url, db.prefix);
    const result = await verifyTarget(db.target({ context }), { runs: 5, seed });
    expect(await snapshot(db.url, db.prefix), 'verify left a trace').toEqual(before);
    return result;
  }

  test(`green: the six tables are one class; every run saw foreign rows, nothing high, nothing left unprobed (seed=${seed})`, async () => {
    const result = await verifyAlike(false);
    expect(result.findings.filter((f) => atLeast(f.severity, 'high')), describeAll(result.findings)).toEqual([]);
    expect(result.sampling).toMatchObject({ sharedClasses: 1, tablesPerClass: 2, fullRuns: 1 });
    expect(result.sampling!.leastRuns).toBeGreaterThanOrEqual(1);
    expect(result.skippedTables).toEqual([]);
    expect(result.probesNotActed, JSON.stringify(result.probesNotActed)).toEqual([]);
    expect(result.runsWithForeignRows).toBe(result.runsExecuted);
  });

  test(`red: a user of no account reads all six tables, and each of the six is found, not only those a later world picked (seed=${seed})`, async () => {
    const result = await verifyAlike(true);
    const found = new Set(result.findings.filter((f) => f.checkId === 'probe-principal-nonmember-read').map((f) => f.object));
    for (const t of tables) expect(found.has(t), `${t}: ${describeAll(result.findings)}`).toBe(true);
    expect(result.sampling).not.toBeNull();
  });
});
