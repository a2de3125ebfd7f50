/**
 * Platform features of the reference app (issue 12): plan features, usage metering and limits,
 * the heavy report, the per-tenant pool share, platform support access, the tenant-partitioned
 * usage table — each protection or isolation rule green on the shipped build, and each named
 * vulnerability caught by its check with its symptom (platform-checks.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { VulnerabilityName } from '../../reference-app/src/index.ts';
import { resolveVerifyConfig, runStaticRules, withClient } from '../../src/index.ts';
import { createProjects, signUp, startTestApp, type SignedUpTenant, type TestApp } from './harness.ts';
import { checkReportTimeout, platformCaughtBy, platformChecks, seedHeavyTenant, supportAgent, type PlatformVulnerability } from './platform-checks.ts';

type Model = SignedUpTenant['model'];
const models: Model[] = ['rls', 'schema', 'database'];

/** Options each check's app needs to show its rule quickly (a small budget, a small share, a tiny timeout). */
const checkOptions: Record<keyof typeof platformChecks, Parameters<typeof startTestApp>[0]> = {
  'support tokens are not tenant tokens': {},
  "support access is audited in the tenant's own audit log": {},
  'usage partitions are reached through the parent only': {},
  'a tenant is throttled at its own rate limit': { rateLimit: { max: 20, timeWindowMs: 60_000 } },
  'a tenant holds at most its share of the shared pool': { poolSize: 4, poolShare: { maxPerTenant: 2 } },
  "the heavy report stops at its plan's statement timeout": { reportTimeoutsMs: { free: 10, pro: 10, enterprise: 10 } },
};
/** Which models a check applies to (the pool share: tenants of the shared pool). */
const checkModels: Partial<Record<keyof typeof platformChecks, Model[]>> = {
  'usage partitions are reached through the parent only': ['rls', 'database'],
  'a tenant holds at most its share of the shared pool': ['rls', 'schema'],
  "the heavy report stops at its plan's statement timeout": ['rls', 'database'],
  'a tenant is throttled at its own rate limit': ['rls'],
};
/** What each red case's leak must say (its symptom). */
const symptom: Record<Exclude<PlatformVulnerability, 'shared-store-key-unscoped'>, RegExp> = {
  'support-token-as-tenant-token': /^GET \/projects with a support login token and X-Tenant$/,
  'support-access-unaudited': /support session opened without an entry/,
  'partitions-granted-directly': /^select from app\.usage_events_p\d \(partition\)$/,
  'no-rate-limit': /never 429/,
  'no-pool-share': /held [34] pooled connections \(share 2\)/,
  'no-statement-timeout': /^GET \/reports\/portfolio ran \d+ ms/,
};

