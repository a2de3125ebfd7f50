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
 * 4. Generate the Allure report from this run's results (each target under its own history, red
 *    cases labelled as expected catches, k6 summaries attached to the load cases) and write the
 *    compliance summary a reviewer signs (reports/compliance-summary.md and .json).
 *
 * Exit 0 when every expectation held, 1 otherwise. Step 3 needs k6: the job builds it once with
 * Go (load/install-k6.sh, cached in ~/.cache/tenantproof); without k6 and Go — or with
 * MAIN_JOB_SKIP_LOAD=1 — the load cases are reported *not run*, with the reason and the command to
 * get k6, and do not fail the job, unless TENANTPROOF_REQUIRE_TOOLS=1 (as .ci/run sets).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createScratchDatabase } from '../src/index.ts';
import { collectAllureResults, isRedLoadCase, type JobOutcome } from '../reports/allure-main-job.ts';
import { buildComplianceSummary, k6Figures, writeComplianceSummary, type ComplianceLoadCase, type ComplianceSummary, type ComplianceTarget } from '../reports/compliance.ts';
import { startPostgres, type PostgresServer } from '../fixtures/postgres/index.ts';
import { redisAvailable } from '../fixtures/redis.ts';
import { dropReferenceRoles, migrateReferenceDatabase, startReferenceApp, type VulnerabilityName } from '../reference-app/src/index.ts';

/**
 * One case of the job (reports/allure-main-job.ts declares the rest): `held` says whether the
 * outcome is what was expected — for verify, read from its findings.json, never from the exit code
 * alone; `why` why it did not; `notRun` why it did not run (no k6), neither passing nor failing.
 */
interface Outcome extends JobOutcome {
  readonly actual: number | null;
}

const reportsRoot = 'reports';
const verifyRoot = join(reportsRoot, 'verify');
const allureResults = join(verifyRoot, 'allure-results');
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
  /** The check whose finding is the vulnerability's symptom (a red case holds only when it is there). */
  readonly symptom?: string;
}

const verifyCases: readonly VerifyCase[] = [
  { name: 'reference-rls+rls-not-forced', vulnerabilities: ['rls-not-forced'], appRole: 'owner', expected: 1, symptom: 'probe-read-scan' },
];

/** `tenantproof verify` as a user would run it, with the main job's seed and run count. */
async function verifyCli(name: string, expected: 0 | 1, flags: readonly string[], symptom?: string): Promise<Outcome> {
  const reportDir = join(verifyRoot, name);
  console.log(`\n== tenantproof verify: ${name} (expect exit ${expected}${symptom ? `, a ${symptom} finding` : ''})`);
  const { actual, seconds } = await run(process.execPath, [
    'bin/tenantproof.js', 'verify', ...flags, '--runs', runs, '--seed', seed, '--report-dir', reportDir,
  ]);
  const why = verifyMismatch(reportDir, expected, actual, symptom);
  return { name, kind: 'verify', expected, actual, seconds, reportDir, held: why === null, ...(why ? { why } : {}) };
}

/**
 * Null when the run did what was expected, judged from its findings.json and not from the exit code
 * alone (a crash exits 1 too): the shipped build's verdict is 'verified'; a red case's is 'findings'
 * with a finding of the vulnerability's own check.
 */
function verifyMismatch(reportDir: string, expected: 0 | 1, actual: number | null, symptom?: string): string | null {
  if (actual !== expected) return `exit ${actual ?? 'killed'}, expected ${expected}`;
  const file = join(reportDir, 'findings.json');
  if (!existsSync(file)) return 'no findings.json was written';
  const report = JSON.parse(readFileSync(file, 'utf8')) as { verdict: string; findings: { checkId: string; affected?: { checkId: string }[] }[] };
  if (report.verdict !== (expected === 0 ? 'verified' : 'findings')) return `verdict ${report.verdict}`;
  // The symptom may stand on its own or under its root cause (findings are grouped by cause).
  if (symptom && !report.findings.some((f) => f.checkId === symptom || (f.affected ?? []).some((a) => a.checkId === symptom))) return `no ${symptom} finding (found: ${[...new Set(report.findings.map((f) => f.checkId))].join(', ') || 'none'})`;
  return null;
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
    ], testCase.symptom);
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
      ], 'probe-schema-read'),
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
      ], 'probe-database-connect'),
    );
    await dropReferenceRoles(db.url).catch(() => undefined);
  }
  return outcomes;
}

const k6Version = 'v2.2.0';
const getK6 = 'install Go >= 1.25 and run: bash load/install-k6.sh (or set K6_BIN to a k6 binary)';

/**
 * Gets k6 for the load cases: K6_BIN, else .tools/bin/k6, else k6 on PATH, else load/install-k6.sh, which copies
 * the cached build or builds it once when Go is on PATH. Returns why k6 cannot be had, or undefined.
 */
