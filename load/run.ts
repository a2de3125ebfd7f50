/**
 * Runs the k6 noisy-neighbour scenario against a reference app it starts itself (embedded
 * PostgreSQL, scratch database, loopback only), then checks the quiet tenant's contended p95
 * against its own baseline from the same run.
 *
 *   tsx load/run.ts [--vulnerabilities a,b] [--phase-seconds N] [--expect-fail]
 *
 * Exit: 0 all thresholds held (or, with --expect-fail, at least one was crossed), 1 the opposite,
 * 2 cannot run (no k6 binary, bad option). Never part of vitest: vitest never needs k6.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createScratchDatabase } from '../src/index.ts';
import { CannotRunError, describeError } from '../src/index.ts';
import { startPostgres } from '../fixtures/postgres/index.ts';
import { startReferenceApp } from '../reference-app/src/index.ts';

interface TenantFixture {
  slug: string;
  token: string;
  projectIds: string[];
}

interface Summary {
  metrics: Record<string, { values?: Record<string, number>; thresholds?: Record<string, { ok: boolean }> }>;
}

const k6Bin = process.env.K6_BIN ?? '.tools/bin/k6';

async function json<T>(response: Response, what: string): Promise<T> {
  const body = (await response.json()) as T;
  if (!response.ok) throw new CannotRunError(`${what} failed with ${response.status}: ${JSON.stringify(body)}`);
  return body;
}

async function seedTenant(baseUrl: string, slug: string, projects: number): Promise<TenantFixture> {
  const signup = await json<{ token: string }>(
    await fetch(`${baseUrl}/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: { slug, name: `${slug} inc`, plan: 'pro' }, email: `owner@${slug}.test`, password: 'load-test-password-1' }),
    }),
    `signup of ${slug}`,
  );
  const projectIds: string[] = [];
  for (let i = 0; i < projects; i += 1) {
    const project = await json<{ id: string }>(
      await fetch(`${baseUrl}/projects`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${signup.token}` },
        body: JSON.stringify({ name: `${slug} project ${i}`, budgetCents: 1000 * (i + 1) }),
      }),
      `project ${i} of ${slug}`,
    );
    projectIds.push(project.id);
  }
  return { slug, token: signup.token, projectIds };
}

function runK6(env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(k6Bin, ['run', '--quiet', '--no-usage-report', 'load/noisy-neighbour.ts'], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, ...env },
    });
    child.once('error', reject);
    child.once('close', (code) => resolve(code ?? 1));
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      vulnerabilities: { type: 'string', default: '' },
      'phase-seconds': { type: 'string', default: process.env.LOAD_PHASE_SECONDS ?? '8' },
      'expect-fail': { type: 'boolean', default: false },
      'max-ratio': { type: 'string', default: '4' },
      'floor-ms': { type: 'string', default: '100' },
    },
  });
  const phase = Number(values['phase-seconds']);
  if (!Number.isInteger(phase) || phase < 2 || phase > 120) throw new CannotRunError('--phase-seconds must be a whole number from 2 to 120');
  const maxRatio = Number(values['max-ratio']);
  const floorMs = Number(values['floor-ms']);
  if (!existsSync(k6Bin)) throw new CannotRunError(`no k6 binary at ${k6Bin}: run bash load/install-k6.sh (or set K6_BIN)`);

  const summaryDir = `reports/load/${values.vulnerabilities ? values.vulnerabilities.replaceAll(',', '+') : 'correct'}`;
  mkdirSync(summaryDir, { recursive: true });

  await using server = await startPostgres();
  await using db = await createScratchDatabase(server.adminUrl, 'load');
  await using app = await startReferenceApp({
    databaseUrl: db.url,
    vulnerabilities: values.vulnerabilities,
    rateLimit: { max: 40, timeWindowMs: 1000 },
    poolSize: 10,
  });
  const quiet = await seedTenant(app.url, 'quiet', 5);
  // Different project counts, so an answer meant for one tenant (a shared cache entry) shows in the other's figures.
  const noisy = await seedTenant(app.url, 'noisy', 8);
  console.log(`load: reference app at ${app.url}${values.vulnerabilities ? ` with ${values.vulnerabilities}` : ''}; ${phase}s baseline + ${phase}s contended`);

  const k6Exit = await runK6({
    BASE_URL: app.url,
    QUIET_TENANT: JSON.stringify(quiet),
    NOISY_TENANT: JSON.stringify(noisy),
    PHASE_SECONDS: String(phase),
    SUMMARY_DIR: summaryDir,
  });
  if (k6Exit !== 0 && k6Exit !== 99) throw new CannotRunError(`k6 failed to run the scenario (exit ${k6Exit})`);

  const summary = JSON.parse(readFileSync(`${summaryDir}/summary.json`, 'utf8')) as Summary;
  const p95 = (name: string) => summary.metrics[name]?.values?.['p(95)'] ?? Number.NaN;
  const baseline = p95('http_req_duration{scenario:quiet_baseline}');
  const contended = p95('http_req_duration{scenario:quiet_contended}');
  const allowed = Math.max(baseline * maxRatio, floorMs);
  const relativeOk = contended <= allowed;
  const crossed = Object.entries(summary.metrics).flatMap(([metric, body]) =>
    Object.entries(body.thresholds ?? {}).filter(([, r]) => !r.ok).map(([t]) => `${metric} ${t}`),
  );
  if (!relativeOk) crossed.push(`quiet p95 contended ${contended.toFixed(1)} ms > allowed ${allowed.toFixed(1)} ms`);
  console.log(
    `load: quiet p95 baseline ${baseline.toFixed(1)} ms, contended ${contended.toFixed(1)} ms (ratio ${(contended / baseline).toFixed(2)}, allowed ${allowed.toFixed(1)} ms); ` +
      `noisy throttled ${summary.metrics.noisy_throttled?.values?.count ?? 0}×; cross-tenant rows ${summary.metrics.cross_tenant_rows?.values?.count ?? 0}`,
  );
  const failed = crossed.length > 0;
  for (const line of crossed) console.log(`load: crossed: ${line}`);
  if (values['expect-fail']) {
    console.log(failed ? 'load: red case caught, as expected' : 'load: red case NOT caught: the scenario has no teeth for this vulnerability');
    return failed ? 0 : 1;
  }
  console.log(failed ? 'load: FAILED' : 'load: passed');
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`load: ${describeError(error)}`);
    process.exit(error instanceof CannotRunError ? 2 : 1);
  },
);
