/**
 * Isolation under load: many tenants (of the model or models load/run.ts signed up: rls, schema,
 * database, or a hybrid of them) on every route at once, across every app instance given. Every
 * tenant owns names carrying its marker; every response is checked for the markers of the other
 * tenants, and the figures it returns (project counts) against its own. An isolation canary
 * (GET /health/isolation: a pooled connection outside any tenant context) is polled meanwhile.
 *
 * Thresholds: 100% of checks pass; `cross_tenant_data` (another tenant's marker or figure in an
 * answer, or anything a context-free connection can see) == 0.
 * Loopback only; bounded: DURATION seconds plus a 5 s graceful stop, at most MAX_VUS VUs.
 */
import http from 'k6/http';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
import { auth, loopbackBaseUrls, summaryFiles, tenantsFromEnv, type TenantFixture } from './lib/common.ts';

const baseUrls = loopbackBaseUrls();
const tenants = tenantsFromEnv('TENANTS');
const duration = Number(__ENV.DURATION ?? '10');
const rate = Number(__ENV.RATE ?? '20');
const maxVus = Number(__ENV.MAX_VUS ?? '40');
const metricsToken = __ENV.METRICS_TOKEN ?? '';

const crossTenantData = new Counter('cross_tenant_data');
const canaryRuns = new Counter('isolation_canary_runs');
/** How many answers were checked: a count==0 threshold over no answer proves nothing. */
const answersChecked = new Counter('answers_checked');

export const options = {
  scenarios: {
    tenants: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration: `${duration}s`,
      preAllocatedVUs: Math.min(10, maxVus),
      maxVUs: maxVus,
      exec: 'tenantRound',
      gracefulStop: '5s',
    },
    canary: {
      executor: 'constant-arrival-rate',
      rate: 4,
      timeUnit: '1s',
      duration: `${duration}s`,
      preAllocatedVUs: 2,
      maxVUs: 4,
      exec: 'canary',
      gracefulStop: '5s',
    },
  },
  thresholds: {
    checks: ['rate==1'],
    cross_tenant_data: ['count==0'],
    isolation_canary_runs: ['count>0'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max', 'count'],
};

/** Markers of every tenant but `own` found in `body`. */
function foreignMarkers(body: string, own: TenantFixture): number {
  let found = 0;
  for (const t of tenants) if (t.slug !== own.slug && body.includes(t.marker)) found += 1;
  return found;
}

function checked(tenant: TenantFixture, route: string, response: http.RefinedResponse<'text'>, extra?: (body: any) => boolean): void {
  const body = typeof response.body === 'string' ? response.body : '';
  const foreign = foreignMarkers(body, tenant);
  crossTenantData.add(foreign, { route });
  if (response.status === 200) answersChecked.add(1);
  let extraOk = true;
  if (response.status === 200 && extra) {
    try {
      extraOk = extra(JSON.parse(body));
    } catch {
      extraOk = false;
    }
    if (!extraOk) crossTenantData.add(1, { route: `${route} (figures)` });
  }
  check(response, {
    [`${route}: 200`]: (r) => r.status === 200,
    [`${route}: no other tenant's marker`]: () => foreign === 0,
    [`${route}: its own figures`]: () => extraOk,
  });
}

let round = 0;

/** One tenant (chosen round robin) on every route, on one instance (round robin). */
export function tenantRound(): void {
  round += 1;
  const tenant = tenants[(__VU + round) % tenants.length]!;
  const base = baseUrls[(__VU + round) % baseUrls.length]!;
  const a = auth(tenant.token, { tenant_model: tenant.model });
  const own = new Set(tenant.projectIds);
  const project = tenant.projectIds[round % tenant.projectIds.length]!;

  checked(tenant, 'GET /projects', http.get(`${base}/projects?limit=200`, a), (b) => b.projects.length === own.size && b.projects.every((p: { id: string }) => own.has(p.id)));
  checked(tenant, 'GET /projects/:id', http.get(`${base}/projects/${project}`, a), (b) => b.id === project);
  checked(tenant, 'GET /projects/:id/tasks', http.get(`${base}/projects/${project}/tasks`, a));
  checked(tenant, 'GET /projects/:id/comments', http.get(`${base}/projects/${project}/comments`, a));
  checked(tenant, 'GET /stats', http.get(`${base}/stats`, a), (b) => b.projects === own.size);
  // The next tenant asks the same instance for the same route right after, as tenants of one
  // deployment do: a cache (in-process or the shared Redis) keyed without the tenant answers it
  // with this tenant's figures. Without it the leak showed only where rounds overlapped, so a
  // fast machine (each round done, write included, before the next began) never saw one.
  const next = tenants[(tenants.indexOf(tenant) + 1) % tenants.length]!;
  checked(next, 'GET /stats (right after another tenant)', http.get(`${base}/stats`, auth(next.token, { tenant_model: next.model })), (b) => b.projects === next.projectIds.length);
  checked(tenant, 'GET /invoices', http.get(`${base}/invoices`, a));
  checked(tenant, 'GET /audit-log', http.get(`${base}/audit-log?limit=50`, a));
  checked(tenant, 'GET /reports/portfolio', http.get(`${base}/reports/portfolio`, a), (b) => b.projects.length === own.size);
  checked(tenant, 'GET /tenant', http.get(`${base}/tenant`, a), (b) => b.id === tenant.id);
  checked(tenant, 'GET /me', http.get(`${base}/me`, a), (b) => b.tenant.id === tenant.id);
  checked(tenant, 'GET /usage', http.get(`${base}/usage`, a));
  // A write (it also drops the tenant's cached answers on every instance).
  const wrote = http.post(`${base}/projects/${project}/comments`, JSON.stringify({ body: `${tenant.marker} comment ${round}` }), {
    headers: { authorization: `Bearer ${tenant.token}`, 'content-type': 'application/json' },
  });
  check(wrote, { 'POST /projects/:id/comments: 201': (r) => r.status === 201 });
}

/** The isolation canary on every instance: a context-free pooled connection sees nothing. */
export function canary(): void {
  for (const base of baseUrls) {
    const response = http.get(`${base}/health/isolation`, { headers: { authorization: `Bearer ${metricsToken}` }, tags: { route: 'canary' } });
    canaryRuns.add(1);
    const body = typeof response.body === 'string' ? response.body : '';
    let ok = false;
    let seen = 0;
    try {
      const parsed = JSON.parse(body) as { ok: boolean; visibleProjects: string[] };
      ok = parsed.ok;
      seen = parsed.visibleProjects.length;
    } catch {
      ok = false;
    }
    let markers = 0;
    for (const t of tenants) if (body.includes(t.marker)) markers += 1;
    crossTenantData.add(markers + (ok ? 0 : Math.max(seen, 1)), { route: 'GET /health/isolation' });
    check(response, { 'canary: 200': (r) => r.status === 200, 'canary: a connection outside any tenant context sees nothing': () => ok && markers === 0 });
  }
}

export function handleSummary(data: Parameters<typeof summaryFiles>[1]) {
  return summaryFiles('isolation-under-load', data);
}
