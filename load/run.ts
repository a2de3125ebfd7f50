/**
 * Runs a k6 scenario against reference app instances it starts itself (embedded PostgreSQL, a
 * scratch database, Redis when a scenario needs the shared store; loopback only), then judges the
 * run from k6's summary.
 *
 *   tsx load/run.ts --scenario noisy-neighbour|isolation-under-load [--model rls|schema|database|hybrid]
 *                   [--vulnerabilities a,b --expect-fail] [--profile short|long]
 *
 * noisy-neighbour: victims at a steady rate; the aggressor (≥ 10×) against a trivial route (the
 * machine floor), then against its real mix with the heavy report. isolation-under-load: many
 * tenants on every route at once, every answer checked for the others' markers.
 *
 * A red case (--expect-fail) passes only when a threshold tied to its vulnerability is crossed
 * (`tiedThresholds`); a threshold whose metric recorded no value is an error (exit 2), never a catch.
 *
 * Exit: 0 all thresholds held (or, with --expect-fail, the tied threshold was crossed), 1 the
 * opposite, 2 cannot run (no k6 binary, bad option, a metric without a value). Never part of vitest.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createScratchDatabase } from '../src/index.ts';
import { CannotRunError, describeError } from '../src/index.ts';
import { startPostgres } from '../fixtures/postgres/index.ts';
import { redisAvailable, startRedis, type TestRedis } from '../fixtures/redis.ts';
import { writeReports } from '../reports/index.ts';
import { judge, loadChecks, loadFindings, type Crossing, type Summary } from './verdict.ts';
import { parseVulnerabilities, startReferenceApp, type IsolationModel, type ReferenceApp, type ReferenceAppOptions, type VulnerabilityName } from '../reference-app/src/index.ts';

export const scenarios = ['noisy-neighbour', 'isolation-under-load'] as const;
export type Scenario = (typeof scenarios)[number];
const modelChoices = ['rls', 'schema', 'database', 'hybrid'] as const;
type ModelChoice = (typeof modelChoices)[number];

interface TenantFixture {
  slug: string;
  id: string;
  token: string;
  model: IsolationModel;
  projectIds: string[];
  marker: string;
}


/** Which thresholds must catch each named vulnerability, per scenario (a red case passes only on these). */
export const tiedThresholds: Readonly<Record<Scenario, Partial<Record<VulnerabilityName, readonly string[]>>>> = {
  'noisy-neighbour': {
    'rate-limit-global': ['http_req_failed{scenario:victims_contended}'],
    'stats-unscoped': ['cross_tenant_rows'],
    'cache-key-unscoped': ['cross_tenant_rows'],
    'no-rate-limit': ['aggressor_throttled'],
    'no-pool-share': ['aggressor_pool_peak'],
    'no-statement-timeout': ['aggressor_report_statement_ms'],
  },
  'isolation-under-load': {
    'session-level-context': ['cross_tenant_data'],
    'search-path-session': ['cross_tenant_data'],
    'shared-store-key-unscoped': ['cross_tenant_data'],
    'cache-key-unscoped': ['cross_tenant_data'],
    'stats-unscoped': ['cross_tenant_data'],
    'rls-not-forced': ['cross_tenant_data'],
  },
};

/** Short: the main job and CI. Long: documented in load/README.md, run by hand. */
const profiles = {
  short: { phaseSeconds: 8, victims: 3, victimRate: 5, aggressorRate: 60, isolationSeconds: 10, isolationRate: 15, tenantsPerModel: 3, heavyComments: 150_000 },
  long: { phaseSeconds: 60, victims: 5, victimRate: 5, aggressorRate: 100, isolationSeconds: 120, isolationRate: 30, tenantsPerModel: 8, heavyComments: 150_000 },
} as const;

const k6Bin = process.env.K6_BIN ?? '.tools/bin/k6';

async function json<T>(response: Response, what: string): Promise<T> {
  const body = (await response.json()) as T;
  if (!response.ok) throw new CannotRunError(`${what} failed with ${response.status}: ${JSON.stringify(body)}`);
  return body;
}