/** Nothing left checked out once the background jobs a test enqueued are done (bounded wait: 5 s). */
async function nothingCheckedOut(t: TestApp): Promise<void> {
  for (const until = Date.now() + 5000; t.app.poolStats().checkedOut > 0 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
  expect(t.app.poolStats().checkedOut).toBe(0);
}

/** Admin URL of a database tenant's own database. */
function homeDatabaseUrl(t: TestApp, tenant: SignedUpTenant): string {
  const url = new URL(t.databaseUrl);
  url.pathname = `/${t.app.control.databasePlacement({ id: tenant.tenantId }).database}`;
  return url.toString();
}

async function prepare(t: TestApp, name: keyof typeof platformChecks, a: SignedUpTenant): Promise<void> {
  if (name === "the heavy report stops at its plan's statement timeout") await seedHeavyTenant(t.app, a, 40_000);
}

describe.each(Object.keys(platformChecks) as (keyof typeof platformChecks)[])('%s', (name) => {
  describe.each(checkModels[name] ?? models)('shipped build, %s tenants: no leak', (model) => {
    let t: TestApp;
    let a: SignedUpTenant;
    let b: SignedUpTenant;
    beforeAll(async () => {
      t = await startTestApp(checkOptions[name]);
      a = await signUp(t.client, 'acme', 'pro', model);
      b = await signUp(t.client, 'globex', 'pro', model);
      await prepare(t, name, a);
    });
    afterEach(() => nothingCheckedOut(t));
    afterAll(async () => t?.close());

    test('holds', async () => {
      expect(await platformChecks[name](t, a, b)).toEqual([]);
    });
  });
});

describe('red cases: each platform vulnerability is caught, with its symptom', () => {
  const names = Object.keys(symptom) as (keyof typeof symptom)[];
  // Each red case in every model its check applies to (the shipped build holds there too, above).
  const cases = names.flatMap((vulnerability) => (checkModels[platformCaughtBy[vulnerability] as keyof typeof platformChecks] ?? models).map((model) => [vulnerability, model] as const));
  describe.each(cases)('%s, %s tenants', (vulnerability, model) => {
    const check = platformCaughtBy[vulnerability] as keyof typeof platformChecks;
    let t: TestApp;
    let a: SignedUpTenant;
    let b: SignedUpTenant;
    beforeAll(async () => {
      t = await startTestApp({ ...checkOptions[check], vulnerabilities: [vulnerability as VulnerabilityName] });
      a = await signUp(t.client, 'acme', 'pro', model);
      b = await signUp(t.client, 'globex', 'pro', model);
      await prepare(t, check, a);
    });
    afterEach(() => nothingCheckedOut(t));
    afterAll(async () => t?.close());

    test(`is reported by "${check}"`, async () => {
      const leaks = await platformChecks[check](t, a, b);
      expect(leaks.map((l) => l.via)).toContainEqual(expect.stringMatching(symptom[vulnerability]));
      for (const l of leaks) expect([l.actingTenant, l.victimTenant]).toEqual([a.slug, b.slug]);
    });
  });

  test('support-token-as-tenant-token: the forged identity is accepted and the victim\'s rows come back', async () => {
    await using t = await startTestApp({ vulnerabilities: ['support-token-as-tenant-token'] });
    const victim = await signUp(t.client, 'victim', 'pro');
    const [id] = await createProjects(t.client, victim.token, ['victim secret roadmap']);
    const agent = await supportAgent(t);
    const list = await t.client.get('/projects', { token: agent.token, headers: { 'x-tenant': victim.slug } });
    expect(list.status).toBe(200);
    expect(list.body.projects.map((p: { id: string; name: string }) => [p.id, p.name])).toContainEqual([id, 'victim secret roadmap']);
    const log = await t.client.get('/audit-log', { token: victim.token });
    expect(log.body.entries.filter((e: { action: string }) => e.action.startsWith('support.'))).toEqual([]);
  });

  test('partitions-granted-directly: the victim\'s usage rows are read through a partition', async () => {
    await using t = await startTestApp({ vulnerabilities: ['partitions-granted-directly'] });
    const a = await signUp(t.client, 'acme', 'pro');
    const b = await signUp(t.client, 'globex', 'pro');
    const leaks = await platformChecks['usage partitions are reached through the parent only'](t, a, b);
    const victimRows = leaks.reduce((n, l) => n + ((l.observed as { victimRows?: number }).victimRows ?? 0), 0);
    expect(victimRows).toBeGreaterThan(0);
  });

  test("partitions-granted-directly is caught by tenantproof's static rules (rls-disabled on each partition); the shipped build has no such finding", async () => {
    const staticFindings = async (vulnerabilities: VulnerabilityName[]) => {
      await using t = await startTestApp({ vulnerabilities });
      const { target } = resolveVerifyConfig({ databaseUrl: t.databaseUrl, model: 'rls', appRole: t.app.database.roles.app, schemas: 'app' });
      const { findings } = await withClient(t.databaseUrl, (c) => runStaticRules(c, target));
      return findings.filter((f) => f.object.includes('usage_events')).map((f) => `${f.checkId} ${f.severity} ${f.object}`);
    };
    expect(await staticFindings([])).toEqual([]);
    expect((await staticFindings(['partitions-granted-directly'])).sort()).toEqual([0, 1, 2, 3].map((i) => `rls-disabled critical app.usage_events_p${i}`));
  });

  test('no-statement-timeout: the report holds its connection past the plan timeout', async () => {
    await using t = await startTestApp({ reportTimeoutsMs: { free: 10, pro: 10, enterprise: 10 }, vulnerabilities: ['no-statement-timeout'] });
    const a = await signUp(t.client, 'acme', 'pro');
    const b = await signUp(t.client, 'globex', 'pro');
    await seedHeavyTenant(t.app, a, 40_000);
    const [l] = await checkReportTimeout(t, a, b);
    expect((l?.observed as { statementMs: number }).statementMs).toBeGreaterThan(10);
  });
});

describe('plan features, usage metering and the heavy report', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ reportTimeoutsMs: { free: 1000, pro: 5000, enterprise: 10_000 } });
  });
  afterEach(() => nothingCheckedOut(t));
  afterAll(async () => t?.close());

  test.each(models)('a feature outside the plan answers 403 naming it (%s tenant); a per-tenant override enables it', async (model) => {
    const free = await signUp(t.client, 'freebie', 'free', model);
    const refused = await t.client.get('/reports/portfolio', { token: free.token });
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({ error: 'the reports feature is not included in the free plan: upgrade to pro', feature: 'reports', plan: 'free', upgrade: 'pro' });
    const usage = await t.client.get('/usage', { token: free.token });
    expect(usage.body.metrics.reports).toEqual({ used: 0, limit: 0 }); // refused before metering
    // An operator's override (admin connection): the tenant's registry row, and a database tenant's local copy of it.
    const override = `update app.tenants set features = '{"reports": true}', limits = limits || '{"monthly_reports": 5}' where id = $1`;
    await withClient(t.databaseUrl, (c) => c.query(override, [free.tenantId]));
    if (model === 'database') await withClient(homeDatabaseUrl(t, free), (c) => c.query(override, [free.tenantId]));
    const allowed = await t.client.get('/reports/portfolio', { token: free.token });
    expect(allowed.status).toBe(200);
  });

  test.each(models)('usage is metered per tenant; over the monthly limit: 429 with limit, usage and upgrade hint (%s tenant)', async (model) => {
    const a = await signUp(t.client, 'meter-a', 'pro', model);
    const b = await signUp(t.client, 'meter-b', 'pro', model);
    await withClient(t.databaseUrl, (c) => c.query(`update app.tenants set limits = limits || '{"monthly_reports": 3}' where id = $1`, [a.tenantId]));
    await createProjects(t.client, a.token, ['metered']);
    for (let i = 0; i < 3; i += 1) expect((await t.client.get('/reports/portfolio', { token: a.token })).status).toBe(200);
    const over = await t.client.get('/reports/portfolio', { token: a.token });
    expect(over.status).toBe(429);
    expect(over.body).toEqual({ error: 'monthly reports limit reached: 3 of 3 used on the pro plan; upgrade to enterprise for more', metric: 'reports', limit: 3, used: 3, plan: 'pro', upgrade: 'enterprise' });
    const usageA = await t.client.get('/usage', { token: a.token });
    expect(usageA.status).toBe(200);
    expect(usageA.body).toMatchObject({ plan: 'pro', upgrade: 'enterprise', metrics: { reports: { used: 3, limit: 3 }, exports: { used: 0, limit: 1000 } } });
    expect(usageA.body.month).toBe(new Date().toISOString().slice(0, 7));
    // The other tenant's usage and limit are its own.
    expect((await t.client.get('/reports/portfolio', { token: b.token })).status).toBe(200);
    expect((await t.client.get('/usage', { token: b.token })).body.metrics.reports).toEqual({ used: 1, limit: 5000 });
    // Events and the monthly aggregate agree (the partitioned table, read as the owner).
    const { rows } = await withClient(t.databaseUrl, (c) =>
      c.query<{ events: number; monthly: number }>(
        `select (select count(*)::int from app.usage_events where tenant_id = $1 and metric = 'reports') as events,
                (select quantity::int from app.usage_monthly where tenant_id = $1 and metric = 'reports') as monthly`,
        [a.tenantId],
      ),
    );
    expect(rows[0]).toEqual({ events: 3, monthly: 3 });
  });

  test('concurrent requests cannot slip past the monthly limit together', async () => {
    const a = await signUp(t.client, 'race', 'pro');
    await withClient(t.databaseUrl, (c) => c.query(`update app.tenants set limits = limits || '{"monthly_exports": 4}' where id = $1`, [a.tenantId]));
    const statuses = (await Promise.all(Array.from({ length: 10 }, () => t.client.post('/exports', { token: a.token })))).map((r) => r.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(4);
    expect(statuses.filter((s) => s === 429)).toHaveLength(6);
  });

  test('the report aggregates the tenant\'s own data only, and says how long its statement ran', async () => {
    const a = await signUp(t.client, 'rep-a', 'pro');
    const b = await signUp(t.client, 'rep-b', 'pro');
    await createProjects(t.client, a.token, ['a-one', 'a-two']);
    await createProjects(t.client, b.token, ['b-one']);
    const report = await t.client.get('/reports/portfolio', { token: a.token });
    expect(report.status).toBe(200);
    expect(report.body.projects.map((p: { name: string }) => p.name)).toEqual(['a-one', 'a-two']);
    expect(report.headers.get('server-timing')).toMatch(/^db;dur=\d+(\.\d)?$/);
  });

  test('a support session is bounded in time and to its tenant, and a reason is required', async () => {
    const a = await signUp(t.client, 'sup-a', 'pro');
    const b = await signUp(t.client, 'sup-b', 'pro');
    const agent = await supportAgent(t);
    const noReason = await t.client.post('/support/sessions', { token: agent.token, body: { tenant: a.slug, reason: 'x', minutes: 5 } });
    expect(noReason.status).toBe(400);
    expect(noReason.body.field).toBe('reason');
    const tooLong = await t.client.post('/support/sessions', { token: agent.token, body: { tenant: a.slug, reason: 'investigating ticket 42', minutes: 61 } });
    expect(tooLong.status).toBe(400);
    const tenantToken = await t.client.post('/support/sessions', { token: a.token, body: { tenant: a.slug, reason: 'investigating ticket 42', minutes: 5 } });
    expect(tenantToken.status).toBe(401); // a tenant token is not a support token either
    const opened = await t.client.post('/support/sessions', { token: agent.token, body: { tenant: a.slug, reason: 'investigating ticket 42', minutes: 5 } });
    expect(opened.status).toBe(201);
    const expiresIn = new Date(opened.body.session.expiresAt).getTime() - Date.now();
    expect(expiresIn).toBeGreaterThan(4 * 60_000);
    expect(expiresIn).toBeLessThanOrEqual(5 * 60_000);
    const other = await t.client.get('/projects', { token: opened.body.token, headers: { 'x-tenant': b.slug } });
    expect(other.status).toBe(403);
    expect((await t.client.get('/invoices', { token: opened.body.token })).status).toBe(200);
    expect((await t.client.get('/members', { token: opened.body.token })).status).toBe(403);
  });
});