async function prepareK6(): Promise<string | undefined> {
  if (process.env.MAIN_JOB_SKIP_LOAD === '1') return 'MAIN_JOB_SKIP_LOAD=1';
  const explicit = process.env.K6_BIN?.trim();
  if (explicit === 'none') return 'K6_BIN=none hides k6';
  if (explicit) return existsSync(explicit) ? undefined : `K6_BIN=${explicit} does not exist`;
  if (existsSync('.tools/bin/k6')) return undefined;
  const onPath = (process.env.PATH ?? '').split(':').filter(Boolean).map((dir) => join(dir, 'k6')).find((file) => existsSync(file));
  if (onPath) {
    process.env.K6_BIN = onPath; // load/run.ts takes its k6 from K6_BIN
    return undefined;
  }
  const cacheDir = join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? '~', '.cache'), 'tenantproof', `k6-${k6Version}`);
  const cache = join(cacheDir, 'k6');
  const haveGo = !spawnSync('go', ['version'], { stdio: 'ignore' }).error;
  if (!existsSync(cache) && !haveGo) return 'k6 is not installed and Go is not on PATH to build it';
  console.log(`\n== k6 ${k6Version}: ${existsSync(cache) ? `copying the build cached in ${cacheDir}` : `building it with Go, once (cached in ${cacheDir}; a few minutes)`}`);
  const { actual } = await run('bash', ['load/install-k6.sh']);
  return actual === 0 ? undefined : `building k6 failed (load/install-k6.sh exited ${actual ?? 'on a signal'})`;
}

const loadCases: readonly { readonly name: string; readonly args: readonly string[] }[] = [
  { name: 'shipped build holds', args: [] },
  { name: 'red case: rate-limit-global', args: ['--vulnerabilities', 'rate-limit-global', '--expect-fail'] },
  { name: 'red case: stats-unscoped', args: ['--vulnerabilities', 'stats-unscoped', '--expect-fail'] },
  { name: 'red case: cache-key-unscoped', args: ['--vulnerabilities', 'cache-key-unscoped', '--expect-fail'] },
  ...['no-rate-limit', 'no-pool-share', 'no-statement-timeout'].map((protection) => ({
    name: `red case: ${protection}`,
    args: ['--scenario', 'noisy-neighbour', '--vulnerabilities', protection, '--expect-fail'],
  })),
  { name: 'isolation under load, hybrid: shipped build holds', args: ['--scenario', 'isolation-under-load', '--model', 'hybrid'] },
  ...['session-level-context', 'search-path-session', 'shared-store-key-unscoped'].map((vulnerability) => ({
    name: `isolation under load, red case: ${vulnerability}`,
    args: ['--scenario', 'isolation-under-load', '--model', 'hybrid', '--vulnerabilities', vulnerability, '--expect-fail'],
  })),
];

/** The k6 cases, or each reported not run (with why and how to get k6) when k6 cannot be had. */
async function loadAll(): Promise<Outcome[]> {
  const notRun = await prepareK6();
  if (notRun === undefined) {
    const outcomes: Outcome[] = [];
    for (const testCase of loadCases) {
      // The shared-store case needs redis-server; without it that case alone is not run (with how to get it).
      if (testCase.args.includes('shared-store-key-unscoped') && !redisAvailable()) {
        const why = 'redis-server is not installed — apt-get install redis-server';
        console.log(`\n== k6: ${testCase.name}: not run (${why})`);
        outcomes.push({ name: testCase.name, kind: 'load', expected: 0, actual: null, seconds: 0, notRun: why, held: false });
        continue;
      }
      outcomes.push(await load(testCase.name, testCase.args));
    }
    return outcomes;
  }
  const how = notRun.startsWith('MAIN_JOB_SKIP_LOAD') ? 'unset it to run them' : getK6;
  console.log(`\n== k6 noisy neighbour: not run (${loadCases.length} cases): ${notRun} — ${how}`);
  return loadCases.map(({ name }) => ({ name, kind: 'load', expected: 0, actual: null, seconds: 0, notRun: `${notRun} — ${how}`, held: false }));
}

async function load(name: string, args: readonly string[]): Promise<Outcome> {
  console.log(`\n== k6: ${name}`);
  const started = Date.now();
  const { actual, seconds } = await run(process.execPath, ['--import', 'tsx', 'load/run.ts', ...args]);
  // With --expect-fail, run.ts exits 0 when the red case was caught.
  return { name, kind: 'load', expected: 0, actual, seconds, held: actual === 0, summaryDirs: summariesSince(started), ...(actual === 0 ? {} : { why: `exit ${actual ?? 'killed'}` }) };
}

/** The k6 summary folders under reports/load written since `since` (one load case writes one). */
function summariesSince(since: number): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name === 'summary.json' && statSync(path).mtimeMs >= since - 1_000) found.push(dir);
    }
  };
  walk(join(reportsRoot, 'load'));
  return found;
}


