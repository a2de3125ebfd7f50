/**
 * Provisioning and teardown, the audit log, tenant ids in logs, the per-tenant rate limit and
 * plan limits.
 */
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { withClient } from '../../src/index.ts';
import { tenantTableNames } from '../../reference-app/src/index.ts';
import { createProjects, signUp, startTestApp, uniqueSlug, type SignedUpTenant, type TestApp } from './harness.ts';

let t: TestApp;
let a: SignedUpTenant;
let b: SignedUpTenant;

const admin = <T>(fn: (c: import('pg').Client) => Promise<T>) => withClient(t.databaseUrl, fn);

/** Rows per tenant table (and the tenants row) for one tenant id, read as the admin. */
async function rowsOfTenant(tenantId: string): Promise<Record<string, number>> {
  return admin(async (c) => {
    const counts: Record<string, number> = {};
    for (const table of tenantTableNames) {
      const { rows } = await c.query<{ n: number }>(`select count(*)::int as n from app.${table} where tenant_id = $1`, [tenantId]);
      counts[table] = rows[0]!.n;
    }
    const { rows } = await c.query<{ n: number }>('select count(*)::int as n from app.tenants where id = $1', [tenantId]);
    counts.tenants = rows[0]!.n;
    return counts;
  });
}

async function totals(): Promise<Record<(typeof tenantTableNames)[number] | 'tenants' | 'users', number>> {
  return admin(async (c) => {
    const counts = {} as Record<(typeof tenantTableNames)[number] | 'tenants' | 'users', number>;
    for (const table of ['tenants', 'users', ...tenantTableNames] as const) {
      const { rows } = await c.query<{ n: number }>(`select count(*)::int as n from app.${table}`);
      counts[table] = rows[0]!.n;
    }
    return counts;
  });
}

beforeAll(async () => {
  t = await startTestApp();
  a = await signUp(t.client, 'acme');
  b = await signUp(t.client, 'globex');
});
afterEach(() => {
  expect(t.app.poolStats().checkedOut).toBe(0);
});
afterAll(async () => {
  await t?.close();
});

