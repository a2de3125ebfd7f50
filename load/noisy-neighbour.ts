/**
 * Noisy neighbour, and isolation under load, against the reference app.
 *
 * Phase 1 (baseline): the quiet tenant alone, at a constant arrival rate.
 * Phase 2 (contended): the same quiet traffic while a noisy tenant sends NOISY_RATE batches a second
 * (15× the quiet tenant by default), far above its per-tenant rate limit.
 *
 * Thresholds fail the run (k6 exit 99) when:
 * - the quiet tenant gets errors (e.g. 429s from a rate limit the noisy tenant exhausted);
 * - the quiet tenant's p95 latency under contention exceeds QUIET_P95_MS;
 * - any response, the quiet or the noisy tenant's, shows a row or count of another tenant
 *   (cross_tenant_rows > 0);
 * - the noisy tenant was never throttled (then the scenario did not really test a noisy neighbour).
 * The wrapper (load/run.ts) adds the relative check: contended p95 against the baseline p95.
 *
 * Runs only against 127.0.0.1 and is bounded in time: 2 × PHASE_SECONDS plus graceful stops.
 */
import http from 'k6/http';
import { check } from 'k6';
import { Counter } from 'k6/metrics';

interface TenantFixture {
  slug: string;
  token: string;
  projectIds: string[];
}

const baseUrl: string = __ENV.BASE_URL ?? 'http://127.0.0.1:3000';
if (!/^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(baseUrl)) {
  throw new Error(`BASE_URL must be a loopback address, got ${baseUrl}`);
}
const quiet: TenantFixture = JSON.parse(__ENV.QUIET_TENANT ?? '{}');
const noisy: TenantFixture = JSON.parse(__ENV.NOISY_TENANT ?? '{}');
const phase = Number(__ENV.PHASE_SECONDS ?? '10');
const quietRate = Number(__ENV.QUIET_RATE ?? '10');
const noisyRate = Number(__ENV.NOISY_RATE ?? '150');
const noisyVus = Number(__ENV.NOISY_VUS ?? '30');
const quietP95 = Number(__ENV.QUIET_P95_MS ?? '500');
const summaryDir = __ENV.SUMMARY_DIR ?? 'reports/load';

const crossTenantRows = new Counter('cross_tenant_rows');
const noisyThrottled = new Counter('noisy_throttled');

export const options = {
  scenarios: {
    quiet_baseline: {
      executor: 'constant-arrival-rate',
      rate: quietRate,
      timeUnit: '1s',
      duration: `${phase}s`,
      preAllocatedVUs: 5,
      maxVUs: 20,
      exec: 'quietTenant',
      gracefulStop: '5s',
    },
    quiet_contended: {
      executor: 'constant-arrival-rate',
      rate: quietRate,
      timeUnit: '1s',
      duration: `${phase}s`,
      startTime: `${phase}s`,
      preAllocatedVUs: 5,
      maxVUs: 20,
      exec: 'quietTenant',
      gracefulStop: '5s',
    },
    noisy: {
      executor: 'constant-arrival-rate',
      rate: noisyRate,
      timeUnit: '1s',
      preAllocatedVUs: noisyVus,
      maxVUs: noisyVus,
      duration: `${phase}s`,
      startTime: `${phase}s`,
      exec: 'noisyTenant',
      gracefulStop: '5s',
    },
  },
  thresholds: {
    'http_req_failed{scenario:quiet_baseline}': ['rate<0.01'],
    'http_req_duration{scenario:quiet_baseline}': [`p(95)<${quietP95}`],
    'http_req_failed{scenario:quiet_contended}': ['rate<0.01'],
    'http_req_duration{scenario:quiet_contended}': [`p(95)<${quietP95}`],
    cross_tenant_rows: ['count==0'],
    noisy_throttled: ['count>0'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

const headers = (tenant: TenantFixture) => ({ headers: { authorization: `Bearer ${tenant.token}` } });

/** The quiet tenant lists its projects and reads its stats; both must show exactly its own data. */
export function quietTenant(): void {
  const own = new Set(quiet.projectIds);
  const list = http.get(`${baseUrl}/projects?limit=200`, headers(quiet));
  const ids: string[] = list.status === 200 ? (list.json('projects') as { id: string }[]).map((p) => p.id) : [];
  const foreign = ids.filter((id) => !own.has(id)).length;
  crossTenantRows.add(foreign, { route: 'GET /projects' });
  check(list, { 'quiet: projects 200': (r) => r.status === 200, 'quiet: only its own projects': () => foreign === 0 && ids.length === own.size });

  const stats = http.get(`${baseUrl}/stats`, headers(quiet));
  const counted = stats.status === 200 ? Number(stats.json('projects')) : own.size;
  crossTenantRows.add(Math.max(0, counted - own.size), { route: 'GET /stats' });
  check(stats, { 'quiet: stats 200': (r) => r.status === 200, 'quiet: stats count only its projects': () => counted === own.size });
}

/** The noisy tenant reads as fast as it can; 429s are expected and counted, foreign rows are not. */
export function noisyTenant(): void {
  const quietIds = new Set(quiet.projectIds);
  const responses = http.batch([
    ['GET', `${baseUrl}/projects?limit=200`, null, headers(noisy)],
    ['GET', `${baseUrl}/stats`, null, headers(noisy)],
  ]);
  for (const response of responses) {
    if (response.status === 429) noisyThrottled.add(1);
  }
  const list = responses[0]!;
  if (list.status === 200) {
    const seen = (list.json('projects') as { id: string }[]).filter((p) => quietIds.has(p.id)).length;
    crossTenantRows.add(seen, { route: 'GET /projects (noisy)' });
  }
  // Its stats must count its own projects: any other figure is another tenant's (a shared cache
  // entry answers with the quiet tenant's count, lower or higher).
  const stats = responses[1]!;
  if (stats.status === 200) crossTenantRows.add(Math.abs(Number(stats.json('projects')) - noisy.projectIds.length), { route: 'GET /stats (noisy)' });
}

function junit(data: { metrics: Record<string, { thresholds?: Record<string, { ok: boolean }> }> }): string {
  const cases: string[] = [];
  let failures = 0;
  for (const [metric, body] of Object.entries(data.metrics)) {
    for (const [threshold, result] of Object.entries(body.thresholds ?? {})) {
      const name = `${metric} ${threshold}`.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
      if (result.ok) cases.push(`    <testcase classname="load.noisy-neighbour" name="${name}"/>`);
      else {
        failures += 1;
        cases.push(`    <testcase classname="load.noisy-neighbour" name="${name}"><failure message="threshold crossed"/></testcase>`);
      }
    }
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites tests="${cases.length}" failures="${failures}">`,
    `  <testsuite name="load/noisy-neighbour" tests="${cases.length}" failures="${failures}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

export function handleSummary(data: { metrics: Record<string, { thresholds?: Record<string, { ok: boolean }> }> }) {
  return {
    [`${summaryDir}/summary.json`]: JSON.stringify(data, null, 2),
    [`${summaryDir}/junit.xml`]: junit(data),
  };
}
