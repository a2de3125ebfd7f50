/**
 * Benchmark (not a test): what a noisy neighbour costs the other tenants, and what the app costs
 * next to PostgreSQL itself — figures printed from one run of this script, never asserted.
 *
 *   npx tsx bench/noisy-neighbour.ts [--phase-seconds 8] [--throughput-seconds 10] [--clients 16]
 *
 * 1. Victim p95 and error rate (the k6 noisy-neighbour scenario, load/run.ts, rls tenants): the quiet
 *    baseline, the machine floor (aggressor at the same rate against GET /health) and the protected
 *    contended phase of the shipped build; then the contended phase with each protection switched
 *    off in turn (`no-rate-limit`, `no-pool-share`, `no-statement-timeout`).
 * 2. Read-route throughput: GET /projects of one tenant per isolation model (rls, schema, database)
 *    with CLIENTS concurrent k6 VUs, and the PostgreSQL round trips one such request makes (counted
 *    on pg's Client in this process, which runs the app), next to pgbench on the same server — its
 *    built-in select-only script (raw rate) and a script shaped like the app's rls tenant
 *    transaction (BEGIN, set_config of the tenant, the project list under RLS, COMMIT) as the app role.
 * Needs k6 (`bash load/install-k6.sh`) and pgbench (PG_BIN, default /usr/lib/postgresql/15/bin).
 */
import { spawn, spawnSync } from 'node:child_process';
import pg from 'pg';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startPostgres } from '../fixtures/index.ts';
import { createScratchDatabase, withClient } from '../src/index.ts';
import { dropReferenceRoles, startReferenceApp } from '../reference-app/src/index.ts';

const { values } = parseArgs({
  options: { only: { type: 'string' }, 'phase-seconds': { type: 'string', default: '8' }, 'throughput-seconds': { type: 'string', default: '10' }, clients: { type: 'string', default: '16' } },
});
const k6Bin = process.env.K6_BIN ?? '.tools/bin/k6';
const pgbench = join(process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin', 'pgbench');
const seconds = Number(values['throughput-seconds']);
const clients = Number(values.clients);

interface VictimFigures {
  baseline: { p95: number; errors: number };
  floor: { p95: number; errors: number };
  contended: { p95: number; errors: number };
}

function runLoad(vulnerability: string | undefined): Promise<VictimFigures> {
  const args = ['--import', 'tsx', 'load/run.ts', '--scenario', 'noisy-neighbour', '--model', 'rls', '--phase-seconds', values['phase-seconds']!];
  if (vulnerability) args.push('--vulnerabilities', vulnerability);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 2) return reject(new Error(`load/run.ts could not run ${vulnerability ?? 'the shipped build'}`));
      const file = `reports/load/noisy-neighbour/rls/${vulnerability ?? 'correct'}/victims.json`;
      resolve(JSON.parse(readFileSync(file, 'utf8')) as VictimFigures);
    });
  });
}

const ms = (n: number) => `${n.toFixed(1)} ms`;
const pct = (n: number) => `${(n * 100).toFixed(2)} %`;

async function victims(): Promise<void> {
  // Each variant is its own k6 run (a fresh app): its contended phase is compared with the floor
  // measured in the same run, so load from elsewhere on a shared machine moves both alike.
  const runs: [string, VictimFigures][] = [['protected (shipped build)', await runLoad(undefined)]];
  for (const protection of ['no-rate-limit', 'no-pool-share', 'no-statement-timeout']) runs.push([`${protection} (that protection off)`, await runLoad(protection)]);
  console.log('\nVictim latency and errors (3 rls victims at 5 it/s each; aggressor 60 req/s = 12×; one k6 run per row)');
  console.log('| run | baseline p95 | floor p95 | contended p95 | contended ÷ floor | contended ÷ baseline | victim errors (baseline / floor / contended) |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const [name, f] of runs) {
    console.log(
      `| ${name} | ${ms(f.baseline.p95)} | ${ms(f.floor.p95)} | ${ms(f.contended.p95)} | ${(f.contended.p95 / f.floor.p95).toFixed(2)} | ${(f.contended.p95 / f.baseline.p95).toFixed(2)} | ${pct(f.baseline.errors)} / ${pct(f.floor.errors)} / ${pct(f.contended.errors)} |`,
    );
  }
}

/** k6 runs asynchronously: the app under test lives in this process, so blocking it would measure nothing. */
async function k6Throughput(baseUrl: string, token: string, path: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'tp-bench-'));
  const script = join(dir, 'read.ts');
  writeFileSync(
    script,
    `import http from 'k6/http';
export const options = { vus: ${clients}, duration: '${seconds}s', summaryTrendStats: ['p(95)'] };
export default function () { http.get('${baseUrl}${path}', { headers: { authorization: 'Bearer ${token}' } }); }
export function handleSummary(data) { return { '${join(dir, 'summary.json')}': JSON.stringify(data) }; }
`,
  );
  const status = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(k6Bin, ['run', '--quiet', '--no-usage-report', script], { stdio: ['ignore', 'ignore', 'inherit'], timeout: (seconds + 60) * 1000 });
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (status !== 0) throw new Error(`k6 throughput run failed (${status})`);
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as { metrics: Record<string, { values: Record<string, number> }> };
  const failed = summary.metrics.http_req_failed?.values.rate ?? 1;
  if (failed > 0) throw new Error(`${(failed * 100).toFixed(1)} % of the throughput requests failed`);
  return summary.metrics.http_reqs!.values.rate!;
}

