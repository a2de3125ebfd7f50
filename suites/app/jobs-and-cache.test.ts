/**
 * The response cache and the background job queue do their work — and keep the tenant context
 * while doing it — for tenants of all three isolation models. (Their isolation checks, with red
 * cases, are in isolation.test.ts; these tests show the mechanisms are real: answers are served
 * from the cache and dropped on writes, jobs run where their tenant lives, are claimed once, and
 * are re-authorised when they run — and that the cache and job checks catch their named
 * vulnerability for schema and database tenants too, not only in the rls red case.)
 */
import { decodeJwt } from 'jose';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import {
  NoTenantContextError,
  runInTenantContext,
  TenantCache,
  type IsolationModel,
  type ProjectsSummary,
  type TenantContext,
  type TenantRef,
} from '../../reference-app/src/index.ts';
import { createProjects, signUp, startTestApp, type SignedUpTenant, type TestApp } from './harness.ts';
import { checkJobContext, checkResponseCache } from './side-channels.ts';

const models: IsolationModel[] = ['rls', 'schema', 'database'];
const refOf = (t: SignedUpTenant): TenantRef => ({ id: t.tenantId, slug: t.slug, model: t.model });

async function exportSettled(t: TestApp, tenant: SignedUpTenant, id: string, deadlineMs = 10_000) {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const response = await t.client.get(`/exports/${id}`, { token: tenant.token });
    if (response.status !== 200 || response.body.status !== 'queued' || Date.now() > until) return response;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('tenant cache (lru-cache), in isolation from HTTP', () => {
  const context = (id: string): TenantContext => ({
    tenant: { id, slug: id, model: 'rls' },
    principal: { userId: 'u', role: 'admin', tokenIssuedAtMs: 0, via: 'token' },
  });

  test('keys come from the tenant context; outside one the cache refuses (fails closed)', async () => {
    const cache = new TenantCache({ maxEntries: 10, ttlMs: 60_000 });
    await expect(cache.remember('stats', async () => 1)).rejects.toBeInstanceOf(NoTenantContextError);
    expect(await runInTenantContext(context('a'), () => cache.remember('stats', async () => 'for a'))).toBe('for a');
    expect(await runInTenantContext(context('b'), () => cache.remember('stats', async () => 'for b'))).toBe('for b');
    expect(await runInTenantContext(context('a'), () => cache.remember('stats', async () => 'recomputed'))).toBe('for a');
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 2, entries: 2 });
  });

  test('an answer computed while its tenant wrote is not stored; other tenants keep theirs', async () => {
    const cache = new TenantCache({ maxEntries: 10, ttlMs: 60_000 });
    await runInTenantContext(context('b'), () => cache.remember('stats', async () => 'b1'));
    const stale = await runInTenantContext(context('a'), () =>
      cache.remember('stats', async () => {
        cache.invalidateTenant('a'); // a write of tenant a lands while the read computes
        return 'stale';
      }),
    );
    expect(stale).toBe('stale');
    expect(cache.stats().discarded).toBe(1);
    expect(await runInTenantContext(context('a'), () => cache.remember('stats', async () => 'fresh'))).toBe('fresh');
    expect(await runInTenantContext(context('b'), () => cache.remember('stats', async () => 'b2'))).toBe('b1');
  });

  test('bounded: never more entries than maxEntries, least recently used dropped first', async () => {
    const cache = new TenantCache({ maxEntries: 3, ttlMs: 60_000 });
    for (const id of ['a', 'b', 'c', 'd', 'e']) await runInTenantContext(context(id), () => cache.remember('stats', async () => id));
    expect(cache.stats().entries).toBe(3);
    expect(await runInTenantContext(context('a'), () => cache.remember('stats', async () => 'again'))).toBe('again');
  });
});

