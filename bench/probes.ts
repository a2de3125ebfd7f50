/**
 * Benchmark (not a test): probes per second and time per tenant table at the default run count,
 * next to two pgbench baselines on the same server in the same run, and a 5-table schema verified
 * end to end through the CLI (start-up included), with a breakdown of where that time goes.
 *
 *   npx tsx bench/probes.ts            # embedded PostgreSQL 18
 *   DATABASE_URL=postgres://… npx tsx bench/probes.ts   # an existing server (admin role)
 *
 * Baselines (pgbench, one client, simple protocol, one round trip per statement line):
 * - `SELECT 1`: the raw protocol floor, the fastest any statement can go.
 * - probe-equivalent: what the probe session sends, as one compound message (`\;`) per probe —
 *   `rollback to savepoint P; <statement>`, and on a context switch (here: per table)
 *   `rollback to savepoint C; set local role <app>; set_config(tenant); savepoint P; <statement>`
 *   — over the same five RLS tables with rows of two tenants: scans, aggregates, key lookups,
 *   updates and deletes aimed at the other tenant, blind updates/deletes. pgbench stops a client
 *   at the first SQL error, so probes that are meant to fail (foreign inserts) are not in it.
 *
 * Targets (issue 4): probes/s ≥ 50% of pgbench's raw rate; 5 tables verified in ≤ 10 s end to end.
 * The machine is shared: compare ratios measured in one run, not absolute rates across runs.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pgbench, pgbenchBin, runCli } from './tools.ts';
import { startPostgres } from '../fixtures/index.ts';
import { createScratchDatabase, quoteIdent, withClient } from '../src/index.ts';
import { verifyTarget, type VerifyResult } from '../src/index.ts';
import { defaultRuns } from '../src/index.ts';
import { targetDefaults, type TargetConfig } from '../src/index.ts';
import { baseSchema } from '../suites/isolation/corpus.ts';

const seconds = Number(process.env.BENCH_PGBENCH_SECONDS ?? 3);
const roundCount = Number(process.env.BENCH_ROUNDS ?? 3);
const runs = Number(process.env.BENCH_RUNS ?? defaultRuns);

/** The bench schema: the corpus's correct schema plus a fifth tenant table, so it has five. */
function schemaSql(app: string): string {
  return `${baseSchema('text').replaceAll('{app}', quoteIdent(app))}
    create table labels (id bigint generated always as identity primary key, tenant_id text not null references tenants(id),
        name text not null, color text not null default 'grey', unique (tenant_id, name));
    alter table labels enable row level security; alter table labels force row level security;
    create policy tenant_isolation on labels to ${quoteIdent(app)}
      using (tenant_id = current_setting('app.current_tenant', true)) with check (tenant_id = current_setting('app.current_tenant', true));
    grant select, insert, update, delete on labels to ${quoteIdent(app)};`;
}

/** Rows of two tenants (a, b) in every table, for the probe-equivalent pgbench script. */
const seedRowsSql = `
  insert into tenants values ('bench-a', 'A'), ('bench-b', 'B');
  insert into projects (tenant_id, name, budget) select t, t || '-p' || i, i * 10 from unnest(array['bench-a', 'bench-b']) t, generate_series(1, 3) i;
  insert into tasks (tenant_id, project_id, title, estimate) select p.tenant_id, p.id, p.name || '-t' || i, i from projects p, generate_series(1, 2) i;
  insert into comments (tenant_id, task_id, author_email, body) select t.tenant_id, t.id, 'x@example.com', 'body' from tasks t;
  insert into attachments (comment_id, filename, size_bytes) select c.id, 'f.txt', 10 from comments c;
  insert into labels (tenant_id, name) select t, t || '-l' || i from unnest(array['bench-a', 'bench-b']) t, generate_series(1, 3) i;`;