function pgbenchTps(url: string, args: string[], env: Record<string, string> = {}): number {
  const u = new URL(url);
  const run = spawnSync(
    pgbench,
    ['-h', u.hostname, '-p', u.port, '-U', decodeURIComponent(u.username), '-c', String(clients), '-j', '2', '-T', String(seconds), '-n', ...args, u.pathname.slice(1)],
    { encoding: 'utf8', env: { ...process.env, PGPASSWORD: decodeURIComponent(u.password), ...env }, timeout: (seconds + 60) * 1000 },
  );
  const tps = /tps = ([\d.]+)/.exec(run.stdout)?.[1];
  if (run.status !== 0 || !tps) throw new Error(`pgbench failed: ${run.stderr.trim().split('\n').pop()}`);
  return Number(tps);
}

async function throughput(): Promise<void> {
  if (!existsSync(pgbench)) throw new Error(`no pgbench at ${pgbench} (PG_BIN)`);
  await using server = await startPostgres();
  await using db = await createScratchDatabase(server.adminUrl, 'bench');
  const app = await startReferenceApp({ databaseUrl: db.url, rateLimit: { max: 1_000_000, timeWindowMs: 1000 }, poolSize: 10 });
  // Every statement the app sends goes through pg's Client.query (pool.query included): one call is
  // one round trip (a multi-statement simple query included).
  let roundTrips = 0;
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    roundTrips++;
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  try {
    const rows: { model: string; rate: number; trips: number }[] = [];
    let tenant = { id: '' };
    for (const model of ['rls', 'schema', 'database'] as const) {
      const signup = await fetch(`${app.url}/signup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ tenant: { slug: `bench-${model}`, name: 'bench', plan: 'pro', model }, email: `a@bench-${model}.test`, password: 'bench-password-1' }),
      });
      if (signup.status !== 201) throw new Error(`signup (${model}) answered ${signup.status}: ${await signup.text()}`);
      const body = (await signup.json()) as { token: string; tenant: { id: string } };
      if (model === 'rls') tenant = body.tenant;
      const auth = { authorization: `Bearer ${body.token}` };
      for (let i = 0; i < 5; i++) await fetch(`${app.url}/projects`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ name: `bench ${i}` }) });
      const sample = 50;
      for (let i = 0; i < 5; i++) await fetch(`${app.url}/projects`, { headers: auth }); // warm the pools
      const before = roundTrips;
      for (let i = 0; i < sample; i++) {
        const response = await fetch(`${app.url}/projects`, { headers: auth });
        if (response.status !== 200) throw new Error(`GET /projects (${model}) answered ${response.status}`);
        await response.arrayBuffer();
      }
      const trips = (roundTrips - before) / sample;
      rows.push({ model, trips, rate: await k6Throughput(app.url, body.token, '/projects') });
    }
    // pgbench's own tables in the same database, then its select-only script: the server's raw rate.
    const init = spawnSync(pgbench, ['-i', '-s', '1', '-q', '-h', new URL(db.url).hostname, '-p', new URL(db.url).port, '-U', decodeURIComponent(new URL(db.url).username), new URL(db.url).pathname.slice(1)], {
      env: { ...process.env, PGPASSWORD: decodeURIComponent(new URL(db.url).password) },
      encoding: 'utf8',
    });
    if (init.status !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
    const raw = pgbenchTps(db.url, ['-S']);
    // The app's tenant transaction, as the app role, without HTTP, auth or JSON.
    const dir = mkdtempSync(join(tmpdir(), 'tp-pgbench-'));
    const script = join(dir, 'tenant-read.sql');
    writeFileSync(
      script,
      `BEGIN;\nSELECT set_config('app.current_tenant', '${tenant.id}', true), set_config('search_path', 'app', true);\nSELECT id, name, description, status, budget_cents FROM projects ORDER BY created_at, id LIMIT 50;\nCOMMIT;\n`,
    );
    const tenantTx = pgbenchTps(app.database.appUrl, ['-f', script]);
    await withClient(db.url, (c) => c.query('drop table if exists pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers'));
    console.log(`\nRead-route throughput, ${clients} concurrent clients, ${seconds} s each, same PostgreSQL server (${server.provider})`);
    console.log('| what | PostgreSQL round trips per request | rate | ÷ pgbench -S |');
    console.log('| --- | --- | --- | --- |');
    for (const r of rows) console.log(`| app: GET /projects, ${r.model} tenant (HTTP, auth, RBAC, tenant transaction, JSON) | ${r.trips.toFixed(1)} | ${r.rate.toFixed(0)} req/s | ${(r.rate / raw).toFixed(3)} |`);
    console.log(`| pgbench -S (raw select-only, superuser) | 1 | ${raw.toFixed(0)} tps | 1.000 |`);
    console.log(`| pgbench: the app's rls tenant transaction as the app role (4 statements) | 4 | ${tenantTx.toFixed(0)} tps | ${(tenantTx / raw).toFixed(3)} |`);
  } finally {
    pg.Client.prototype.query = query;
    await app.close();
    await dropReferenceRoles(db.url);
  }
}

async function main(): Promise<void> {
  if (!existsSync(k6Bin)) throw new Error(`no k6 binary at ${k6Bin}: run bash load/install-k6.sh`);
  console.log(`bench/noisy-neighbour: ${new Date().toISOString()}, ${(await import('node:os')).cpus().length} CPUs`);
  if (values.only !== 'throughput') await victims();
  if (values.only !== 'victims') await throughput();
}

main().catch((error: unknown) => {
  console.error(`bench: ${(error as Error).message}`);
  process.exit(1);
});
