/**
 * Pooled connections: through PgBouncer in transaction mode, one server connection serves one
 * tenant's transaction and then the next client's. Tenant context must die with the transaction.
 *
 * Each check runs twice: with the correct practice (transaction-local set_config, ON COMMIT DROP
 * temp tables) it must see nothing carried over; with the vulnerable practice (session-level
 * set_config, session temp tables) it must see the previous tenant's rows — the check's red case.
 */
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { findTool, needTool, scratchDatabase, startPgBouncer, type PgBouncer } from '../../fixtures/index.ts';
import { withClient, type ScratchDatabase } from '../../src/index.ts';

// Without pgbouncer each test is skipped with the reason and how to get it (a failure under
// TENANTPROOF_REQUIRE_TOOLS=1, as in CI).
const pgbouncer = findTool('pgbouncer');

const appPassword = 'app-password';

const schemaSql = `
  create table notes (tenant_id text not null, body text not null);
  alter table notes enable row level security;
  alter table notes force row level security;
  create policy notes_tenant on notes
    using (tenant_id = current_setting('app.current_tenant', true))
    with check (tenant_id = current_setting('app.current_tenant', true));
  insert into notes values ('acme', 'acme secret'), ('globex', 'globex secret');
  grant select, insert on notes to tp_pool_app;
`;

type ContextPractice = 'transaction-local' | 'session-level';

async function withPooledClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Tenant `acme` does one unit of work through the pooler; then another client, which sets no
 * tenant context at all, reads `notes`. Returns what that second client saw.
 */
async function observeContextCarryOver(url: string, practice: ContextPractice): Promise<string[]> {
  await withPooledClient(url, async (acme) => {
    await acme.query('begin');
    await acme.query(`select set_config('app.current_tenant', $1, $2)`, ['acme', practice === 'transaction-local']);
    const own = await acme.query<{ body: string }>('select body from notes');
    expect(own.rows.map((r) => r.body)).toEqual(['acme secret']);
    await acme.query('commit');
  });
  return withPooledClient(url, async (next) => {
    const { rows } = await next.query<{ body: string }>('select body from notes order by body');
    return rows.map((r) => r.body);
  });
}

/** Tenant `acme` caches rows in a temp table; the next client probes pg_temp for it. */
async function observeTempTableCarryOver(url: string, practice: 'on-commit-drop' | 'session-temp'): Promise<string[]> {
  await withPooledClient(url, async (acme) => {
    await acme.query('begin');
    await acme.query(`select set_config('app.current_tenant', 'acme', true)`);
    const onCommit = practice === 'on-commit-drop' ? 'on commit drop' : '';
    await acme.query(`create temp table report_cache ${onCommit} as select body from notes`);
    await acme.query('commit');
  });
  return withPooledClient(url, async (next) => {
    const exists = await next.query(`select 1 from pg_class where relname = 'report_cache' and relpersistence = 't' and pg_table_is_visible(oid)`);
    if (exists.rowCount === 0) return [];
    const { rows } = await next.query<{ body: string }>('select body from pg_temp.report_cache');
    await next.query('drop table pg_temp.report_cache');
    return rows.map((r) => r.body);
  });
}

describe('tenant context through PgBouncer (transaction pooling, one server connection)', () => {
  let db: ScratchDatabase;
  let bouncer: PgBouncer;
  let url: string;

  beforeAll(async () => {
    if (!pgbouncer.binary) return;
    db = await scratchDatabase('pooling');
    await withClient(db.url, async (c) => {
      await c.query(`do $$ begin
        if not exists (select 1 from pg_roles where rolname = 'tp_pool_app') then
          create role tp_pool_app login password '${appPassword}' nosuperuser nobypassrls;
        end if; end $$`);
      await c.query(schemaSql);
    });
    bouncer = await startPgBouncer({
      serverUrl: db.url,
      users: [{ name: 'tp_pool_app', password: appPassword }],
      poolMode: 'transaction',
      poolSize: 1,
      binary: pgbouncer.binary,
    });
    url = bouncer.urlFor('tp_pool_app', appPassword, db.name);
  });

  beforeEach((context) => needTool(pgbouncer, context));

  afterAll(async () => {
    await bouncer?.stop();
    await db?.drop();
  });

  test('the pooler really shares one server connection between clients', async () => {
    const first = await withPooledClient(url, (c) => c.query<{ pid: number }>('select pg_backend_pid() as pid'));
    const second = await withPooledClient(url, (c) => c.query<{ pid: number }>('select pg_backend_pid() as pid'));
    expect(second.rows[0]?.pid).toBe(first.rows[0]?.pid);
  });

  test('transaction-local tenant context does not carry over to the next client', async () => {
    expect(await observeContextCarryOver(url, 'transaction-local')).toEqual([]);
  });

  test('red case: session-level tenant context carries acme into the next client', async () => {
    expect(await observeContextCarryOver(url, 'session-level')).toEqual(['acme secret']);
    // reset the shared server connection for the tests after this one
    await withPooledClient(url, (c) => c.query(`select set_config('app.current_tenant', '', false)`));
  });

  test('ON COMMIT DROP temp tables do not carry over to the next client', async () => {
    expect(await observeTempTableCarryOver(url, 'on-commit-drop')).toEqual([]);
  });

  test('red case: a session temp table of acme is readable by the next client', async () => {
    expect(await observeTempTableCarryOver(url, 'session-temp')).toEqual(['acme secret']);
  });
});
