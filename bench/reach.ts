/**
 * Benchmark (not a test): verify times of the schema and database models with the reach probes
 * (issue 13), on 50 tenant schemas and 20 tenant databases laid out the way teams write them
 * correctly (each tenant role on its own schema/database; a shared read-only lookup table, an
 * invoker helper, a definer function reading only the caller's schema, a shared lookup database).
 * Figures are printed, never asserted; beside each, what raw PostgreSQL takes for the bare
 * operations on the same server in the same run (machines are noisy: compare within a run):
 *
 * - schema: one connection doing, for each tenant role, SET ROLE and a count(*) of every other
 *   tenant's tables (each under a savepoint) — the pairwise check with nothing judged;
 * - database: opening (and closing) one connection per tenant per database, as the login probe does.
 *
 *   npx tsx bench/reach.ts                                   # embedded PostgreSQL 18
 *   PG_BIN=/usr/lib/postgresql/15/bin TENANTPROOF_PG_PROVIDER=binaries npx tsx bench/reach.ts
 *   BENCH_RUNS=20 BENCH_SCHEMAS=50 BENCH_DATABASES=20 npx tsx bench/reach.ts
 */
import pg from 'pg';
import { startPostgres } from '../fixtures/index.ts';
import { createScratchDatabase, defaultRuns, quoteIdent, targetDefaults, urlFor, verifyTarget, withClient, type TargetConfig } from '../src/index.ts';
import { tenantTables } from '../suites/isolation/model-corpus.ts';
import { pgbench, pgbenchBin } from './tools.ts';

const runs = Number(process.env.BENCH_RUNS ?? defaultRuns);
const schemaCount = Number(process.env.BENCH_SCHEMAS ?? 50);
const databaseCount = Number(process.env.BENCH_DATABASES ?? 20);
const seed = 1;

await using server = await startPostgres();
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const rows: string[][] = [];
const tps = () => pgbench(server.adminUrl, 'SELECT 1;\n', 2).tps.toFixed(0);

const seedRows = (schema: string) => `insert into ${schema}.customers (email, name) values ('a@x.test', 'A'), ('b@x.test', 'B');
  insert into ${schema}.orders (customer_id, total_cents) select id, 100 from ${schema}.customers;`;

// Schema model: 50 tenant schemas in one database.
{
  await using db = await createScratchDatabase(server.adminUrl, 'bench_reach');
  const schemas = Array.from({ length: schemaCount }, (_, i) => `bt_${String(i).padStart(3, '0')}`);
  const roles = schemas.map((x) => `${db.name}_${x}_role`);
  await withClient(server.adminUrl, (c) => c.query(roles.map((r) => `create role ${quoteIdent(r)};`).join('')));
  try {
    await withClient(db.url, async (c) => {
      for (const [i, x] of schemas.entries()) {
        await c.query(`create schema ${x}; ${tenantTables(x)} ${seedRows(x)}
          grant usage on schema ${x} to ${quoteIdent(roles[i]!)}; grant select, insert, update, delete on all tables in schema ${x} to ${quoteIdent(roles[i]!)};`);
      }
      await c.query(`
        create table public.currencies (code text primary key, name text not null);
        insert into public.currencies values ('EUR', 'Euro'), ('USD', 'US dollar');
        create view public.currency_codes as select code from public.currencies;
        grant select on public.currencies, public.currency_codes to public;
        create function public.my_order_total() returns bigint language plpgsql stable as $$
          begin return (select coalesce(sum(total_cents), 0) from orders); end $$;
        create function public.my_order_count() returns bigint language plpgsql stable security definer set search_path = pg_catalog as $$
          declare sch text; n bigint;
          begin
            select nspname into strict sch from pg_namespace where '${db.name}_' || nspname || '_role' = session_user;
            execute format('select count(*) from %I.orders', sch) into n;
            return n;
          end $$;`);
    });
    const target: TargetConfig = { ...targetDefaults, databaseUrl: db.url, model: 'schema', schemaPattern: 'bt\\_%', appRole: roles[0]!, tenantRole: `${db.name}_{tenant}_role` };
    const started = performance.now();
    const result = await verifyTarget(target, { runs, seed });
    const verifyMs = performance.now() - started;
    // Raw: every role reads every other tenant's tables (refused), nothing generated, nothing judged.
    const rawStarted = performance.now();
    await withClient(db.url, async (c) => {
      await c.query('begin');
      for (const r of roles) {
        await c.query(`savepoint r; set local role ${quoteIdent(r)}`);
        for (const x of schemas) {
          if (r.includes(`_${x}_`)) continue;
          for (const t of ['customers', 'orders']) {
            await c.query(`savepoint p; select count(*) from ${x}.${t}`).catch(() => undefined);
            await c.query('rollback to savepoint p');
          }
        }
        await c.query('rollback to savepoint r');
      }
      await c.query('rollback');
    });
    const rawMs = performance.now() - rawStarted;
    rows.push([
      `schema: ${schemaCount} tenant schemas × 2 tables, shared lookup/helper/definer`,
      s(verifyMs),
      String(result.probes),
      String(result.findings.length),
      `${schemaCount}×${schemaCount - 1}×2 SET ROLE + count(*): ${s(rawMs)}`,
      tps(),
    ]);
  } finally {
    await withClient(server.adminUrl, (c) => c.query(roles.map((r) => `drop role if exists ${quoteIdent(r)};`).join(''))).catch(() => undefined);
  }
}

