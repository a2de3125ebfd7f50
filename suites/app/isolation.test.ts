/**
 * Two tenants signed up through the API cannot see, change or count each other's data through
 * any route. Each check runs against the correct app (no leaks) and — in the red half — against
 * the app started with the named vulnerability it exists to catch (the leak is reported).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { writeReports } from '../../reports/index.ts';
import { startReferenceApp, UnknownVulnerabilityError, vulnerabilities, vulnerabilityNames, type VulnerabilityName } from '../../reference-app/src/index.ts';
import { scratchDatabase } from '../../fixtures/index.ts';
import {
  checkContextDoesNotOutliveTransaction,
  checkForgedTokens,
  checkNoisyNeighbour,
  checkDatabaseReach,
  checkSchemaNaming,
  checkSchemaPrivileges,
  checkSearchPathDoesNotOutliveTransaction,
  checkProjectIsolation,
  checkSwitchTenant,
  checkTenantSelection,
  type Leak,
} from './checks.ts';
import { signUp, startTestApp, type SignedUpTenant, type TestApp } from './harness.ts';
import { platformCaughtBy, platformVulnerabilities, type PlatformVulnerability } from './platform-checks.ts';
import { checkAuditSequence, checkExistenceOracle, checkInvoiceNumbers, checkJobContext, checkResponseCache } from './side-channels.ts';

type Check = (t: TestApp, acting: SignedUpTenant, victim: SignedUpTenant) => Promise<Leak[]>;
type Model = SignedUpTenant['model'];

/** A check, and the models of the (acting, victim) pairs it applies to (default: every pair). */
const checks: Record<string, { run: Check; applies?: (acting: Model, victim: Model) => boolean }> = {
  'project isolation (list, read, patch, delete, stats, tasks, comments)': { run: (t, a, b) => checkProjectIsolation(t.client, a, b) },
  'tenant selection by X-Tenant header and subdomain': { run: (t, a, b) => checkTenantSelection(t.client, a, b) },
  'switch-tenant membership check': { run: (t, a, b) => checkSwitchTenant(t.client, a, b) },
  'forged tokens (alg none, wrong key, expired, tampered)': { run: (t, a, b) => checkForgedTokens(t.client, a, b) },
  'tenant context ends with its transaction': { run: (t, a, b) => checkContextDoesNotOutliveTransaction(t.client, t.app, a, b), applies: (a) => a === 'rls' },
  "noisy neighbour: one tenant cannot spend another tenant's rate limit": { run: (t, a, b) => checkNoisyNeighbour(t.client, a, b) },
  "schema model: PostgreSQL refuses another tenant's schema by qualified name": {
    run: (t, a, b) => checkSchemaPrivileges(t.client, t.app, a, b),
    applies: (_a, b) => b === 'schema',
  },
  'schema model: role and search_path end with the transaction': {
    run: (t, a, b) => checkSearchPathDoesNotOutliveTransaction(t.client, t.app, a, b),
    applies: (a) => a === 'schema',
  },
  "database model: no connecting to another tenant's database": {
    run: (t, a, b) => checkDatabaseReach(t.app, a, b),
    applies: (_a, b) => b === 'database',
  },
  'schema model: schema names derive from the tenant id, not the slug': {
    run: (t, a, b) => checkSchemaNaming(t.app, a, b),
    applies: (a, b) => a === 'schema' || b === 'schema',
  },
  "response cache: a tenant never gets another tenant's cached answer": { run: (t, a, b) => checkResponseCache(t.client, a, b) },
  'background jobs run in the tenant context they were enqueued in': { run: (t, a, b) => checkJobContext(t.client, a, b) },
  "existence oracle: another tenant's id is answered like an unused id": { run: (t, a, b) => checkExistenceOracle(t.client, a, b) },
  "invoice numbers do not count another tenant's invoices": { run: (t, a, b) => checkInvoiceNumbers(t.client, a, b) },
  "audit-log entry ids do not count another tenant's writes": { run: (t, a, b) => checkAuditSequence(t.client, a, b) },
};

/**
 * Which check must catch each named vulnerability (typed: every vulnerability needs an entry
 * here or in `platformCaughtBy`, whose red cases run in platform.test.ts and redis.test.ts).
 */