describe.each(models)('GET /stats is cached per tenant (%s tenant)', (model) => {
  let t: TestApp;
  let a: SignedUpTenant;
  let b: SignedUpTenant;
  beforeAll(async () => {
    t = await startTestApp({ poolSize: 2, cache: { maxEntries: 100, ttlMs: 1000 } });
    a = await signUp(t.client, 'cached', 'pro', model);
    b = await signUp(t.client, 'other', 'pro', 'rls');
    await createProjects(t.client, a.token, ['c1', 'c2'], 50);
  });
  afterEach(() => {
    expect(t.app.poolStats().checkedOut).toBe(0);
  });
  afterAll(async () => {
    await t?.close();
  });

  test('a second ask is a cache hit; the tenant\'s own write is visible at once', async () => {
    const first = await t.client.get('/stats', { token: a.token });
    const hitsBefore = t.app.cacheStats().hits;
    const second = await t.client.get('/stats', { token: a.token });
    expect(t.app.cacheStats().hits).toBe(hitsBefore + 1);
    expect(second.body).toEqual(first.body);
    expect(first.body).toMatchObject({ projects: 2, budgetCents: 100 });
    await createProjects(t.client, a.token, ['c3'], 25);
    expect((await t.client.get('/stats', { token: a.token })).body).toMatchObject({ projects: 3, budgetCents: 125 });
    // Another tenant's write does not drop this tenant's entry.
    await t.client.get('/stats', { token: a.token });
    const hits = t.app.cacheStats().hits;
    await createProjects(t.client, b.token, ['elsewhere'], 1);
    await t.client.get('/stats', { token: a.token });
    expect(t.app.cacheStats().hits).toBe(hits + 1);
  });

  test('a write that bypasses HTTP is served stale at most for the TTL', async () => {
    await t.client.get('/stats', { token: a.token });
    const before = (await t.client.get('/stats', { token: a.token })).body.projects as number;
    await t.app.tenancy.withTenant(refOf(a), (tx) => tx.query(`insert into projects (name, created_by) values ('behind the cache', $1)`, [decodeJwt(a.token).sub]));
    expect((await t.client.get('/stats', { token: a.token })).body.projects).toBe(before);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await t.client.get('/stats', { token: a.token })).body.projects).toBe(before + 1);
  });
});

