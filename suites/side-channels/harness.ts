/**
 * Side channels: ways a tenant of a shared PostgreSQL learns something about other tenants' data
 * without reading their rows (planner statistics, catalog row counts, shared sequences, other
 * sessions' query text). Each channel is measured in a scratch lab: its own databases and login
 * roles, named `<prefix>_…`, all dropped when the lab is disposed.
 *
 * The measurements here change what they measure (ANALYZE, nextval, open sessions): they belong
 * in scratch databases only. Against a team's own database, `tenantproof verify` reads the
 * catalog instead (src/checks/rules/side-channels.ts).
 */
import { randomBytes } from 'node:crypto';
import * as allure from 'allure-js-commons';
import pg from 'pg';
import { testServer } from '../../fixtures/index.ts';
import { quoteIdent, runStaticRules, targetDefaults, urlFor, withClient, type Finding, type Queryable } from '../../src/index.ts';

export interface Session extends Queryable, AsyncDisposable {
  readonly role: string;
  /** The backend's process id, to find this session in pg_stat_activity. */
  readonly pid: number;
}

export interface Lab extends AsyncDisposable {
  readonly prefix: string;
  /** `<prefix>_name`: a cluster-unique name for a role or database of this lab. */
  name(short: string): string;
  /** Runs SQL as the superuser in the lab's main database (or another lab database). */
  admin(sql: string, values?: readonly unknown[], database?: string): Promise<pg.QueryResult>;
  /** Creates a login role `<prefix>_<short>` and returns its name. */
  createRole(short: string, attributes?: string): Promise<string>;
  /** Creates another database `<prefix>_<short>` and returns its name. */
  createDatabase(short: string): Promise<string>;
  /** The URL that logs in as a lab role (to the main database unless told). */
  urlAs(role: string, database?: string): string;
  /** A connection logged in as a lab role (to the main database unless told). Closed with the lab at the latest. */
  session(role: string, database?: string): Promise<Session>;
}

/** A scratch database `<prefix>_main` with nothing in it but what the test creates. */
export async function openLab(): Promise<Lab> {
  const { adminUrl } = testServer();
  const prefix = `sc${randomBytes(4).toString('hex')}`;
  const name = (short: string) => `${prefix}_${short}`;
  const main = name('main');
  const password = randomBytes(9).toString('hex');
  const sessions = new Set<pg.Client>();
  const roles: string[] = [];
  const databases: string[] = [main];
  await withClient(adminUrl, (c) => c.query(`create database ${quoteIdent(main)}`));

  const lab: Lab = {
    prefix,
    name,
    admin: (sql, values, database = main) => withClient(urlFor(adminUrl, database), (c) => c.query(sql, values as unknown[])),
    async createRole(short, attributes = '') {
      const role = name(short);
      await withClient(adminUrl, (c) => c.query(`create role ${quoteIdent(role)} login password '${password}' ${attributes}`));
      roles.push(role);
      return role;
    },
    async createDatabase(short) {
      const database = name(short);
      await withClient(adminUrl, (c) => c.query(`create database ${quoteIdent(database)}`));
      databases.push(database);
      return database;
    },
    urlAs: (role, database = main) => urlFor(adminUrl, database, { user: role, password }),
    async session(role, database = main) {
      const client = new pg.Client({ connectionString: lab.urlAs(role, database) });
      client.on('error', () => undefined);
      await client.connect();
      sessions.add(client);
      const pid = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      const close = async () => {
        if (sessions.delete(client)) await client.end().catch(() => undefined);
      };
      return {
        role,
        pid,
        query: (text, values) => client.query(text, values as unknown[]) as never,
        [Symbol.asyncDispose]: close,
      };
    },
    async [Symbol.asyncDispose]() {
      for (const client of sessions) await client.end().catch(() => undefined);
      sessions.clear();
      await withClient(adminUrl, async (c) => {
        for (const database of databases) await c.query(`drop database if exists ${quoteIdent(database)} with (force)`);
        for (const role of roles) await c.query(`drop role if exists ${quoteIdent(role)}`);
      });
    },
  };
  return lab;
}

