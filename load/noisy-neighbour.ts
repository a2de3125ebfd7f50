/**
 * Noisy neighbour, with the machine floor, against the reference app.
 *
 * Three phases of PHASE_SECONDS each; the victims (several tenants) run at the same steady
 * arrival rate throughout (VICTIM_RATE iterations/s each: GET /projects and GET /stats):
 *   1. baseline  — the victims alone;
 *   2. floor     — plus the aggressor at AGGRESSOR_RATE requests/s (≥ 10× a victim) against a
 *                  trivial route (GET /health): what the machine cannot avoid;
 *   3. contended — the aggressor at the same rate against its real mix: half of it the heavy
 *                  report (GET /reports/portfolio), the rest GET /projects and GET /stats.
 * A metrics probe reads GET /metrics during the contended phase (the aggressor's connection peak).
 *
 * Thresholds (each tied to what breaks it; load/run.ts maps named vulnerabilities to them):
 * - victims' error rate < 1% in every phase            (`rate-limit-global`: the victims get 429s)
 * - cross_tenant_rows == 0                              (`stats-unscoped`, `cache-key-unscoped`)
 * - aggressor_throttled rate > 0 (share of its answers that were 429) (`no-rate-limit`: never throttled)
 * - aggressor_pool_peak max ≤ POOL_SHARE                (`no-pool-share`: it held more of the pool)
 * - aggressor_report_statement_ms max < REPORT_BOUND_MS (`no-statement-timeout`: the report ran on)
 * The wrapper adds the relative check (victim p95 contended against the floor) and prints the table.
 *
 * Loopback only; bounded: 3 × PHASE_SECONDS plus graceful stops, at most AGGRESSOR_VUS + 20 × victims VUs.
 */
import http from 'k6/http';
import { check } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';
import { auth, loopbackBaseUrls, summaryFiles, tenantsFromEnv, type TenantFixture } from './lib/common.ts';

const [baseUrl] = loopbackBaseUrls();
const victims = tenantsFromEnv('VICTIMS');
const [noisy] = tenantsFromEnv('AGGRESSOR') as [TenantFixture];
const phase = Number(__ENV.PHASE_SECONDS ?? '8');
const victimRate = Number(__ENV.VICTIM_RATE ?? '5');
const aggressorRate = Number(__ENV.AGGRESSOR_RATE ?? String(victimRate * 12));
const aggressorVus = Number(__ENV.AGGRESSOR_VUS ?? '40');
// `off`: the aggressor is a database tenant (its own pool): no share of the shared pool to check.
const poolShare = __ENV.POOL_SHARE === 'off' ? undefined : Number(__ENV.POOL_SHARE ?? '2');
const reportBoundMs = Number(__ENV.REPORT_BOUND_MS ?? '600');
const metricsToken = __ENV.METRICS_TOKEN ?? '';

const crossTenantRows = new Counter('cross_tenant_rows');
const aggressorThrottled = new Rate('aggressor_throttled');
/** How many answers were checked for other tenants' rows: a count==0 threshold over no answer proves nothing. */
const answersChecked = new Counter('answers_checked');
const aggressorPoolPeak = new Trend('aggressor_pool_peak');
const reportStatementMs = new Trend('aggressor_report_statement_ms', true);

const victimScenario = (startTime: number) => ({
  executor: 'constant-arrival-rate',
  rate: victimRate * victims.length,
  timeUnit: '1s',
  duration: `${phase}s`,
  startTime: `${startTime}s`,
  preAllocatedVUs: 2 * victims.length,
  maxVUs: 20 * victims.length,
  exec: 'victim',
  gracefulStop: '5s',
});
const aggressorScenario = (startTime: number, exec: string) => ({
  executor: 'constant-arrival-rate',
  rate: aggressorRate,
  timeUnit: '1s',
  duration: `${phase}s`,
  startTime: `${startTime}s`,
  preAllocatedVUs: Math.min(10, aggressorVus),
  maxVUs: aggressorVus,
  exec,
  gracefulStop: '5s',
});