describe('background jobs: exports for tenants of every model', () => {
  let t: TestApp;
  const tenants = {} as Record<IsolationModel, SignedUpTenant>;
  beforeAll(async () => {
    t = await startTestApp({ poolSize: 1, jobs: { pollIntervalMs: 100, runWorker: true } });
    for (const model of models) {
      tenants[model] = await signUp(t.client, `jobs-${model}`, 'pro', model);
      await createProjects(t.client, tenants[model].token, [`${model}-alpha`, `${model}-beta`], model === 'rls' ? 10 : model === 'schema' ? 20 : 30);
    }
  });
  afterEach(() => {
    expect(t.app.poolStats().checkedOut).toBe(0);
  });
  afterAll(async () => {
    await t?.close();
  });

  test.each(models)('%s tenant: POST /exports is answered 202 queued, and the job summarises exactly its projects, stored in its own home', async (model) => {
    const tenant = tenants[model];
    const queued = await t.client.post('/exports', { token: tenant.token });
    expect(queued.status).toBe(202);
    expect(queued.body).toMatchObject({ status: 'queued', kind: 'projects-summary', requestedBy: decodeJwt(tenant.token).sub, result: null });
    const done = await exportSettled(t, tenant, queued.body.id);
    expect(done.body.status).toBe('done');
    const per = model === 'rls' ? 10 : model === 'schema' ? 20 : 30;
    expect(done.body.result as ProjectsSummary).toEqual({ projects: 2, budgetCents: 2 * per, byStatus: { active: 2 }, names: [`${model}-alpha`, `${model}-beta`] });
    // The row is in the tenant's own home (shared tables, its schema, its database), read in its context.
    const { rows } = await t.app.tenancy.withTenant(refOf(tenant), (tx) =>
      tx.query<{ status: string; schema: string; db: string }>('select status, current_schema() as schema, current_database() as db from exports where id = $1', [queued.body.id]),
    );
    expect(rows).toEqual([{ status: 'done', schema: model === 'schema' ? `tenant_${tenant.tenantId.replaceAll('-', '')}` : 'app', db: expect.any(String) }]);
    if (model === 'database') expect(rows[0]!.db).toBe(t.app.control.databasePlacement(refOf(tenant)).database);
    // Listed for the tenant, and for nobody else.
    expect((await t.client.get('/exports', { token: tenant.token })).body.exports.map((e: { id: string }) => e.id)).toContain(queued.body.id);
    for (const other of models.filter((m) => m !== model)) {
      expect((await t.client.get(`/exports/${queued.body.id}`, { token: tenants[other].token })).status).toBe(404);
    }
  });

  test('enqueueing outside a tenant context is refused (fails closed)', async () => {
    await expect(t.app.jobs.enqueue('export-projects', { exportId: crypto.randomUUID() })).rejects.toBeInstanceOf(NoTenantContextError);
  });

  test("forced RLS on the queue: in one tenant's context the app role sees only its jobs and cannot enqueue for another", async () => {
    const [a, b] = [tenants.rls, tenants.schema];
    const client = new pg.Client({ connectionString: t.app.database.appUrl });
    await client.connect();
    try {
      await client.query('begin');
      await client.query(`select set_config('app.current_tenant', $1, true)`, [a.tenantId]);
      await client.query(`insert into app.jobs (task, payload, run_at) values ('export-projects', '{}', now() + interval '1 hour')`);
      const { rows } = await client.query<{ tenant_id: string }>('select distinct tenant_id from app.jobs');
      expect(rows.map((r) => r.tenant_id)).toEqual([a.tenantId]);
      await expect(client.query(`insert into app.jobs (tenant_id, task) values ($1, 'export-projects')`, [b.tenantId])).rejects.toMatchObject({ code: '42501' });
    } finally {
      await client.query('rollback').catch(() => undefined);
      await client.end();
    }
  });
});

