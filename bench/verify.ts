/**
 * Benchmark (not a test): `tenantproof verify` end to end through the CLI, as a user runs it, next
 * to pgbench's raw rate on the same server in the same run (machines are noisy: compare within a
 * run). Prints, for a 5-table schema and a generated 80-table schema with about 160 policies:
 * the time from process start until the target has been checked (the header line), until the
 * first property run has finished, and until exit.
 *
 *   npm run bench                          # embedded PostgreSQL 18
 *   DATABASE_URL=postgres://… npm run bench   # an existing server (admin role)
 *
 * The CLI measured is the compiled one (dist/, as `npx pg-tenantproof` runs it), rebuilt first.
 *
 * Targets (issue 9): 5 tables ≤ 1.5 s end to end, 80 tables ≤ 5 s (default 20 runs). The 80
 * tables are built from one template (four definition classes of about 20 tables each), so after
 * the first run each run probes two tables of each class (catalog/definition-classes.ts); the
 * `--exhaustive` row below probes every table in every run, for comparison.
 */
import { spawnSync } from 'node:child_process';
import { startPostgres } from '../fixtures/index.ts';
import { createScratchDatabase, defaultRuns, quoteIdent, withClient } from '../src/index.ts';
import { baseSchema } from '../suites/isolation/corpus.ts';
import { pgbench, pgbenchBin, runCli } from './tools.ts';

const runs = Number(process.env.BENCH_RUNS ?? defaultRuns);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);

/** A generated schema: `tables` tenant tables in chains of four (each row's parent in the same tenant), two policies each. */
function generatedSchema(app: string, tables: number): string {
  const a = quoteIdent(app);
  const out = [`create table tenants (id text primary key, name text not null);`, `grant select on tenants to ${a};`];
  for (let i = 0; i < tables; i++) {
    const parent = i % 4 === 0 ? null : `t${i - 1}`;
    out.push(`create table t${i} (id bigint generated always as identity, tenant_id text not null references tenants(id),
      name text not null, amount numeric(12,2) not null default 0, created_at timestamptz not null default now(),
      ${parent ? `parent_id bigint not null, foreign key (tenant_id, parent_id) references ${parent} (tenant_id, id),` : ''}
      primary key (tenant_id, id));
    alter table t${i} enable row level security; alter table t${i} force row level security;
    create policy t${i}_read on t${i} for select to ${a} using (tenant_id = current_setting('app.current_tenant', true));
    create policy t${i}_write on t${i} for all to ${a} using (tenant_id = current_setting('app.current_tenant', true)) with check (tenant_id = current_setting('app.current_tenant', true));
    grant select, insert, update, delete on t${i} to ${a};`);
  }
  return out.join('\n');
}

// Users run the compiled package (npx pg-tenantproof): measure that, built from this checkout.
const build = spawnSync('npm', ['run', 'build'], { stdio: ['ignore', 'ignore', 'inherit'] });
if (build.status !== 0) throw new Error('npm run build failed');

await using server = await startPostgres();
const seconds = (n: number) => `${n.toFixed(2)} s`;
const median = (xs: readonly number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

interface Case {
  readonly name: string;
  readonly sql: (app: string) => string;
  readonly args?: readonly string[];
}
const cases: Case[] = [
  { name: '5 tables (tenants + 4 tenant tables)', sql: (app) => baseSchema('text').replaceAll('{app}', quoteIdent(app)) },
  { name: '80 tables (tenants + 79, 158 policies)', sql: (app) => generatedSchema(app, 79) },
  { name: '80 tables, --exhaustive', sql: (app) => generatedSchema(app, 79), args: ['--exhaustive'] },
];

const rows: string[][] = [];
await using pgbenchDb = await createScratchDatabase(server.adminUrl, 'bench_raw');
for (const c of cases) {
  await using db = await createScratchDatabase(server.adminUrl, 'bench_verify');
  const app = `bench_app_${db.name}`;
  await withClient(server.adminUrl, (q) => q.query(`create role ${quoteIdent(app)}`));
  try {
    await withClient(db.url, (q) => q.query(c.sql(app)));
    const measured: { header: number; firstRun: number; total: number; code: number | null }[] = [];
    const raw: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const run = await runCli(['verify', '--database-url', db.url, '--model', 'rls', '--app-role', app, '--runs', String(runs), '--seed', '1', '--format', 'json', '--report-dir', `reports/out/bench-${i}`, ...(c.args ?? [])], 'dist/bin/cli.js');
      const at = (re: RegExp) => run.lines.find((l) => re.test(l.text))?.at ?? NaN;
      measured.push({ header: at(/^tenantproof verify/), firstRun: at(/run [1-9]\d*\//), total: run.seconds, code: run.code });
      raw.push(pgbench(pgbenchDb.url, 'SELECT 1;\n', 2).tps);
    }
    rows.push([
      c.name,
      seconds(median(measured.map((m) => m.header))),
      seconds(median(measured.map((m) => m.firstRun))),
      seconds(median(measured.map((m) => m.total))),
      `${Math.min(...measured.map((m) => m.total)).toFixed(2)}–${Math.max(...measured.map((m) => m.total)).toFixed(2)}`,
      measured.map((m) => m.code).join(','),
      `${median(raw).toFixed(0)}`,
    ]);
  } finally {
    await withClient(server.adminUrl, (q) => q.query(`drop role if exists ${quoteIdent(app)}`)).catch(() => undefined);
  }
}

console.log(`tenantproof verify end to end · PostgreSQL ${server.versionNum} (${server.provider}) · ${runs} runs · median of ${rounds} · pgbench ${pgbenchBin}`);
console.log('| schema | target checked | first run done | exit | range | exit codes | pgbench SELECT 1/s (same server, between rounds) |');
console.log('| --- | ---: | ---: | ---: | ---: | --- | ---: |');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