describe('signup is atomic', () => {
  test('an email already registered fails after the tenant and its roles were inserted: nothing is left', async () => {
    const before = await totals();
    const slug = uniqueSlug('halfmade');
    const response = await t.client.post('/signup', { body: { tenant: { slug, name: 'Half' }, email: a.email, password: 'password-1' } });
    expect(response.status).toBe(409);
    expect(response.body).toEqual({ error: 'email is already registered' });
    expect(await totals()).toEqual(before);
    const { rows } = await admin((c) => c.query('select 1 from app.tenants where slug = $1', [slug]));
    expect(rows).toHaveLength(0);
    // The slug is still free.
    const retry = await t.client.post('/signup', { body: { tenant: { slug, name: 'Half' }, email: `new@${slug}.test`, password: 'password-1' } });
    expect(retry.status).toBe(201);
  });

  test('concurrent signups of one slug: exactly one tenant, and no orphan user', async () => {
    const slug = uniqueSlug('race');
    const before = await totals();
    const results = await Promise.all(
      [0, 1, 2, 3].map((i) => t.client.post('/signup', { body: { tenant: { slug, name: 'Race' }, email: `r${i}@${slug}.test`, password: 'password-1' } })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
    const after = await totals();
    expect(after.tenants).toBe(before.tenants + 1);
    expect(after.users).toBe(before.users + 1);
    expect(after.memberships).toBe(before.memberships + 1);
  });
});

describe('teardown', () => {
  test('DELETE /tenant removes every row of the tenant, and only of that tenant', async () => {
    const c = await signUp(t.client, 'doomed');
    const [project] = await createProjects(t.client, c.token, ['p1', 'p2']);
    await t.client.post(`/projects/${project}/tasks`, { token: c.token, body: { title: 'task' } });
    await t.client.post(`/projects/${project}/comments`, { token: c.token, body: { body: 'comment' } });
    await t.client.post('/invoices', { token: c.token, body: { amountCents: 10, projectId: project } });
    expect((await t.client.post('/exports', { token: c.token })).status).toBe(202);
    const added = await t.client.post('/members', { token: c.token, body: { email: `viewer@${c.slug}.test`, role: 'member', password: 'password-1' } });
    await t.client.patch(`/members/${added.body.userId}`, { token: c.token, body: { role: 'viewer' } }); // leaves a token revocation row
    const viewerLogin = await t.client.post('/login', { body: { email: `viewer@${c.slug}.test`, password: 'password-1' } });
    const populated = await rowsOfTenant(c.tenantId);
    for (const table of tenantTableNames) expect(populated[table], table).toBeGreaterThan(0);
    const othersBefore = [await rowsOfTenant(a.tenantId), await rowsOfTenant(b.tenantId)];

    expect((await t.client.delete('/tenant', { token: viewerLogin.body.token })).status).toBe(403);
    expect((await t.client.delete('/tenant', { token: c.token })).status).toBe(204);

    const gone = await rowsOfTenant(c.tenantId);
    expect(Object.values(gone).every((n) => n === 0), JSON.stringify(gone)).toBe(true);
    expect([await rowsOfTenant(a.tenantId), await rowsOfTenant(b.tenantId)]).toEqual(othersBefore);
    // Its tokens now answer 401; its users can no longer log in to any tenant.
    expect((await t.client.get('/projects', { token: c.token })).status).toBe(401);
    expect((await t.client.post('/login', { body: { email: c.email, password: c.password } })).status).toBe(403);
    // The slug is free again.
    expect((await t.client.post('/signup', { body: { tenant: { slug: c.slug, name: 'Reborn' }, email: `re@${c.slug}.test`, password: 'password-1' } })).status).toBe(201);
  });
});

describe('tenant status', () => {
  test('a suspended tenant refuses its members\' requests and logins, and the other tenant is unaffected', async () => {
    const s = await signUp(t.client, 'suspended');
    await admin((c) => c.query(`update app.tenants set status = 'suspended' where id = $1`, [s.tenantId]));
    const refused = await t.client.get('/projects', { token: s.token });
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({ error: 'tenant is suspended' });
    expect((await t.client.post('/login', { body: { email: s.email, password: s.password } })).status).toBe(403);
    expect((await t.client.get('/projects', { token: a.token })).status).toBe(200);
  });
});

describe('audit log', () => {
  test('every write leaves one audit row in its own tenant, with the actor', async () => {
    const actor = decodeJwt(a.token).sub;
    const [project] = await createProjects(t.client, a.token, ['audited']);
    await t.client.patch(`/projects/${project}`, { token: a.token, body: { name: 'audited-2' } });
    const task = await t.client.post(`/projects/${project}/tasks`, { token: a.token, body: { title: 'a task' } });
    await t.client.delete(`/projects/${project}`, { token: a.token });
    const log = await t.client.get('/audit-log?limit=4', { token: a.token });
    expect(log.status).toBe(200);
    expect(log.body.entries.map((e: { action: string; entityId: string; actorId: string }) => [e.action, e.entityId, e.actorId])).toEqual([
      ['project.deleted', project, actor],
      ['task.created', task.body.id, actor],
      ['project.updated', project, actor],
      ['project.created', project, actor],
    ]);
    const bLog = await t.client.get('/audit-log?limit=500', { token: b.token });
    expect(bLog.body.entries.some((e: { entityId: string }) => e.entityId === project)).toBe(false);
    const { rows } = await admin((c) => c.query<{ tenant_id: string }>('select distinct tenant_id from app.audit_log where entity_id = $1', [project]));
    expect(rows).toEqual([{ tenant_id: a.tenantId }]);
  });

  test('a refused write leaves no audit row', async () => {
    const before = (await admin((c) => c.query<{ n: number }>('select count(*)::int as n from app.audit_log'))).rows[0]!.n;
    await t.client.post('/projects', { token: a.token, body: { name: 123 } });
    await t.client.patch('/projects/00000000-0000-4000-8000-000000000000', { token: a.token, body: { name: 'x' } });
    const after = (await admin((c) => c.query<{ n: number }>('select count(*)::int as n from app.audit_log'))).rows[0]!.n;
    expect(after).toBe(before);
  });

  test('the app role cannot rewrite history', async () => {
    await expect(t.app.unscoped.query('update app.audit_log set action = $1', ['forged'])).rejects.toThrow(/permission denied/);
    await expect(t.app.unscoped.query('delete from app.audit_log')).rejects.toThrow(/permission denied/);
  });
});

describe('logs', () => {
  test('every log line of a tenant-scoped request carries its tenant id (and never another)', async () => {
    const from = t.logs.lines.length;
    await createProjects(t.client, a.token, ['logged']);
    await t.client.get('/projects', { token: b.token });
    const lines = t.logs.lines.slice(from);
    const byRequest = new Map<string, Record<string, unknown>[]>();
    for (const line of lines) {
      const id = String(line.reqId);
      byRequest.set(id, [...(byRequest.get(id) ?? []), line]);
    }
    expect(byRequest.size).toBe(2);
    const [first, second] = [...byRequest.values()];
    for (const [requestLines, tenant] of [[first!, a], [second!, b]] as const) {
      expect(requestLines.length).toBeGreaterThanOrEqual(2);
      for (const line of requestLines) expect(line.tenantId, JSON.stringify(line)).toBe(tenant.tenantId);
    }
    expect(first!.map((l) => l.msg)).toEqual(['incoming request', 'project created', 'request completed']);
  });

  test('refusals are logged with the tenant and without secrets', async () => {
    const from = t.logs.lines.length;
    await t.client.post('/projects', { token: a.token, body: { name: 123 } });
    const refused = t.logs.lines.slice(from).find((l) => l.msg === 'request refused');
    expect(refused).toMatchObject({ tenantId: a.tenantId, status: 400 });
    expect(JSON.stringify(t.logs.lines)).not.toContain(a.password);
    expect(JSON.stringify(t.logs.lines)).not.toContain(a.token);
  });
});

describe('plan limits', () => {
  test('the free plan allows 3 projects: the 4th is 402 with a clear error, and nothing is written', async () => {
    const free = await signUp(t.client, 'frugal', 'free');
    await createProjects(t.client, free.token, ['1', '2', '3']);
    const fourth = await t.client.post('/projects', { token: free.token, body: { name: '4' } });
    expect(fourth.status).toBe(402);
    expect(fourth.body).toEqual({ error: 'plan limit reached: the free plan allows 3 projects', limit: 'max_projects', max: 3 });
    expect((await t.client.get('/stats', { token: free.token })).body.projects).toBe(3);
    // A pro tenant is not limited by it.
    await createProjects(t.client, a.token, ['pro-4', 'pro-5', 'pro-6', 'pro-7']);
  });

  test('concurrent creates cannot slip past the limit', async () => {
    const free = await signUp(t.client, 'racer', 'free');
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => t.client.post('/projects', { token: free.token, body: { name: `r${i}` } })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    expect(results.filter((r) => r.status === 402)).toHaveLength(3);
  });

  test('the free plan allows 5 members', async () => {
    const free = await signUp(t.client, 'small', 'free');
    for (let i = 1; i < 5; i++) expect((await t.client.post('/members', { token: free.token, body: { email: `m${i}@${free.slug}.test`, role: 'viewer' } })).status).toBe(201);
    const sixth = await t.client.post('/members', { token: free.token, body: { email: `m6@${free.slug}.test`, role: 'viewer' } });
    expect(sixth.status).toBe(402);
    expect(sixth.body.limit).toBe('max_members');
  });
});

describe('per-tenant rate limit', () => {
  test('a tenant hammering the API gets 429 while another tenant still gets 200', async () => {
    await using limited = await startTestApp({ rateLimit: { max: 10, timeWindowMs: 60_000 } });
    const noisy = await signUp(limited.client, 'noisy');
    const quiet = await signUp(limited.client, 'quiet');
    const statuses: number[] = [];
    for (let i = 0; i < 14; i++) statuses.push((await limited.client.get('/projects', { token: noisy.token })).status);
    expect(statuses.slice(0, 10).every((s) => s === 200)).toBe(true);
    expect(statuses.slice(10).every((s) => s === 429)).toBe(true);
    const refused = await limited.client.get('/projects', { token: noisy.token });
    expect(refused.body.error).toBe('rate limit exceeded for this tenant');
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await limited.client.get('/projects', { token: quiet.token })).status).toBe(200);
    // The same principal reaching another tenant is counted there, not here.
    const other = await limited.client.post('/members', { token: quiet.token, body: { email: noisy.email, role: 'viewer' } });
    expect(other.status).toBe(201);
    expect((await limited.client.get('/projects', { token: noisy.token, headers: { 'x-tenant': quiet.slug } })).status).toBe(200);
    expect(limited.app.poolStats().checkedOut).toBe(0);
  });
});

describe('public routes are limited per client address', () => {
  test('password guessing gets 429 after the limit; authenticated tenant routes are not affected', async () => {
    await using limited = await startTestApp({ publicRateLimit: { max: 6, timeWindowMs: 60_000 } });
    const victim = await signUp(limited.client, 'guessed');
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await limited.client.post('/login', { body: { email: victim.email, password: `guess-${i}-xxxx` } })).status);
    // 1 signup + 5 guesses fit in the window of 6; then 429, even for the right password.
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    const right = await limited.client.post('/login', { body: { email: victim.email, password: victim.password } });
    expect(right.status).toBe(429);
    expect(right.body).toMatchObject({ error: 'too many attempts from this address' });
    expect((await limited.client.get('/projects', { token: victim.token })).status).toBe(200);
  });
});
