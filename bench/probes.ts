/**
 * Benchmark (not a test): probes per second and time per tenant table at the default run count,
 * next to pgbench's raw statement rate on the same server in the same run, and a 5-table schema
 * verified end to end through the CLI (start-up included).
 *
 *   npx tsx bench/probes.ts            # embedded PostgreSQL 18
 *   DATABASE_URL=postgres://… npx tsx bench/probes.ts   # an existing server (admin role)
 *
 * Targets (issue 4): probes/s ≥ 50% of pgbench's raw rate; 5 tables verified in ≤ 10 s end to end.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createScratchDatabase, quoteIdent, startPostgres, withClient } from '../fixtures/index.ts';
import { verifyTarget } from '../fixtures/probes/engine.ts';
import { defaultRuns } from '../fixtures/target/config.ts';
import { targetDefaults, type TargetConfig } from '../fixtures/target/types.ts';
import { baseSchema } from '../suites/isolation/corpus.ts';

const seconds = Number(process.env.BENCH_PGBENCH_SECONDS ?? 5);
const runs = Number(process.env.BENCH_RUNS ?? defaultRuns);

await using server = await startPostgres();
await using db = await createScratchDatabase(server.adminUrl, 'bench');
const app = `bench_app_${db.name}`;
await withClient(server.adminUrl, (c) => c.query(`create role ${quoteIdent(app)}`));
try {
  await withClient(db.url, async (c) => {
    await c.query(baseSchema('text').replaceAll('{app}', quoteIdent(app)));
    // A fifth tenant table, so the schema has five.
    await c.query(`create table labels (id bigint generated always as identity primary key, tenant_id text not null references tenants(id),
        name text not null, color text not null default 'grey', unique (tenant_id, name));
      alter table labels enable row level security; alter table labels force row level security;
      create policy tenant_isolation on labels to ${quoteIdent(app)}
        using (tenant_id = current_setting('app.current_tenant', true)) with check (tenant_id = current_setting('app.current_tenant', true));
      grant select, insert, update, delete on labels to ${quoteIdent(app)};`);
  });
  const target: TargetConfig = { ...targetDefaults, databaseUrl: db.url, model: 'rls', appRole: app };

  // 1. The engine alone, in this process.
  const result = await verifyTarget(target, { runs, seed: 1 });
  const probesPerSecond = result.probes / (result.elapsedMs / 1000);

  // 2. pgbench: raw statement rate (SELECT 1, one client, simple protocol) on the same server.
  const url = new URL(db.url);
  const script = join(mkdtempSync(join(tmpdir(), 'tp-bench-')), 'select1.sql');
  writeFileSync(script, 'SELECT 1;\n');
  const pgbench = spawnSync(
    'pgbench',
    ['-n', '-c', '1', '-T', String(seconds), '-f', script, '-h', url.hostname, '-p', url.port, '-U', decodeURIComponent(url.username), db.name],
    { encoding: 'utf8', env: { ...process.env, PGPASSWORD: decodeURIComponent(url.password) } },
  );
  const raw = Number(/tps = ([\d.]+)/.exec(pgbench.stdout)?.[1] ?? NaN);

  // 2b. The same SELECT 1 through node-postgres (the driver the probes use): the client-side ceiling.
  const nodeRaw = await withClient(db.url, async (c) => {
    const until = Date.now() + 2_000;
    let n = 0;
    while (Date.now() < until) {
      await c.query('select 1');
      n += 1;
    }
    return n / 2;
  });

  // 3. End to end: the CLI, start-up included, default run count.
  const started = Date.now();
  const cli = await new Promise<number | null>((done) => {
    const child = spawn(process.execPath, ['bin/tenantproof.js', 'verify', '--database-url', db.url, '--model', 'rls', '--app-role', app, '--seed', '1', '--report-dir', mkdtempSync(join(tmpdir(), 'tp-bench-r-'))], { stdio: 'ignore' });
    child.on('exit', done);
  });
  const endToEnd = (Date.now() - started) / 1000;

  const rows = [
    ['server', `PostgreSQL ${server.versionNum} (${server.provider})`],
    ['tenant tables', `${result.tables.length} (${result.tables.join(', ')})`],
    ['runs (default)', `${result.runs} (+${result.runsExecuted - result.runs} shrinking), ${result.findings.length} findings`],
    ['probes', String(result.probes)],
    ['engine time', `${(result.elapsedMs / 1000).toFixed(2)} s`],
    ['probes/s', probesPerSecond.toFixed(0)],
    ['time per tenant table', `${(result.elapsedMs / result.tables.length / 1000).toFixed(2)} s`],
    ['pgbench SELECT 1 (raw statements/s)', Number.isNaN(raw) ? `pgbench failed: ${pgbench.stderr.trim().split('\n').at(-1)}` : raw.toFixed(0)],
    ['probes/s vs raw rate', Number.isNaN(raw) ? '-' : `${((probesPerSecond / raw) * 100).toFixed(0)}% (target ≥ 50%)`],
    ['node-postgres SELECT 1 (statements/s)', nodeRaw.toFixed(0)],
    ['probes/s vs node-postgres rate', `${((probesPerSecond / nodeRaw) * 100).toFixed(0)}%`],
    ['CLI end to end (5 tables)', `${endToEnd.toFixed(1)} s, exit ${cli} (target ≤ 10 s)`],
  ];
  const width = Math.max(...rows.map(([k]) => k!.length));
  for (const [k, v] of rows) console.log(`${k!.padEnd(width)}  ${v}`);
} finally {
  await db.drop();
  await withClient(server.adminUrl, (c) => c.query(`drop role if exists ${quoteIdent(app)}`));
}