/**
 * Runs `fn` as `role` in one tenant's context (`app.current_tenant` + SET LOCAL ROLE), inside a
 * transaction that is rolled back (the way the probes enter a tenant of the rls model) unless
 * `end` is 'commit'. An error always rolls back.
 */
export async function asTenant<T>(q: Queryable, role: string, tenantId: string, fn: () => Promise<T>, end: 'commit' | 'rollback' = 'rollback'): Promise<T> {
  await q.query('begin');
  try {
    await q.query("select set_config('app.current_tenant', $1, true)", [tenantId]);
    await q.query(`set local role ${quoteIdent(role)}`);
    const result = await fn();
    await q.query(end);
    return result;
  } catch (error) {
    await q.query('rollback').catch(() => undefined);
    throw error;
  }
}

/** The planner's row estimate for `select` (the top plan node's `Plan Rows`). */
export async function estimatedRows(q: Queryable, select: string): Promise<number> {
  const { rows } = await q.query<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(`explain (format json) ${select}`);
  return rows[0]!['QUERY PLAN'][0].Plan['Plan Rows'];
}

/** A value as a SQL literal, for EXPLAIN of a statement with constants (the planner sees constants, not $n). */
export function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Attaches what a channel revealed to the test's Allure result (the figures a reviewer reads). */
export async function evidence(name: string, value: unknown): Promise<void> {
  await allure.attachment(name, JSON.stringify(value, null, 2), 'application/json');
}

/** Tenant ids used by every channel: A acts, B is the victim, nobody does not exist. */
export const tenants = {
  a: '00000000-0000-4000-8000-00000000000a',
  b: '00000000-0000-4000-8000-00000000000b',
  nobody: '00000000-0000-4000-8000-0000000000cc',
} as const;
/** Half of tenant B's documents carry this category; tenant A's never do. */
export const secret = 'acquisition-of-globex';
export const rowsOfA = 1000;
export const rowsOfB = 6000;
export const tenantPredicate = "tenant_id = current_setting('app.current_tenant')::uuid";

/**
 * The rls model in the lab's main database: one `documents` table, RLS forced, a tenant policy for
 * the app role, A with 1000 rows, B with 6000 (amounts only B has), analyzed. Returns the app role.
 */
export async function sharedDocuments(lab: Lab): Promise<string> {
  const app = await lab.createRole('app');
  await lab.admin(`
    grant usage on schema public to ${quoteIdent(app)};
    create table documents (
      id uuid primary key default gen_random_uuid(), tenant_id uuid not null, category text not null, amount_cents int not null);
    create index on documents (tenant_id);
    alter table documents enable row level security;
    alter table documents force row level security;
    create policy tenant_isolation on documents to ${quoteIdent(app)} using (${tenantPredicate}) with check (${tenantPredicate});
    grant select, insert, update, delete on documents to ${quoteIdent(app)};
    insert into documents (tenant_id, category, amount_cents)
      select '${tenants.a}', 'a-' || (i % 50), i from generate_series(1, ${rowsOfA}) i;
    insert into documents (tenant_id, category, amount_cents)
      select '${tenants.b}', case when i % 2 = 0 then '${secret}' else 'b-' || (i % 200) end, 1000000 + i * 1000 from generate_series(1, ${rowsOfB}) i;
    analyze documents;`);
  return app;
}

/** One superuser connection to a lab database for the whole of `fn` (SET LOCAL ROLE and settings live in its transactions). */
export function withAdmin<T>(lab: Lab, fn: (q: Queryable) => Promise<T>, database = lab.name('main')): Promise<T> {
  return withClient(urlFor(testServer().adminUrl, database), (c) => fn({ query: (sql, values) => c.query(sql, values as unknown[]) as never }));
}

/**
 * What `tenantproof verify`'s static rule `ruleId` finds in the lab's main database (rls model,
 * app role `app`), read as the superuser: ties each measured channel to the rule that flags it.
 */
export async function ruleFindings(lab: Lab, app: string, ruleId: string): Promise<Finding[]> {
  const url = urlFor(testServer().adminUrl, lab.name('main'));
  const { findings } = await withClient(url, (c) => runStaticRules(c, { ...targetDefaults, databaseUrl: url, model: 'rls', appRole: app }, { only: [ruleId] }));
  return findings;
}
