/**
 * Row-count metadata. pg_class (reltuples, relpages) and the size functions need no privilege on
 * the table, and pg_class is readable by every role in the database: a shared table's totals are
 * every tenant's totals, and in the schema model each tenant's own table is listed there too.
 * Per-database counters (pg_stat_database) are cluster-wide and PUBLIC by default, so even the
 * database model shows each tenant database's activity unless they are revoked.
 */
import { describe, expect, test } from 'vitest';
import { quoteIdent, type Queryable } from '../../src/index.ts';
import { asTenant, evidence, openLab, rowsOfA, rowsOfB, sharedDocuments, tenants, withAdmin, type Lab, type Session } from './harness.ts';

/** pg_class as `q`'s current role sees it. */
async function catalogCount(q: Queryable, schema: string, table: string) {
  const { rows } = await q.query<{ reltuples: number; bytes: string }>(
    `select c.reltuples::float8 as reltuples, pg_relation_size(c.oid)::text as bytes
       from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relname = $2`,
    [schema, table],
  );
  return rows[0];
}

/** Polls (bounded) until the per-database counter of tenant B's inserts is visible to `session`, or returns what it last saw. */
async function tuplesInsertedIn(session: Session, database: string, atLeast: number): Promise<number | null> {
  let seen: number | null = null;
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
    const { rows } = await session.query<{ n: string | null }>('select tup_inserted::text as n from pg_stat_database where datname = $1', [database]);
    seen = rows[0]?.n === undefined || rows[0].n === null ? null : Number(rows[0].n);
    if (seen !== null && seen >= atLeast) return seen;
    await new Promise((r) => setTimeout(r, 100));
  }
  return seen;
}

describe('row-count metadata', () => {
  test('rls model (red): pg_class.reltuples of the shared table minus what A can count is every other tenant\'s row total', async () => {
    const lab = await openLab();
    await using _ = lab;
    const app = await sharedDocuments(lab);
    const seen = await withAdmin(lab, (q) =>
      asTenant(q, app, tenants.a, async () => ({
        own: (await q.query<{ n: number }>('select count(*)::int as n from documents')).rows[0]!.n,
        catalog: await catalogCount(q, 'public', 'documents'),
      })),
    );
    await evidence('what tenant A reads', seen);
    expect(seen.own).toBe(rowsOfA);
    expect(seen.catalog!.reltuples - seen.own).toBe(rowsOfB);
  });

  test("schema model (red, not a mitigation): tenant A's role reads the row count and size of B's table without USAGE on B's schema", async () => {
    const lab = await openLab();
    await using _ = lab;
    const roleA = await lab.createRole('t_a_role');
    const schemaB = lab.name('t_b');
    await lab.admin(`
      create schema ${quoteIdent(schemaB)};
      revoke all on schema ${quoteIdent(schemaB)} from public;
      create table ${quoteIdent(schemaB)}.documents (id int primary key, body text);
      insert into ${quoteIdent(schemaB)}.documents select i, 'b' from generate_series(1, ${rowsOfB}) i;
      analyze ${quoteIdent(schemaB)}.documents;`);
    await using a = await lab.session(roleA);
    const denied = a.query(`select count(*) from ${quoteIdent(schemaB)}.documents`);
    await expect(denied).rejects.toThrow(/permission denied for schema/);
    const seen = await catalogCount(a, schemaB, 'documents');
    await evidence("tenant A's view of B's table in pg_class", seen);
    expect(seen!.reltuples).toBe(rowsOfB);
    expect(Number(seen!.bytes)).toBeGreaterThan(0);
  });

  describe('database model', () => {
    async function twoTenantDatabases(lab: Lab) {
      const roleA = await lab.createRole('t_a_role');
      const roleB = await lab.createRole('t_b_role');
      const dbA = await lab.createDatabase('t_a');
      const dbB = await lab.createDatabase('t_b');
      for (const [db, role] of [[dbA, roleA], [dbB, roleB]] as const) {
        await lab.admin(`revoke connect, temporary on database ${quoteIdent(db)} from public; grant connect on database ${quoteIdent(db)} to ${quoteIdent(role)}`);
      }
      await lab.admin(`create table documents (id int primary key, body text); insert into documents select i, 'b' from generate_series(1, ${rowsOfB}) i; analyze documents`, [], dbB);
      return { roleA, dbA, dbB };
    }

    test("green for row totals and sizes: A cannot reach B's pg_class, and pg_database_size of B is denied", async () => {
      const lab = await openLab();
      await using _ = lab;
      const { roleA, dbA, dbB } = await twoTenantDatabases(lab);
      await expect(lab.session(roleA, dbB)).rejects.toThrow(/permission denied for database/);
      await using a = await lab.session(roleA, dbA);
      await expect(a.query('select pg_database_size($1)', [dbB])).rejects.toThrow(/permission denied for database/);
    });

    test("red: pg_stat_database shows A how many rows were inserted in B's database", async () => {
      const lab = await openLab();
      await using _ = lab;
      const { roleA, dbA, dbB } = await twoTenantDatabases(lab);
      await using a = await lab.session(roleA, dbA);
      const inserted = await tuplesInsertedIn(a, dbB, rowsOfB);
      await evidence("tup_inserted of B's database, read by A", { database: dbB, tupInserted: inserted });
      expect(inserted).toBeGreaterThanOrEqual(rowsOfB);
    });

    test("green: revoking pg_stat_database and the pg_stat_get_db_* functions from PUBLIC in A's database hides B's counters", async () => {
      const lab = await openLab();
      await using _ = lab;
      const { roleA, dbA, dbB } = await twoTenantDatabases(lab);
      await withAdmin(
        lab,
        async (q) => {
          await q.query('revoke select on pg_catalog.pg_stat_database, pg_catalog.pg_stat_database_conflicts from public');
          const fns = await q.query<{ f: string }>("select p.oid::regprocedure::text as f from pg_proc p where p.pronamespace = 'pg_catalog'::regnamespace and p.proname like 'pg\\_stat\\_get\\_db\\_%'");
          expect(fns.rows.length).toBeGreaterThan(10);
          for (const { f } of fns.rows) await q.query(`revoke execute on function ${f} from public`);
        },
        dbA,
      );
      await using a = await lab.session(roleA, dbA);
      await expect(a.query('select tup_inserted from pg_stat_database where datname = $1', [dbB])).rejects.toThrow(/permission denied/);
      await expect(a.query('select pg_stat_get_db_tuples_inserted(oid) from pg_database where datname = $1', [dbB])).rejects.toThrow(/permission denied/);
    });
  });
});