async function post<T>(baseUrl: string, path: string, token: string | undefined, body: unknown, what: string): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  return json<T>(await fetch(`${baseUrl}${path}`, { method: 'POST', headers, body: JSON.stringify(body) }), what);
}

/** Signs a tenant up and plants its marker in every name it owns (projects, a task and a comment each, an invoice). */
async function seedTenant(baseUrl: string, slug: string, model: IsolationModel, projects: number, plan: 'pro' | 'enterprise'): Promise<TenantFixture> {
  const marker = `mk${randomBytes(5).toString('hex')}`;
  const signup = await post<{ token: string; tenant: { id: string; model: IsolationModel } }>(
    baseUrl,
    '/signup',
    undefined,
    { tenant: { slug, name: `${slug} ${marker}`, plan, model }, email: `owner@${slug}.test`, password: 'load-test-password-1' },
    `signup of ${slug}`,
  );
  const projectIds: string[] = [];
  for (let i = 0; i < projects; i += 1) {
    const project = await post<{ id: string }>(baseUrl, '/projects', signup.token, { name: `${marker} project ${i}`, budgetCents: 1000 * (i + 1) }, `project ${i} of ${slug}`);
    await post(baseUrl, `/projects/${project.id}/tasks`, signup.token, { title: `${marker} task ${i}` }, `task of ${slug}`);
    await post(baseUrl, `/projects/${project.id}/comments`, signup.token, { body: `${marker} comment ${i}` }, `comment of ${slug}`);
    projectIds.push(project.id);
  }
  await post(baseUrl, '/invoices', signup.token, { amountCents: 4200 + projects, projectId: projectIds[0] }, `invoice of ${slug}`);
  return { slug, id: signup.tenant.id, token: signup.token, model: signup.tenant.model, projectIds, marker };
}

/** Enough comments in `tenant`'s projects that its portfolio report runs far past a small statement timeout. */
async function makeHeavy(app: ReferenceApp, tenant: TenantFixture, comments: number): Promise<void> {
  await app.tenancy.withTenant({ id: tenant.id, slug: tenant.slug, model: tenant.model }, async (tx) => {
    await tx.query('set local statement_timeout = 0');
    await tx.query(
      `with ps as (select array_agg(id order by id) as ids from projects)
       insert into comments (project_id, author_id, body)
       select ps.ids[1 + g % array_length(ps.ids, 1)], md5(g::text)::uuid, repeat(md5(g::text), 1 + g % 7)
         from generate_series(1, $1::int) g, ps`,
      [comments],
    );
  });
}

/**
 * The run's findings (one per crossed threshold, load/verdict.ts) written next to k6's summary the
 * way `tenantproof verify` writes its own: findings.json, junit.xml and summary.md, so a crossed
 * load threshold reaches every report as a Finding.
 */
async function writeLoadReports(
  dir: string,
  crossed: readonly Crossing[],
  held: readonly Crossing[],
  run: { scenario: Scenario; variant: string; model: ModelChoice; models: readonly IsolationModel[]; started: number },
): Promise<void> {
  const deployment = `the reference app (${run.model === 'hybrid' ? `hybrid: ${run.models.join(', ')}` : run.model})`;
  const findings = loadFindings(crossed, { scenario: run.scenario, variant: run.variant, model: run.models[0]!, deployment });
  const checkOf = (c: Crossing) => loadChecks.find(([match]) => match(c.metric))?.[1].checkId ?? 'load-threshold-crossed';
  await writeReports(
    dir,
    {
      findings,
      rulesRun: [...new Set([...held, ...crossed].map(checkOf))],
      target: `${deployment}, k6 ${run.variant}`,
      model: run.models[0]!,
      startedAt: new Date(run.started),
      durationMs: Date.now() - run.started,
    },
    ['json', 'junit', 'summary'],
  );
}

function runK6(script: string, env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(k6Bin, ['run', '--quiet', '--no-usage-report', script], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
    child.once('error', reject);
    child.once('close', (code) => resolve(code ?? 1));
  });
}