// Database model: 20 tenant databases and one shared lookup database.
{
  const prefix = `bdb${Date.now().toString(36)}`;
  const dbs = Array.from({ length: databaseCount }, (_, i) => `${prefix}_${String(i).padStart(2, '0')}`);
  const roles = dbs.map((d) => `${d}_role`);
  const shared = `sh${prefix}`;
  try {
    await withClient(server.adminUrl, async (c) => {
      for (const [i, d] of dbs.entries()) {
        await c.query(`create database ${d}`);
        await c.query(`create role ${roles[i]}`);
        await c.query(`revoke connect on database ${d} from public; grant connect on database ${d} to ${roles[i]}`);
      }
      await c.query(`create database ${shared}`);
    });
    for (const [i, d] of dbs.entries()) {
      await withClient(urlFor(server.adminUrl, d), (c) => c.query(`${tenantTables('public')} ${seedRows('public')} grant select, insert, update, delete on all tables in schema public to ${roles[i]};`));
    }
    await withClient(urlFor(server.adminUrl, shared), (c) =>
      c.query(`create table public.currencies (code text primary key, name text not null); insert into public.currencies values ('EUR', 'Euro'); grant select on public.currencies to public;`),
    );
    const target: TargetConfig = { ...targetDefaults, databaseUrl: server.adminUrl, model: 'database', databasePattern: `${prefix}\\_%`, tenantRole: '{tenant}_role' };
    const started = performance.now();
    const result = await verifyTarget(target, { runs, seed });
    const verifyMs = performance.now() - started;
    // Raw: one connection per tenant per database (the login probe's connections), as the admin.
    const { rows: all } = await withClient(server.adminUrl, (c) => c.query<{ n: number }>('select count(*)::int as n from pg_database where datallowconn and not datistemplate'));
    const perTenant = all[0]!.n;
    const rawStarted = performance.now();
    for (let i = 0; i < databaseCount; i++) {
      for (const d of [...dbs, shared]) {
        const c = new pg.Client({ connectionString: urlFor(server.adminUrl, d) });
        await c.connect();
        await c.end();
      }
    }
    const rawMs = performance.now() - rawStarted;
    rows.push([
      `database: ${databaseCount} tenant databases × 2 tables + 1 shared lookup database (${perTenant} databases on the server)`,
      s(verifyMs),
      String(result.probes),
      String(result.findings.length),
      `${databaseCount}×${databaseCount + 1} connections opened and closed: ${s(rawMs)}`,
      tps(),
    ]);
  } finally {
    await withClient(server.adminUrl, async (c) => {
      for (const d of [...dbs, shared]) await c.query(`drop database if exists ${d} with (force)`);
      for (const r of roles) await c.query(`drop role if exists ${r}`);
    }).catch(() => undefined);
  }
}

console.log(`verify with reach probes · PostgreSQL ${server.versionNum} (${server.provider}) · ${runs} runs · seed ${seed} · pgbench ${pgbenchBin}`);
console.log('| target | verify | probes | findings | raw PostgreSQL, same server | pgbench SELECT 1/s |');
console.log('| --- | ---: | ---: | ---: | --- | ---: |');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