/** One pgbench line per probe, acting as tenant a against tenant b's rows (ids read from the database). */
async function probeScript(url: string, app: string): Promise<{ text: string; probes: number }> {
  const victim = await withClient(url, async (c) => {
    const one = async (sql: string) => String((await c.query<{ v: string }>(sql)).rows[0]!.v);
    return {
      project: await one(`select id::text as v from projects where tenant_id = 'bench-b' limit 1`),
      task: await one(`select id::text as v from tasks where tenant_id = 'bench-b' limit 1`),
      comment: await one(`select id::text as v from comments where tenant_id = 'bench-b' limit 1`),
      attachment: await one(`select a.id::text as v from attachments a join comments c on c.id = a.comment_id where c.tenant_id = 'bench-b' limit 1`),
      label: await one(`select id::text as v from labels where tenant_id = 'bench-b' limit 1`),
    };
  });
  const key = `t.tableoid::int::text || ':' || t.ctid::text`;
  const tables: { name: string; id: string; touch: string; tenant: boolean }[] = [
    { name: 'projects', id: victim.project, touch: 'name', tenant: true },
    { name: 'tasks', id: victim.task, touch: 'title', tenant: true },
    { name: 'comments', id: `'${victim.comment}'::uuid`, touch: 'body', tenant: true },
    { name: 'attachments', id: victim.attachment, touch: 'filename', tenant: false },
    { name: 'labels', id: victim.label, touch: 'name', tenant: true },
  ];
  const perTable: string[][] = [];
  for (const t of tables) {
    perTable.push([
      `select ${key} as tp_key${t.tenant ? ', t.tenant_id::text as tp_tenant' : ''} from ${t.name} t limit 53`,
      t.tenant ? `select t.tenant_id::text as tp_group, count(*)::int as tp_count from ${t.name} t group by 1` : `select count(*)::int as tp_count from ${t.name} t`,
      `select ${key} as tp_key from ${t.name} t where (t.id) = (${t.id})`,
      `update ${t.name} t set ${t.touch} = t.${t.touch} where (t.id) = (${t.id})`,
      `delete from ${t.name} t where (t.id) = (${t.id})`,
      `update ${t.name} set ${t.touch} = ${t.touch}`,
    ]);
  }
  // As the probe session sends them: the context is entered again for each table's first probe
  // (tenantproof switches context about as often: per acting tenant and table, and around
  // trigger-less probes), and the other probes only roll back to the probe savepoint.
  const enter = `set local role ${quoteIdent(app)} \\; select set_config('app.current_tenant', 'bench-a', true) \\; savepoint tp_p`;
  const lines = ['begin \\; savepoint tp_c;'];
  for (const statements of perTable) {
    statements.forEach((s, i) => lines.push(i === 0 ? `rollback to savepoint tp_c \\; ${enter} \\; ${s};` : `rollback to savepoint tp_p \\; ${s};`));
  }
  lines.push('rollback;');
  return { text: `${lines.join('\n')}\n`, probes: perTable.flat().length };
}


