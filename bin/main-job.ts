/**
 * The main job (`npm run verify`): tenantproof proving the reference app, end to end, the way a
 * team would run it against its own database.
 *
 * 1. Start the reference app, sign tenants up over HTTP in each isolation model (a hybrid
 *    deployment: shared tables, own schemas, own databases), and run `tenantproof verify` on each
 *    model of it — the shipped build must verify (exit 0).
 * 2. For each named vulnerability that lives in the database, provision that variant and run the
 *    same command — it must be caught (exit 1). A verifier that passes a broken build has no teeth.
 * 3. Run the k6 noisy-neighbour scenario on the shipped build (must hold) and on the
 *    `rate-limit-global`, `stats-unscoped` and `cache-key-unscoped` variants (must be caught).
 * 4. Generate the Allure report from every run's results and write reports/compliance-summary.md.
 *
 * Exit 0 when every expectation held, 1 otherwise. Set MAIN_JOB_SKIP_LOAD=1 to skip step 3.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createScratchDatabase } from '../fixtures/db.ts';
import { startPostgres, type PostgresServer } from '../fixtures/postgres/index.ts';
import { dropReferenceRoles, migrateReferenceDatabase, startReferenceApp, type VulnerabilityName } from '../reference-app/src/index.ts';

interface Outcome {
  readonly name: string;
  readonly kind: 'verify' | 'load';
  readonly expected: number;
  readonly actual: number | null;
  readonly seconds: number;
  readonly reportDir?: string;
}

const reportsRoot = 'reports';
const verifyRoot = join(reportsRoot, 'verify');
const allureResults = join(reportsRoot, 'allure-results');
const seed = process.env.TENANTPROOF_SEED ?? '20261125';
const runs = process.env.TENANTPROOF_RUNS ?? '10';

/**
 * Runs a command to completion and times it. Asynchronous on purpose: this process owns the
 * embedded PostgreSQL server and must keep draining its log pipe while the command runs (a
 * blocking spawnSync would let the pipe fill and stall every backend).
 */
async function run(command: string, args: readonly string[]): Promise<{ actual: number | null; seconds: number }> {
  const started = Date.now();
  const actual = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit' });
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  return { actual, seconds: (Date.now() - started) / 1000 };
}

interface VerifyCase {
  readonly name: string;
  readonly vulnerabilities: readonly VulnerabilityName[];
  /** Which reference role the application logs in as in this variant. */
  readonly appRole: 'app' | 'owner';
  readonly expected: 0 | 1;
}

const verifyCases: readonly VerifyCase[] = [
  { name: 'reference-rls+rls-not-forced', vulnerabilities: ['rls-not-forced'], appRole: 'owner', expected: 1 },
];

/** `tenantproof verify` as a user would run it, with the main job's seed and run count. */
async function verifyCli(name: string, expected: 0 | 1, flags: readonly string[]): Promise<Outcome> {
  const reportDir = join(verifyRoot, name);
  console.log(`\n== tenantproof verify: ${name} (expect exit ${expected})`);
  const { actual, seconds } = await run(process.execPath, [
    'bin/tenantproof.js', 'verify', ...flags, '--runs', runs, '--seed', seed, '--report-dir', reportDir,
  ]);
  return { name, kind: 'verify', expected, actual, seconds, reportDir };
}

/** A database-level named vulnerability, provisioned through the app's migrations alone. */
async function verifyReference(server: PostgresServer, testCase: VerifyCase): Promise<Outcome> {
  await using db = await createScratchDatabase(server.adminUrl, 'mainjob');
  const reference = await migrateReferenceDatabase(db.url, { vulnerabilities: new Set(testCase.vulnerabilities) });
  try {
    return await verifyCli(testCase.name, testCase.expected, [
      '--database-url', db.url,
      '--model', 'rls',
      '--app-role', reference.roles[testCase.appRole],
      '--tenant-table', `${reference.schema}.tenants`,
    ]);
  } finally {
    await dropReferenceRoles(db.url).catch(() => undefined);
  }
}