export const options = {
  scenarios: {
    victims_baseline: victimScenario(0),
    victims_floor: victimScenario(phase),
    aggressor_floor: aggressorScenario(phase, 'aggressorTrivial'),
    victims_contended: victimScenario(2 * phase),
    aggressor_contended: aggressorScenario(2 * phase, 'aggressor'),
    ...(poolShare === undefined ? {} : { metrics_probe: {
      executor: 'constant-arrival-rate',
      rate: 4,
      timeUnit: '1s',
      duration: `${phase}s`,
      startTime: `${2 * phase}s`,
      preAllocatedVUs: 1,
      maxVUs: 2,
      exec: 'metricsProbe',
      gracefulStop: '5s',
    } }),
  },
  thresholds: {
    'http_req_failed{scenario:victims_baseline}': ['rate<0.01'],
    'http_req_failed{scenario:victims_floor}': ['rate<0.01'],
    'http_req_failed{scenario:victims_contended}': ['rate<0.01'],
    'http_req_duration{scenario:victims_baseline}': ['p(95)<1000'],
    'http_req_duration{scenario:victims_floor}': ['p(95)<1000'],
    'http_req_duration{scenario:victims_contended}': ['p(95)<1000'],
    cross_tenant_rows: ['count==0'],
    aggressor_throttled: ['rate>0'],
    ...(poolShare === undefined ? {} : { aggressor_pool_peak: [`max<=${poolShare}`] }),
    aggressor_report_statement_ms: [`max<${reportBoundMs}`],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max', 'count'],
};

let round = 0;

/** A victim lists its projects and reads its stats: both must be its own (5, 6, 7 … projects). */
export function victim(): void {
  round += 1;
  const tenant = victims[(__VU + round) % victims.length]!;
  const own = new Set(tenant.projectIds);
  const list = http.get(`${baseUrl}/projects?limit=200`, auth(tenant.token, { route: 'GET /projects' }));
  const ids: string[] = list.status === 200 ? (list.json('projects') as { id: string }[]).map((p) => p.id) : [];
  const foreign = ids.filter((id) => !own.has(id)).length;
  crossTenantRows.add(foreign, { route: 'GET /projects' });
  answersChecked.add(list.status === 200 ? 1 : 0);
  check(list, { 'victim: projects 200': (r) => r.status === 200, 'victim: only its own projects': () => foreign === 0 });
  const stats = http.get(`${baseUrl}/stats`, auth(tenant.token, { route: 'GET /stats' }));
  const counted = stats.status === 200 ? Number(stats.json('projects')) : own.size;
  crossTenantRows.add(Math.abs(counted - own.size), { route: 'GET /stats' });
  answersChecked.add(stats.status === 200 ? 1 : 0);
  check(stats, { 'victim: stats 200': (r) => r.status === 200, 'victim: stats count only its projects': () => counted === own.size });
}

/** The machine floor: the aggressor's rate against a trivial route. */
export function aggressorTrivial(): void {
  http.get(`${baseUrl}/health`, { tags: { route: 'GET /health' } });
}

/** The aggressor: half heavy reports, half reads; 429s and 503s are its own business, foreign rows are not. */
export function aggressor(): void {
  round += 1;
  const a = auth(noisy.token);
  let response;
  if (round % 2 === 0) {
    response = http.get(`${baseUrl}/reports/portfolio`, { ...a, tags: { route: 'GET /reports/portfolio' } });
    const timing = /db;dur=([\d.]+)/.exec(String(response.headers['Server-Timing'] ?? ''));
    if (timing) reportStatementMs.add(Number(timing[1]));
  } else if (round % 4 === 1) {
    response = http.get(`${baseUrl}/projects?limit=200`, { ...a, tags: { route: 'GET /projects' } });
    if (response.status === 200) {
      const foreign = (response.json('projects') as { id: string }[]).filter((p) => !noisy.projectIds.includes(p.id)).length;
      crossTenantRows.add(foreign, { route: 'GET /projects (aggressor)' });
    }
  } else {
    response = http.get(`${baseUrl}/stats`, { ...a, tags: { route: 'GET /stats' } });
    if (response.status === 200) crossTenantRows.add(Math.abs(Number(response.json('projects')) - noisy.projectIds.length), { route: 'GET /stats (aggressor)' });
  }
  aggressorThrottled.add(response.status === 429);
}

/** The aggressor's connection peak in the shared pool, from GET /metrics. */
export function metricsProbe(): void {
  const response = http.get(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` }, tags: { route: 'GET /metrics' } });
  const match = new RegExp(`tenantproof_tenant_connections_peak\\{tenant="${noisy.id}"\\} (\\d+)`).exec(String(response.body ?? ''));
  if (match) aggressorPoolPeak.add(Number(match[1]));
}

export function handleSummary(data: Parameters<typeof summaryFiles>[1]) {
  return summaryFiles('noisy-neighbour', data);
}