await using server = await startPostgres();
await using db = await createScratchDatabase(server.adminUrl, 'bench');
await using pgbenchDb = await createScratchDatabase(server.adminUrl, 'bench_pgb');
const app = `bench_app_${db.name}`;
await withClient(server.adminUrl, (c) => c.query(`create role ${quoteIdent(app)}`));
try {
  await withClient(db.url, (c) => c.query(schemaSql(app)));
  await withClient(pgbenchDb.url, async (c) => {
    await c.query(schemaSql(app));
    await c.query(seedRowsSql);
  });
  const target: TargetConfig = { ...targetDefaults, databaseUrl: db.url, model: 'rls', appRole: app };

  // 1–2. The engine alone (in this process), then pgbench on the same server (the raw floor, then
  // the probe-equivalent script), in interleaved rounds: on a shared machine the load changes from
  // one second to the next, so each figure is the median of its rounds and ratios are taken
  // within a round (the median of those is printed).
  const script = await probeScript(pgbenchDb.url, app);
  const rounds: { result: VerifyResult; probesPerSecond: number; raw: number; equivalent: number }[] = [];
  let pgbenchError: string | null = null;
  for (let i = 0; i < roundCount; i++) {
    const result = await verifyTarget(target, { runs, seed: 1 });
    const raw = pgbench(pgbenchDb.url, 'SELECT 1;\n', seconds);
    const equivalent = pgbench(pgbenchDb.url, script.text, seconds);
    pgbenchError ??= raw.error ?? equivalent.error;
    rounds.push({ result, probesPerSecond: result.probes / (result.elapsedMs / 1000), raw: raw.tps, equivalent: equivalent.tps * script.probes });
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const spread = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
  const result = rounds[0]!.result;
  const elapsedMs = median(rounds.map((r) => r.result.elapsedMs));
  const probesPerSecond = median(rounds.map((r) => r.probesPerSecond));
  const rawRate = median(rounds.map((r) => r.raw));
  const equivalentRate = median(rounds.map((r) => r.equivalent));
  const vsRaw = median(rounds.map((r) => r.probesPerSecond / r.raw));
  const vsEquivalent = median(rounds.map((r) => r.probesPerSecond / r.equivalent));

  // 3. End to end: the CLI, start-up included, default run count; then the CLI's bare start-up.
  const cli = await runCli(['verify', '--database-url', db.url, '--model', 'rls', '--app-role', app, '--seed', '1', '--report-dir', mkdtempSync(join(tmpdir(), 'tp-bench-r-'))]);
  const bare = await runCli(['--help']);
  const header = cli.lines.find((l) => l.text.startsWith('tenantproof verify'))?.at ?? NaN;
  const firstRun = cli.lines.find((l) => /^\s+run \d+\//.test(l.text))?.at ?? NaN;
  const lastRun = cli.lines.filter((l) => /^\s+run \d+\//.test(l.text)).at(-1)?.at ?? NaN;

  const pct = (ratio: number) => (Number.isNaN(ratio) ? '-' : `${(ratio * 100).toFixed(0)}%`);
  const rows = [
    ['server', `PostgreSQL ${server.versionNum} (${server.provider}), pgbench ${pgbenchBin}`],
    ['tenant tables', `${result.tables.length} (${result.tables.join(', ')})`],
    ['runs (default)', `${result.runs} (+${result.runsExecuted - result.runs} shrinking), ${result.findings.length} findings`],
    ['probes', String(result.probes)],
    [`rounds (medians; range)`, `${roundCount} × (engine, pgbench ${seconds} s, pgbench ${seconds} s)`],
    ['engine time (worlds written + probed)', `${(elapsedMs / 1000).toFixed(2)} s`],
    ['probes/s', `${probesPerSecond.toFixed(0)} (${spread(rounds.map((r) => r.probesPerSecond))})`],
    ['time per tenant table', `${(elapsedMs / result.tables.length / 1000).toFixed(2)} s`],
    ['pgbench SELECT 1 (statements/s)', pgbenchError ? `pgbench failed: ${pgbenchError}` : `${rawRate.toFixed(0)} (${spread(rounds.map((r) => r.raw))})`],
    ['probes/s vs SELECT 1', `${pct(vsRaw)} (target ≥ 50%)`],
    [`pgbench probe-equivalent (probes/s, ${script.probes}/script)`, pgbenchError ? '-' : `${equivalentRate.toFixed(0)} (${spread(rounds.map((r) => r.equivalent))})`],
    ['probes/s vs probe-equivalent', pct(vsEquivalent)],
    ['CLI end to end (5 tables)', `${cli.seconds.toFixed(1)} s, exit ${cli.code} (target ≤ 10 s)`],
    ['  start-up (tsx + CLI imports, --help)', `${bare.seconds.toFixed(1)} s`],
    ['  to header (start-up, preflight, introspection)', `${header.toFixed(1)} s`],
    ['  header → first run (static rules, vitest child start, introspection again)', `${(firstRun - header).toFixed(1)} s`],
    ['  first → last run progress (engine)', `${(lastRun - firstRun).toFixed(1)} s`],
    ['  last run → exit (reports, child exit)', `${(cli.seconds - lastRun).toFixed(1)} s`],
  ];
  const width = Math.max(...rows.map(([k]) => k!.length));
  for (const [k, v] of rows) console.log(`${k!.padEnd(width)}  ${v}`);
  if (process.env.BENCH_VERBOSE) for (const l of cli.lines) console.log(`${l.at.toFixed(2).padStart(6)}s  ${l.text}`);
} finally {
  await db.drop();
  await pgbenchDb.drop();
  await withClient(server.adminUrl, (c) => c.query(`drop role if exists ${quoteIdent(app)}`));
}