async function post<T>(url: string, body: unknown, token?: string): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as T;
  if (!response.ok) throw new Error(`POST ${url} answered ${response.status}: ${JSON.stringify(json)}`);
  return json;
}

/** Signs up two tenants per model over HTTP, each with two projects; returns the deployment's database. */
async function signUpHybrid(db: { url: string }, vulnerabilities: readonly VulnerabilityName[]) {
  const models = ['rls', 'rls', 'schema', 'schema', 'database', 'database'] as const;
  await using app = await startReferenceApp({ databaseUrl: db.url, vulnerabilities: [...vulnerabilities] });
  for (const [i, model] of models.entries()) {
    const slug = `${model}-tenant-${i}`;
    const { token } = await post<{ token: string }>(`${app.url}/signup`, {
      tenant: { slug, name: `${model} tenant ${i}`, plan: 'pro', model },
      email: `owner@${slug}.test`,
      password: 'main-job-password-1',
    });
    for (let p = 0; p < 2; p++) await post(`${app.url}/projects`, { name: `${slug} project ${p}`, budgetCents: 100 * (p + 1) }, token);
  }
  console.log(`\nhybrid deployment${vulnerabilities.length ? ` with ${vulnerabilities.join(', ')}` : ''}: ${models.length} tenants signed up over HTTP (${models.join(', ')})`);
  return app.database;
}

/**
 * One hybrid deployment of the shipped app: `tenantproof verify` on the shared tables, the tenant
 * schemas and the tenant databases of that one deployment — each must verify. Then the same
 * deployment built with each model's named vulnerability, verified in that model — each must be
 * caught.
 */
async function verifyHybridDeployments(server: PostgresServer): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  {
    await using db = await createScratchDatabase(server.adminUrl, 'hybrid');
    const reference = await signUpHybrid(db, []);
    const patterns = reference.tenantObjects;
    // The shared tables only: the tenant schemas of the same database are the schema model's.
    outcomes.push(
      await verifyCli('hybrid-rls', 0, [
        '--database-url', db.url, '--model', 'rls', '--schemas', reference.schema,
        '--app-role', reference.roles.app, '--tenant-table', `${reference.schema}.tenants`,
      ]),
      await verifyCli('hybrid-schema', 0, ['--database-url', db.url, '--model', 'schema', '--schema-pattern', patterns.schemaPattern, '--tenant-role', patterns.schemaRoleTemplate]),
      await verifyCli('hybrid-database', 0, ['--database-url', db.url, '--model', 'database', '--database-pattern', patterns.databasePattern, '--tenant-role', patterns.databaseRoleTemplate]),
    );
    await dropReferenceRoles(db.url).catch(() => undefined);
  }
  {
    await using db = await createScratchDatabase(server.adminUrl, 'hybridss');
    const reference = await signUpHybrid(db, ['schema-shared-role']);
    // The app enters every tenant schema with one shared role: verify as that role.
    outcomes.push(
      await verifyCli('hybrid-schema+schema-shared-role', 1, [
        '--database-url', db.url, '--model', 'schema', '--schema-pattern', reference.tenantObjects.schemaPattern, '--app-role', `${reference.roles.tenantBase}_shared`,
      ]),
    );
    await dropReferenceRoles(db.url).catch(() => undefined);
  }
  {
    await using db = await createScratchDatabase(server.adminUrl, 'hybriddp');
    const reference = await signUpHybrid(db, ['database-public-connect']);
    const patterns = reference.tenantObjects;
    outcomes.push(
      await verifyCli('hybrid-database+database-public-connect', 1, [
        '--database-url', db.url, '--model', 'database', '--database-pattern', patterns.databasePattern, '--tenant-role', patterns.databaseRoleTemplate,
      ]),
    );
    await dropReferenceRoles(db.url).catch(() => undefined);
  }
  return outcomes;
}

async function load(name: string, args: string[]): Promise<Outcome> {
  console.log(`\n== k6 noisy neighbour: ${name}`);
  const { actual, seconds } = await run(process.execPath, ['--import', 'tsx', 'load/run.ts', ...args]);
  // With --expect-fail, run.ts exits 0 when the red case was caught.
  return { name, kind: 'load', expected: 0, actual, seconds };
}

