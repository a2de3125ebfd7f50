/**
 * Benchmark (not a test): `tenantproof verify --preset supabase` end to end through the CLI on a
 * Supabase-style membership schema of 3 tables (accounts, account_members, documents) and of 40
 * tables (accounts, account_members and 38 tenant tables behind a SECURITY DEFINER is_member()),
 * next to a raw figure on the same server in the same run: pgbench running one probe's worth of
 * SQL (enter the Supabase context, count a table, roll back) per transaction.
 *
 *   npx tsx bench/memberships.ts                  # embedded PostgreSQL 18
 *   BENCH_RUNS=20 BENCH_ROUNDS=3 npx tsx bench/memberships.ts
 *
 * The CLI measured is bin/tenantproof.js (the TypeScript sources through tsx, as from a checkout).
 */
import { startPostgres } from '../fixtures/index.ts';
import { createScratchDatabase, defaultRuns, withClient } from '../src/index.ts';
import { pgbench, pgbenchBin, runCli } from './tools.ts';

const runs = Number(process.env.BENCH_RUNS ?? defaultRuns);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);

const supabaseBase = `
do $$ begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then create role anon nologin noinherit; end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then create role authenticated nologin noinherit; end if;
end $$;
create schema auth;
create table auth.users (id uuid primary key, email text);
create function auth.uid() returns uuid language sql stable set search_path = '' as $$
  select coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''), (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid
$$;
grant usage on schema auth to anon, authenticated;
grant usage on schema public to anon, authenticated;
create table accounts (id uuid primary key default gen_random_uuid(), name text not null);
create table account_members (account_id uuid not null references accounts (id), user_id uuid not null references auth.users (id), role text not null default 'member', primary key (account_id, user_id));
create index on account_members (user_id);
create function public.is_member(p uuid) returns boolean language sql stable security definer set search_path = '' as $$
  select exists (select 1 from public.account_members m where m.account_id = p and m.user_id = auth.uid())
$$;
alter table accounts enable row level security;
alter table account_members enable row level security;
create policy read_accounts on accounts for select to authenticated using (public.is_member(id));
create policy read_members on account_members for select to authenticated using (user_id = (select auth.uid()) or public.is_member(account_id));
grant select on accounts, account_members to authenticated;`;

function tenantTable(name: string): string {
  return `create table ${name} (id uuid primary key default gen_random_uuid(), account_id uuid not null references accounts (id), title text not null, amount int not null default 0);
create index on ${name} (account_id);
alter table ${name} enable row level security;
create policy ${name}_read on ${name} for select to authenticated using (account_id in (select m.account_id from account_members m where m.user_id = (select auth.uid())));
create policy ${name}_write on ${name} for all to authenticated using (public.is_member(account_id)) with check (public.is_member(account_id));
grant select, insert, update, delete on ${name} to authenticated;`;
}

const cases = [
  { name: '3 tables (accounts, account_members, documents)', sql: `${supabaseBase}\n${tenantTable('documents')}` },
  { name: '40 tables (accounts, account_members, 38 tenant tables, 78 policies)', sql: `${supabaseBase}\n${Array.from({ length: 38 }, (_, i) => tenantTable(`t${i}`)).join('\n')}` },
];

await using server = await startPostgres();
const seconds = (n: number) => `${n.toFixed(2)} s`;
const median = (xs: readonly number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const rows: string[][] = [];
for (const c of cases) {
  await using db = await createScratchDatabase(server.adminUrl, 'bench_members');
  await withClient(db.url, (q) => q.query(c.sql));
  // One probe's worth of SQL, as pgbench transactions: enter the context, count, roll back.
  const probeSql = `begin;
set local role authenticated;
select set_config('request.jwt.claims', '{"sub":"6f1d2a9e-0000-4000-a000-000000000001","role":"authenticated"}', true);
select count(*) from account_members;
rollback;
`;
  const measured: { header: number; total: number; code: number | null; probes: number }[] = [];
  const raw: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const run = await runCli([
      'verify', '--database-url', db.url, '--model', 'rls', '--preset', 'supabase', '--tenant-table', 'public.accounts', '--tenant-column', 'account_id',
      '--membership-table', 'public.account_members', '--runs', String(runs), '--seed', '1', '--format', 'json', '--report-dir', `reports/out/bench-members-${i}`,
    ]);
    const at = (re: RegExp) => run.lines.find((l) => re.test(l.text))?.at ?? NaN;
    // The last progress line (stderr) says how many probes ran.
    const progress = run.lines.map((l) => / (\d+) probes /.exec(l.text)?.[1]).filter((x): x is string => x !== undefined);
    const probes = Number(progress.at(-1) ?? NaN);
    measured.push({ header: at(/^tenantproof verify/), total: run.seconds, code: run.code, probes });
    raw.push(pgbench(db.url, probeSql, 2).tps);
  }
  const total = median(measured.map((m) => m.total));
  const probes = median(measured.map((m) => m.probes));
  rows.push([
    c.name,
    seconds(median(measured.map((m) => m.header))),
    seconds(total),
    `${Math.min(...measured.map((m) => m.total)).toFixed(2)}–${Math.max(...measured.map((m) => m.total)).toFixed(2)}`,
    measured.map((m) => m.code).join(','),
    String(probes),
    `${median(raw).toFixed(0)}`,
    `${(probes / median(raw)).toFixed(2)} s`,
  ]);
}

console.log(`tenantproof verify --preset supabase end to end · PostgreSQL ${server.versionNum} (${server.provider}) · ${runs} runs · median of ${rounds} · pgbench ${pgbenchBin}`);
console.log('| schema | target checked | exit | range | exit codes | probes | pgbench probe-like tx/s | those probes at the pgbench rate, one by one |');
console.log('| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