/** A case not run passes only when skipping is allowed (never under TENANTPROOF_REQUIRE_TOOLS=1). */
const toolsRequired = process.env.TENANTPROOF_REQUIRE_TOOLS === '1' || process.env.TENANTPROOF_REQUIRE_TOOLS === 'true';
const ok = (o: Outcome) => (o.notRun ? !toolsRequired : o.held);

/**
 * The compliance summary over every target of the run: each verify target's own summary (written
 * by the CLI into its report folder) with the job's expectation, and the k6 cases with their figures.
 */
function complianceOf(outcomes: readonly Outcome[]) {
  const targets: ComplianceTarget[] = [];
  for (const o of outcomes.filter((x) => x.kind === 'verify' && x.reportDir)) {
    const file = join(o.reportDir!, 'compliance-summary.json');
    if (!existsSync(file)) continue;
    const own = (JSON.parse(readFileSync(file, 'utf8')) as ComplianceSummary).targets[0];
    if (own) targets.push({ ...own, name: o.name, expectation: o.expected === 0 ? 'must verify' : 'red case: findings expected', held: o.held });
  }
  const load: ComplianceLoadCase[] = outcomes
    .filter((o) => o.kind === 'load')
    .map((o) => {
      const red = isRedLoadCase(o.name);
      return {
        name: o.name,
        checkId: /isolation under load/.test(o.name) ? 'load-isolation-under-load' : 'load-noisy-neighbour',
        expectation: red ? 'red case: findings expected' : 'must verify',
        outcome: o.notRun ? 'not run' : o.held ? (red ? 'caught' : 'held') : 'failed',
        ...(o.notRun ? { reason: o.notRun } : o.why ? { reason: o.why } : {}),
        figures: Object.assign({}, ...(o.summaryDirs ?? []).map((dir) => k6Figures(dir))) as Record<string, number | null>,
      };
    });
  const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
  return buildComplianceSummary({ title: 'tenantproof — compliance summary of the reference app', tenantproofVersion: version, targets, load });
}

function summary(outcomes: readonly Outcome[]): string {
  const rows = outcomes.map((o) =>
    o.notRun
      ? `| ${o.kind} | ${o.name} | ${o.expected} | not run | ${toolsRequired ? '**NOT RUN** (TENANTPROOF_REQUIRE_TOOLS=1)' : 'not run (below)'} | — |`
      : `| ${o.kind} | ${o.name} | ${o.expected} | ${o.actual ?? 'killed'} | ${ok(o) ? 'as expected' : `**UNEXPECTED**: ${o.why ?? ''}`} | ${o.seconds.toFixed(1)} s |`,
  );
  const notRun = outcomes.filter((o) => o.notRun).length;
  return [
    '## Main job: expectations',
    '',
    `Seed ${seed}, ${runs} property runs per target. Verdict: **${outcomes.every(ok) ? 'every expectation held' : 'some expectations failed'}**` +
      `${notRun ? ` (${notRun} case${notRun === 1 ? '' : 's'} not run)` : ''}.`,
    '',
    'verify exit codes: 0 verified, 1 findings, 2 cannot run, 3 incomplete (something not proven). Load: 0 means the scenario held (or, for a red case, caught the variant).',
    '',
    '| kind | target | expected | actual | result | time |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    ...[...new Set(outcomes.flatMap((o) => (o.notRun ? [o.notRun] : [])))].map((why) => `Not run: ${why}.`),
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
  outcomes.push(...(await loadAll()));
  collectAllureResults(allureResults, outcomes);
  const text = summary(outcomes);
  const written = await writeComplianceSummary(reportsRoot, complianceOf(outcomes));
  // The reviewer's summary first, then the job's own expectations (times, exit codes).
  writeFileSync(written[0]!, `${readFileSync(written[0]!, 'utf8')}\n${text}`);
  console.log(`\n${text}\nCompliance summary: ${written.join(', ')}`);
  // One HTML file that opens from disk, without analytics, rebuilt from scratch (reports/allure-html.ts).
  const report = spawnSync(process.execPath, ['--import', 'tsx', 'reports/allure-html.ts', allureResults], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (report.status !== 0) console.log(`raw Allure results are in ${allureResults}`);
  const ran = outcomes.filter((o) => !o.notRun);
  const held = ran.filter(ok).length;
  const notRun = outcomes.find((o) => o.notRun)?.notRun;
  console.log(
    `main job: ${held} passed, ${ran.length - held} failed` +
      (notRun ? `, ${outcomes.length - ran.length} not run (${notRun})${toolsRequired ? ': a failure under TENANTPROOF_REQUIRE_TOOLS=1' : ''}` : ''),
  );
  return outcomes.every(ok) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`main job: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    process.exit(2);
  },
);