const caughtBy: Record<Exclude<VulnerabilityName, PlatformVulnerability>, keyof typeof checks> = {
  'rls-not-forced': 'project isolation (list, read, patch, delete, stats, tasks, comments)',
  'session-level-context': 'tenant context ends with its transaction',
  'header-tenant-trusted': 'tenant selection by X-Tenant header and subdomain',
  'switch-tenant-unchecked': 'switch-tenant membership check',
  'jwt-unverified': 'forged tokens (alg none, wrong key, expired, tampered)',
  'idor-by-id': 'project isolation (list, read, patch, delete, stats, tasks, comments)',
  'stats-unscoped': 'project isolation (list, read, patch, delete, stats, tasks, comments)',
  'rate-limit-global': "noisy neighbour: one tenant cannot spend another tenant's rate limit",
  'schema-shared-role': "schema model: PostgreSQL refuses another tenant's schema by qualified name",
  'search-path-session': 'schema model: role and search_path end with the transaction',
  'schema-name-injection': 'schema model: schema names derive from the tenant id, not the slug',
  'database-public-connect': "database model: no connecting to another tenant's database",
  'cache-key-unscoped': "response cache: a tenant never gets another tenant's cached answer",
  'job-context-lost': 'background jobs run in the tenant context they were enqueued in',
  'existence-oracle': "existence oracle: another tenant's id is answered like an unused id",
  'invoice-number-global': "invoice numbers do not count another tenant's invoices",
  'audit-sequence-global': "audit-log entry ids do not count another tenant's writes",
};