function collectAllureResults(outcomes: readonly Outcome[]): void {
  mkdirSync(allureResults, { recursive: true });
  for (const outcome of outcomes) {
    const dir = outcome.reportDir && join(outcome.reportDir, 'allure-results');
    if (dir && existsSync(dir)) for (const file of readdirSync(dir)) cpSync(join(dir, file), join(allureResults, file));
  }
}

function summary(outcomes: readonly Outcome[]): string {
  const ok = (o: Outcome) => o.actual === o.expected;
  const rows = outcomes.map(
    (o) => `| ${o.kind} | ${o.name} | ${o.expected} | ${o.actual ?? 'killed'} | ${ok(o) ? 'as expected' : '**UNEXPECTED**'} | ${o.seconds.toFixed(1)} s |`,
  );
  return [
    '# tenantproof — compliance summary of the reference app',
    '',
    `Seed ${seed}, ${runs} property runs per target. Verdict: **${outcomes.every(ok) ? 'every expectation held' : 'some expectations failed'}**.`,
    '',
    'verify exit codes: 0 verified, 1 findings, 2 cannot run. Load: 0 means the scenario held (or, for a red case, caught the variant).',
    '',
    '| kind | target | expected | actual | result | time |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `Per-target reports (findings.json, junit.xml, tenantproof.sarif, summary.md): ${verifyRoot}/<target>/. Load summaries: ${reportsRoot}/load/.`,
    '',
  ].join('\n');
}

async function main(): Promise<number> {
  rmSync(verifyRoot, { recursive: true, force: true });
  rmSync(join(reportsRoot, 'load'), { recursive: true, force: true });
  const outcomes: Outcome[] = [];
  {
    await using server = await startPostgres();
    outcomes.push(...(await verifyHybridDeployments(server)));
    for (const testCase of verifyCases) outcomes.push(await verifyReference(server, testCase));
  }
  if (process.env.MAIN_JOB_SKIP_LOAD !== '1') {
    outcomes.push(await load('shipped build holds', []));
    outcomes.push(await load('red case: rate-limit-global', ['--vulnerabilities', 'rate-limit-global', '--expect-fail']));
    outcomes.push(await load('red case: stats-unscoped', ['--vulnerabilities', 'stats-unscoped', '--expect-fail']));
    outcomes.push(await load('red case: cache-key-unscoped', ['--vulnerabilities', 'cache-key-unscoped', '--expect-fail']));
    for (const protection of ['no-rate-limit', 'no-pool-share', 'no-statement-timeout']) {
      outcomes.push(await load(`red case: ${protection}`, ['--scenario', 'noisy-neighbour', '--vulnerabilities', protection, '--expect-fail']));
    }
    outcomes.push(await load('isolation under load, hybrid: shipped build holds', ['--scenario', 'isolation-under-load', '--model', 'hybrid']));
    for (const vulnerability of ['session-level-context', 'search-path-session', 'shared-store-key-unscoped']) {
      outcomes.push(await load(`isolation under load, red case: ${vulnerability}`, ['--scenario', 'isolation-under-load', '--model', 'hybrid', '--vulnerabilities', vulnerability, '--expect-fail']));
    }
  }
  collectAllureResults(outcomes);
  const text = summary(outcomes);
  writeFileSync(join(reportsRoot, 'compliance-summary.md'), text);
  console.log(`\n${text}`);
  const report = spawnSync('npx', ['allure', 'generate', allureResults], { stdio: ['ignore', 'ignore', 'inherit'] });
  console.log(report.status === 0 ? 'Allure report: reports/allure-report/index.html' : 'allure generate failed: raw results are in reports/allure-results');
  const held = outcomes.filter((o) => o.actual === o.expected).length;
  console.log(`main job: ${held} passed, ${outcomes.length - held} failed`);
  return held === outcomes.length ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`main job: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    process.exit(2);
  },
);