describe('background jobs: claiming and re-authorisation (worker off, jobs run one at a time)', () => {
  let t: TestApp;
  let a: SignedUpTenant;
  beforeAll(async () => {
    t = await startTestApp({ poolSize: 2, jobs: { pollIntervalMs: 1000, runWorker: false } });
    a = await signUp(t.client, 'claims', 'pro', 'rls');
  });
  afterEach(() => {
    expect(t.app.poolStats().checkedOut).toBe(0);
  });
  afterAll(async () => {
    await t?.close();
  });

  test('two workers never claim the same job (FOR UPDATE SKIP LOCKED): the second gets the next one or none', async () => {
    const ids = [(await t.client.post('/exports', { token: a.token })).body.id, (await t.client.post('/exports', { token: a.token })).body.id];
    const [w1, w2, w3] = [0, 1, 2].map(() => new pg.Client({ connectionString: t.app.database.appUrl }));
    await Promise.all([w1!, w2!, w3!].map((c) => c.connect()));
    try {
      for (const c of [w1!, w2!, w3!]) await c.query('begin');
      const claimed = [];
      for (const [c, name] of [[w1!, 'w1'], [w2!, 'w2'], [w3!, 'w3']] as const) {
        const { rows } = await c.query<{ id: string; payload: { exportId: string } }>('select * from app.claim_job($1)', [name]);
        claimed.push(rows[0]?.payload.exportId ?? null);
      }
      expect(claimed.slice(0, 2).sort()).toEqual([...ids].sort());
      expect(claimed[2]).toBeNull();
    } finally {
      for (const c of [w1!, w2!, w3!]) await c.query('rollback').catch(() => undefined);
      await Promise.all([w1!, w2!, w3!].map((c) => c.end()));
    }
    // Rolled back: the app's worker runs both.
    expect(await t.app.jobs.runNext()).toBe(true);
    expect(await t.app.jobs.runNext()).toBe(true);
    expect(await t.app.jobs.runNext()).toBe(false);
    for (const id of ids) expect((await t.client.get(`/exports/${id}`, { token: a.token })).body.status).toBe('done');
  });

  test.each(['schema', 'database'] as const)('a job enqueued before its tenant moved to the %s model runs where the tenant lives now', async (to) => {
    const mover = await signUp(t.client, `mover-${to}`, 'pro', 'rls');
    await createProjects(t.client, mover.token, ['moving-1', 'moving-2', 'moving-3'], 7);
    const queued = await t.client.post('/exports', { token: mover.token });
    expect(queued.status).toBe(202);
    await t.app.control.moveTenant(mover.tenantId, to);
    expect(await t.app.jobs.runNext()).toBe(true);
    const done = await t.client.get(`/exports/${queued.body.id}`, { token: mover.token });
    expect(done.body).toMatchObject({ status: 'done', result: { projects: 3, budgetCents: 21, names: ['moving-1', 'moving-2', 'moving-3'] } });
    // Written in its new home; nothing of it left in the shared tables.
    const { rows } = await t.app.tenancy.withTenant({ id: mover.tenantId, slug: mover.slug, model: to }, (tx) =>
      tx.query<{ status: string }>('select status from exports where id = $1', [queued.body.id]),
    );
    expect(rows).toEqual([{ status: 'done' }]);
    const { rows: shared } = await t.app.control.withAdmin((c) => c.query('select 1 from app.exports where tenant_id = $1', [mover.tenantId]));
    expect(shared).toEqual([]);
  });

  test('a job runs as the principal who asked: a member removed before it runs gets a failed export, not a summary', async () => {
    const email = `member@${a.slug}.test`;
    const added = await t.client.post('/members', { token: a.token, body: { email, role: 'member', password: 'password-1' } });
    expect(added.status).toBe(201);
    const login = await t.client.post('/login', { body: { email, password: 'password-1' } });
    const queued = await t.client.post('/exports', { token: login.body.token });
    expect(queued.status).toBe(202);
    expect((await t.client.delete(`/members/${added.body.userId}`, { token: a.token })).status).toBe(204);
    const failedBefore = t.app.jobStats().failed;
    expect(await t.app.jobs.runNext()).toBe(true);
    expect(t.app.jobStats().failed).toBe(failedBefore + 1);
    const seen = await t.client.get(`/exports/${queued.body.id}`, { token: a.token });
    expect(seen.body).toMatchObject({ status: 'failed', result: null, error: expect.stringMatching(/revoked/) });
  });
});

describe.each(['schema', 'database'] as const)('red cases in the %s model: the cache and job checks catch their vulnerability there too', (model) => {
  test.each(['cache-key-unscoped', 'job-context-lost'] as const)('%s', async (vulnerability) => {
    await using t = await startTestApp({ poolSize: 1, vulnerabilities: [vulnerability], jobs: { pollIntervalMs: 100, runWorker: true } });
    const acting = await signUp(t.client, 'acme', 'pro', model);
    const victim = await signUp(t.client, 'globex', 'pro', model);
    const leaks = vulnerability === 'cache-key-unscoped' ? await checkResponseCache(t.client, acting, victim) : await checkJobContext(t.client, acting, victim, 3000);
    expect(leaks.length, `${vulnerability} not reported for ${model} tenants`).toBeGreaterThan(0);
    for (const l of leaks) expect([l.actingTenant, l.victimTenant]).toEqual([acting.slug, victim.slug]);
    if (vulnerability === 'job-context-lost') {
      expect(leaks.map((l) => l.via)).toContainEqual(expect.stringMatching(/^victim GET \/exports holds/));
    }
    expect(t.app.poolStats().checkedOut).toBe(0);
  });
});