const p95 = (summary: Summary, metric: string) => summary.metrics[metric]?.values?.['p(95)'] ?? Number.NaN;
const rate = (summary: Summary, metric: string) => summary.metrics[metric]?.values?.rate ?? Number.NaN;

async function main(): Promise<number> {
  const started = Date.now();
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string', default: 'noisy-neighbour' },
      model: { type: 'string', default: '' },
      vulnerabilities: { type: 'string', default: '' },
      'expect-fail': { type: 'boolean', default: false },
      profile: { type: 'string', default: process.env.LOAD_PROFILE ?? 'short' },
      'phase-seconds': { type: 'string' },
      'max-ratio': { type: 'string', default: '4' },
      'floor-ms': { type: 'string', default: '100' },
    },
  });
  const scenario = values.scenario as Scenario;
  if (!scenarios.includes(scenario)) throw new CannotRunError(`--scenario must be one of ${scenarios.join(', ')}`);
  const model = (values.model || (scenario === 'isolation-under-load' ? 'hybrid' : 'rls')) as ModelChoice;
  if (!modelChoices.includes(model)) throw new CannotRunError(`--model must be one of ${modelChoices.join(', ')}`);
  if (values.profile !== 'short' && values.profile !== 'long') throw new CannotRunError('--profile must be short or long');
  const profile = { ...profiles[values.profile] };
  if (values['phase-seconds'] !== undefined) {
    const phase = Number(values['phase-seconds']);
    if (!Number.isInteger(phase) || phase < 2 || phase > 300) throw new CannotRunError('--phase-seconds must be a whole number from 2 to 300');
    Object.assign(profile, { phaseSeconds: phase, isolationSeconds: phase });
  }
  const vulnerable = [...parseVulnerabilities(values.vulnerabilities)];
  if (values['expect-fail'] && vulnerable.length === 0) throw new CannotRunError('--expect-fail needs --vulnerabilities');
  for (const v of vulnerable) {
    if (values['expect-fail'] && !tiedThresholds[scenario][v]) throw new CannotRunError(`the ${scenario} scenario has no threshold tied to ${v}`);
  }
  if (scenario === 'noisy-neighbour' && model === 'database' && vulnerable.includes('no-pool-share')) {
    throw new CannotRunError('no-pool-share does not apply to --model database: a database tenant has a pool of its own, not a share of the shared pool');
  }
  if (!existsSync(k6Bin)) throw new CannotRunError(`no k6 binary at ${k6Bin}: run bash load/install-k6.sh (or set K6_BIN)`);

  const variant = `${scenario}/${model}/${vulnerable.length ? vulnerable.join('+') : 'correct'}`;
  const summaryDir = `reports/load/${variant}`;
  mkdirSync(summaryDir, { recursive: true });

  // isolation-under-load runs two instances on one Redis (the shared store), when redis-server is installed.
  const needsRedis = vulnerable.includes('shared-store-key-unscoped');
  if (needsRedis && !redisAvailable()) throw new CannotRunError('skipped: redis-server not installed — apt-get install redis-server');
  // The in-process cache's own flaw (`cache-key-unscoped`) lives only where there is no shared
  // store: with Redis the instances never use that cache, and the red case could not be caught.
  const inProcessCache = vulnerable.includes('cache-key-unscoped');
  if (needsRedis && inProcessCache) throw new CannotRunError('cache-key-unscoped (the in-process cache) and shared-store-key-unscoped (the Redis store) cannot be run together: an app uses one of the two caches');
  await using server = await startPostgres();
  await using db = await createScratchDatabase(server.adminUrl, 'load');
  let redis: TestRedis | undefined;
  if (scenario === 'isolation-under-load' && redisAvailable() && !inProcessCache) redis = await startRedis();
  const apps: ReferenceApp[] = [];
  try {
    const reportTimeoutMs = 200;
    const common: Omit<ReferenceAppOptions, 'databaseUrl'> =
      scenario === 'noisy-neighbour'
        ? {
            rateLimit: { max: 25, timeWindowMs: 1000 },
            poolSize: 8,
            poolShare: { maxPerTenant: 2, maxQueuedPerTenant: 50, queueTimeoutMs: 3000 },
            reportTimeoutsMs: { free: reportTimeoutMs, pro: reportTimeoutMs, enterprise: reportTimeoutMs },
          }
        : { rateLimit: { max: 100_000, timeWindowMs: 1000 }, poolSize: 10, ...(redis ? { store: { redisUrl: redis.url } } : {}) };
    const jwtSecret = randomBytes(32).toString('hex');
    const metricsToken = randomBytes(24).toString('hex');
    const models: IsolationModel[] = model === 'hybrid' ? ['rls', 'schema', 'database'] : [model];
    // The tenants are signed up and filled through a shipped-build instance (a vulnerable one may
    // break its own setup, e.g. `search-path-session`), then the instances under test start on the
    // same database and secret (database-level vulnerabilities are applied as they start).
    const seeder = await startReferenceApp({ ...common, rateLimit: { max: 100_000, timeWindowMs: 1000 }, databaseUrl: db.url, jwtSecret, metricsToken });
    const tenants: TenantFixture[] = [];
    const victims: TenantFixture[] = [];
    let aggressor: TenantFixture | undefined;
    try {
      if (scenario === 'isolation-under-load') {
        for (const m of models) {
          for (let i = 0; i < profile.tenantsPerModel; i += 1) tenants.push(await seedTenant(seeder.url, `iso-${m}-${i}`, m, 2 + tenants.length, 'enterprise'));
        }
      } else {
        for (let i = 0; i < profile.victims; i += 1) victims.push(await seedTenant(seeder.url, `victim-${i}`, models[i % models.length]!, 5 + i, 'pro'));
        aggressor = await seedTenant(seeder.url, 'aggressor', models[0]!, 8, 'pro');
        await makeHeavy(seeder, aggressor, profile.heavyComments);
      }
    } finally {
      await seeder.close();
    }
    apps.push(await startReferenceApp({ ...common, databaseUrl: db.url, vulnerabilities: vulnerable, jwtSecret, metricsToken }));
    if (redis) apps.push(await startReferenceApp({ ...common, databaseUrl: db.url, vulnerabilities: vulnerable, jwtSecret, metricsToken }));
    const first = apps[0]!;
    const note = `${apps.length} instance(s)${redis ? ' sharing Redis' : ''}${vulnerable.length ? ` with ${vulnerable.join(',')}` : ''}`;

    let k6Exit: number;
    if (scenario === 'isolation-under-load') {
      console.log(`load: isolation-under-load, ${tenants.length} tenants (${models.join(', ')}), ${note}, ${profile.isolationSeconds}s`);
      k6Exit = await runK6('load/isolation-under-load.ts', {
        BASE_URLS: apps.map((a) => a.url).join(','),
        TENANTS: JSON.stringify(tenants),
        DURATION: String(profile.isolationSeconds),
        RATE: String(profile.isolationRate),
        METRICS_TOKEN: metricsToken,
        SUMMARY_DIR: summaryDir,
      });
    } else {
      if (!aggressor) throw new Error('no aggressor was seeded');
      console.log(`load: noisy-neighbour, ${victims.length} victims (${victims.map((v) => v.model).join(', ')}) at ${profile.victimRate}/s each, aggressor (${aggressor.model}) at ${profile.aggressorRate}/s, ${note}, 3 × ${profile.phaseSeconds}s`);
      k6Exit = await runK6('load/noisy-neighbour.ts', {
        BASE_URL: first.url,
        VICTIMS: JSON.stringify(victims),
        AGGRESSOR: JSON.stringify([aggressor]),
        PHASE_SECONDS: String(profile.phaseSeconds),
        VICTIM_RATE: String(profile.victimRate),
        AGGRESSOR_RATE: String(profile.aggressorRate),
        AGGRESSOR_VUS: '100',
        POOL_SHARE: aggressor.model === 'database' ? 'off' : '2',
        REPORT_BOUND_MS: String(reportTimeoutMs * 3),
        METRICS_TOKEN: metricsToken,
        SUMMARY_DIR: summaryDir,
      });
    }
    if (k6Exit !== 0 && k6Exit !== 99) throw new CannotRunError(`k6 failed to run the scenario (exit ${k6Exit})`);

    const summary = JSON.parse(readFileSync(`${summaryDir}/summary.json`, 'utf8')) as Summary;
    const { crossed, held, thresholds: judged } = judge(summary);
    if (scenario === 'noisy-neighbour') {
      const baseline = p95(summary, 'http_req_duration{scenario:victims_baseline}');
      const floor = p95(summary, 'http_req_duration{scenario:victims_floor}');
      const contended = p95(summary, 'http_req_duration{scenario:victims_contended}');
      if ([baseline, floor, contended].some(Number.isNaN)) throw new CannotRunError('victim p95 missing from the summary: the run measured nothing');
      const allowed = Math.max(floor * Number(values['max-ratio']), Number(values['floor-ms']));
      if (contended > allowed) {
        crossed.push(`victim p95 contended ${contended.toFixed(1)} ms > allowed ${allowed.toFixed(1)} ms (${values['max-ratio']}× the floor)`);
        judged.crossed.push({ metric: 'victim_p95_to_floor', expression: `<=${values['max-ratio']} (or p95 <= ${values['floor-ms']} ms)`, stat: 'ratio', value: contended / floor });
      }
      const table = {
        baseline: { p95: baseline, errors: rate(summary, 'http_req_failed{scenario:victims_baseline}') },
        floor: { p95: floor, errors: rate(summary, 'http_req_failed{scenario:victims_floor}') },
        contended: { p95: contended, errors: rate(summary, 'http_req_failed{scenario:victims_contended}') },
        ratioToFloor: contended / floor,
        ratioToBaseline: contended / baseline,
        aggressorThrottled: summary.metrics.aggressor_throttled?.values?.passes ?? Number.NaN,
        aggressorPoolPeak: summary.metrics.aggressor_pool_peak?.values?.max ?? Number.NaN,
        reportStatementMsMax: summary.metrics.aggressor_report_statement_ms?.values?.max ?? Number.NaN,
      };
      writeFileSync(`${summaryDir}/victims.json`, `${JSON.stringify(table, null, 2)}\n`);
      console.log(
        `load: victim p95 baseline ${baseline.toFixed(1)} ms, floor ${floor.toFixed(1)} ms, contended ${contended.toFixed(1)} ms ` +
          `(×${table.ratioToFloor.toFixed(2)} the floor; target ≤ ×1.2 ${table.ratioToFloor <= 1.2 ? 'met' : 'NOT met'}), victim errors ${(table.contended.errors * 100).toFixed(2)}%; ` +
          `aggressor throttled ${table.aggressorThrottled}×, pool peak ${table.aggressorPoolPeak} (share 2), report statement max ${table.reportStatementMsMax.toFixed(0)} ms (timeout ${reportTimeoutMs} ms)`,
      );
    }
    await writeLoadReports(summaryDir, judged.crossed, judged.held, { scenario, variant, model, models, started });
    for (const line of held) console.log(`load: held: ${line}`);
    for (const line of crossed) console.log(`load: crossed: ${line}`);
    if (values['expect-fail']) {
      // Caught only if, for every vulnerability named, one of its own thresholds was crossed.
      const missed = vulnerable.filter((v) => !(tiedThresholds[scenario][v] ?? []).some((metric) => crossed.some((c) => c.startsWith(`${metric} `))));
      if (missed.length === 0) console.log(`load: red case caught by its tied threshold(s), as expected (${variant})`);
      else console.log(`load: red case NOT caught by its tied threshold for ${missed.join(', ')} (${variant}): the scenario has no teeth for it`);
      return missed.length === 0 ? 0 : 1;
    }
    console.log(crossed.length > 0 ? `load: FAILED (${variant})` : `load: passed (${variant})`);
    return crossed.length > 0 ? 1 : 0;
  } finally {
    for (const app of apps.reverse()) await app.close().catch(() => undefined);
    await redis?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`load: ${describeError(error)}`);
    process.exit(error instanceof CannotRunError ? 2 : 1);
  },
);