/** Where each vulnerability must show up (every pattern must match a reported leak). */
const expectedVia: Record<Exclude<VulnerabilityName, PlatformVulnerability>, RegExp[]> = {
  'rls-not-forced': [/^GET \/projects$/, /^GET \/stats$/],
  'session-level-context': [/pooled connection/],
  'header-tenant-trusted': [/X-Tenant header/, /subdomain/],
  'switch-tenant-unchecked': [/^POST \/switch-tenant$/, /re-issued token/],
  'jwt-unverified': [/alg none/, /wrong key/, /expired/, /tampered claims/],
  'idor-by-id': [/^GET \/projects\/:id$/, /^PATCH \/projects\/:id$/, /^DELETE \/projects\/:id$/, /victim state/],
  'stats-unscoped': [/^GET \/stats$/],
  'rate-limit-global': [/429 for the quiet tenant/],
  'schema-shared-role': [/^select count.*<victim schema>"\.projects/, /^update/, /has_schema_privilege/],
  'search-path-session': [/role, search_path/, /unqualified projects read/],
  'schema-name-injection': [/schema of the tenant context/, /schema named after a slug/],
  'database-public-connect': [/connect to the victim database/, /read app.projects/],
  'cache-key-unscoped': [/^GET \/stats \(first ask/, /^GET \/stats \(second ask/],
  'job-context-lost': [/never completed in its own tenant/, /^victim GET \/exports holds/],
  'existence-oracle': [
    /^GET \/projects\/:id$/,
    /^PATCH \/projects\/:id$/,
    /^DELETE \/projects\/:id$/,
    /^GET \/projects\/:id\/tasks$/,
    /^POST \/projects\/:id\/tasks$/,
    /^PATCH \/projects\/:id\/tasks\/:taskId$/,
    /^GET \/projects\/:id\/comments$/,
    /^POST \/projects\/:id\/comments$/,
  ],
  'invoice-number-global': [/^POST \/invoices numbers$/],
  'audit-sequence-global': [/^GET \/audit-log entry ids$/],
};

/** Options a red case needs to show its vulnerability quickly (a small budget the noisy tenant can use up). */
const redCaseOptions: Partial<Record<VulnerabilityName, Parameters<typeof startTestApp>[0]>> = {
  'rate-limit-global': { rateLimit: { max: 40, timeWindowMs: 60_000 } },
};

/** The model both red-case tenants are signed up in (default rls). */
const redCaseModel: Partial<Record<VulnerabilityName, Model>> = {
  'schema-shared-role': 'schema',
  'search-path-session': 'schema',
  'schema-name-injection': 'schema',
  'database-public-connect': 'database',
};

/** Tenant pairs of the correct app: each model, and across models. */
const pairs: [Model, Model][] = [
  ['rls', 'rls'],
  ['schema', 'schema'],
  ['database', 'database'],
  ['rls', 'schema'],
  ['rls', 'database'],
];

describe.each(pairs)('the correct app keeps tenants apart (%s tenant next to %s tenant)', (modelA, modelB) => {
  let t: TestApp;
  let a: SignedUpTenant;
  let b: SignedUpTenant;
  beforeAll(async () => {
    t = await startTestApp({ poolSize: 1 });
    a = await signUp(t.client, 'acme', 'pro', modelA);
    b = await signUp(t.client, 'globex', 'pro', modelB);
    expect([a.model, b.model]).toEqual([modelA, modelB]);
  });
  afterEach(() => {
    expect(t.app.poolStats().checkedOut).toBe(0);
  });
  afterAll(async () => {
    await t?.close();
  });

  for (const [name, check] of Object.entries(checks)) {
    test(`${name}: no leak in either direction`, async (ctx) => {
      const forward = check.applies?.(modelA, modelB) ?? true;
      const backward = check.applies?.(modelB, modelA) ?? true;
      if (!forward && !backward) ctx.skip();
      if (forward) expect(await check.run(t, a, b)).toEqual([]);
      if (backward) expect(await check.run(t, b, a)).toEqual([]);
    });
  }

  test('under concurrency (interleaved requests of both tenants on a pool of one) each answer holds only the caller\'s rows', async () => {
    const own = async (tenant: SignedUpTenant) =>
      new Set<string>((await t.client.get('/projects?limit=200', { token: tenant.token })).body.projects.map((p: { id: string }) => p.id));
    const expected = new Map([[a.slug, await own(a)], [b.slug, await own(b)]]);
    const requests = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b)).map(async (tenant) => {
      const response = await t.client.get('/projects?limit=200', { token: tenant.token });
      return { tenant, ids: response.body.projects.map((p: { id: string }) => p.id) as string[] };
    });
    for (const { tenant, ids } of await Promise.all(requests)) {
      expect(new Set(ids), `${tenant.slug} got another tenant's rows`).toEqual(expected.get(tenant.slug));
    }
  });

  test('each tenant still sees exactly its own projects afterwards', async () => {
    for (const tenant of [a, b]) {
      const list = await t.client.get('/projects?limit=200', { token: tenant.token });
      expect(list.status).toBe(200);
      expect(list.body.projects.length).toBeGreaterThan(0);
      const stats = await t.client.get('/stats', { token: tenant.token });
      expect(stats.body.projects).toBe(list.body.projects.length);
    }
  });
});

describe('red cases: each named vulnerability is caught', () => {
  test('every documented vulnerability has a description and a catching check', () => {
    expect([...Object.keys(caughtBy), ...Object.keys(platformCaughtBy)].sort()).toEqual([...vulnerabilityNames].sort());
    for (const name of vulnerabilityNames) expect(vulnerabilities[name].description.length).toBeGreaterThan(40);
  });

  test('an unknown vulnerability name is refused, never ignored', async () => {
    await using db = await scratchDatabase('refapp');
    const attempt = startReferenceApp({ databaseUrl: db.url, vulnerabilities: ['rls-not-forced', 'rls-not-forgotten'] });
    await expect(attempt).rejects.toBeInstanceOf(UnknownVulnerabilityError);
    await expect(attempt).rejects.toThrow(/unknown vulnerability name\(s\): rls-not-forgotten; known: rls-not-forced, /);
  });

  const here = vulnerabilityNames.filter((v): v is Exclude<VulnerabilityName, PlatformVulnerability> => !(platformVulnerabilities as string[]).includes(v));
  describe.each(here)('%s', (vulnerability) => {
    let t: TestApp;
    let a: SignedUpTenant;
    let b: SignedUpTenant;
    beforeAll(async () => {
      t = await startTestApp({ poolSize: 1, ...redCaseOptions[vulnerability], vulnerabilities: [vulnerability] });
      a = await signUp(t.client, 'acme', 'pro', redCaseModel[vulnerability]);
      b = await signUp(t.client, 'globex', 'pro', redCaseModel[vulnerability]);
    });
    afterEach(() => {
      expect(t.app.poolStats().checkedOut).toBe(0);
    });
    afterAll(async () => {
      await t?.close();
    });

    test(`is reported by "${caughtBy[vulnerability]}"`, async () => {
      const leaks = await checks[caughtBy[vulnerability]]!.run(t, a, b);
      expect(leaks.length, `expected ${vulnerability} to be reported`).toBeGreaterThan(0);
      for (const pattern of expectedVia[vulnerability]) expect(leaks.map((l) => l.via)).toContainEqual(expect.stringMatching(pattern));
      for (const l of leaks) {
        expect(l.actingTenant).toBe(a.slug);
        expect(l.victimTenant).toBe(b.slug);
      }
      // HTTP findings are findings like any other: every report format carries them.
      const dir = join('reports', 'out', 'app-checks', vulnerability);
      await writeReports(dir, { findings: leaks, rulesRun: [], target: 'reference app (HTTP)', model: redCaseModel[vulnerability], startedAt: new Date(), durationMs: 0 });
      const json = JSON.parse(readFileSync(join(dir, 'findings.json'), 'utf8')) as { verdict: string; findings: { checkId: string; leak: boolean }[] };
      expect(json.verdict).toBe('findings');
      expect(json.findings.map((f) => f.checkId).sort()).toEqual(leaks.map((l) => `http-${l.check}`).sort());
      expect(json.findings.every((f) => f.leak)).toBe(true);
      const sarif = JSON.parse(readFileSync(join(dir, 'tenantproof.sarif'), 'utf8')) as { runs: { results: unknown[] }[] };
      expect(sarif.runs[0]!.results).toHaveLength(leaks.length);
      expect(readFileSync(join(dir, 'junit.xml'), 'utf8')).toContain(`http-${leaks[0]!.check}`);
    });
  });
});
