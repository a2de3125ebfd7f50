/**
 * Moving a tenant from the shared tables into its own schema or database: every row arrives
 * once (copy, verify counts, switch, delete), the API answers the same before and after, a
 * failure leaves the tenant where it was, and writes racing the move are neither lost nor doubled.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { MoveTenantError } from '../../reference-app/src/index.ts';
import { createProjects, signUp, startTestApp, type SignedUpTenant, type TestApp } from '../app/harness.ts';

let t: TestApp;
let bystander: SignedUpTenant;

beforeAll(async () => {
  t = await startTestApp({ rateLimit: { max: 10_000, timeWindowMs: 60_000 } });
  bystander = await signUp(t.client, 'bystander', 'pro', 'rls');
  await createProjects(t.client, bystander.token, ['bystander-1']);
});
afterEach(() => {
  expect(t.app.poolStats().checkedOut).toBe(0);
});
afterAll(async () => {
  await t?.close();
});

/** A tenant with rows in every tenant table (projects, tasks, comments, invoices, members, revocations, audit). */
async function populatedTenant(prefix: string): Promise<{ tenant: SignedUpTenant; member: { email: string; password: string } }> {
  const tenant = await signUp(t.client, prefix, 'pro', 'rls');
  const token = tenant.token;
  const [p1, p2] = await createProjects(t.client, token, ['alpha', 'beta'], 1234);
  const task = await t.client.post(`/projects/${p1}/tasks`, { token, body: { title: 'first task' } });
  expect(task.status).toBe(201);
  expect((await t.client.post(`/projects/${p1}/comments`, { token, body: { body: 'hello', taskId: task.body.id } })).status).toBe(201);
  expect((await t.client.post(`/projects/${p2}/comments`, { token, body: { body: 'on beta' } })).status).toBe(201);
  for (const amount of [100, 200]) expect((await t.client.post('/invoices', { token, body: { amountCents: amount, projectId: p1 } })).status).toBe(201);
  const member = { email: `member@${tenant.slug}.example`, password: 'member-password-1' };
  const added = await t.client.post('/members', { token, body: { ...member, role: 'member' } });
  expect(added.status).toBe(201);
  expect((await t.client.patch(`/members/${added.body.userId}`, { token, body: { role: 'viewer' } })).status).toBe(200);
  return { tenant, member };
}

/** What the tenant sees through the API (ids, numbers, counts) — must be identical across a move. */
async function apiView(tenant: SignedUpTenant) {
  const token = tenant.token;
  const projects = (await t.client.get('/projects?limit=200', { token })).body.projects;
  const perProject = [];
  for (const p of projects) {
    perProject.push({
      id: p.id,
      tasks: (await t.client.get(`/projects/${p.id}/tasks`, { token })).body,
      comments: (await t.client.get(`/projects/${p.id}/comments`, { token })).body,
    });
  }
  return {
    projects,
    perProject,
    invoices: (await t.client.get('/invoices', { token })).body,
    members: (await t.client.get('/members', { token })).body,
    stats: (await t.client.get('/stats', { token })).body,
    audit: (await t.client.get('/audit-log?limit=500', { token })).body.entries.map((e: { id: string; action: string }) => [e.id, e.action]),
    tenant: (await t.client.get('/tenant', { token })).body,
  };
}

async function sharedRows(tenantId: string): Promise<number> {
  const client = new pg.Client({ connectionString: t.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      `select (select count(*) from app.projects where tenant_id = $1) + (select count(*) from app.memberships where tenant_id = $1)
            + (select count(*) from app.audit_log where tenant_id = $1) + (select count(*) from app.invoices where tenant_id = $1) as n`,
      [tenantId],
    );
    return Number(rows[0]!.n);
  } finally {
    await client.end();
  }
}

describe.each(['schema', 'database'] as const)('rls → %s', (to) => {
  test('every row arrives once, the API answers the same, the shared tables keep none of it', async () => {
    const { tenant, member } = await populatedTenant(`mv-${to}`);
    const before = await apiView(tenant);
    const report = await t.app.control.moveTenant(tenant.tenantId, to);
    expect(report.rows).toMatchObject({ projects: 2, tasks: 1, comments: 2, invoices: 2, memberships: 2, token_revocations: 1 });
    const after = await apiView({ ...tenant, model: to });
    expect({ ...after, tenant: { ...after.tenant } }).toEqual(before);
    expect(await sharedRows(tenant.tenantId)).toBe(0);
    // Still the same tenant for its principals: new writes continue the sequences.
    const invoice = await t.client.post('/invoices', { token: tenant.token, body: { amountCents: 300 } });
    expect(invoice.body.number).toBe(3);
    expect((await t.client.post('/projects', { token: tenant.token, body: { name: 'gamma' } })).status).toBe(201);
    const login = await t.client.post('/login', { body: { ...member, tenant: tenant.slug } });
    expect(login.status).toBe(200);
    expect(login.body.role).toBe('viewer');
    expect((await t.client.get('/projects', { token: login.body.token })).body.projects).toHaveLength(3);
    // The bystander in the shared tables is untouched and cannot see the moved rows.
    expect((await t.client.get('/projects', { token: bystander.token })).body.projects.map((p: { name: string }) => p.name)).toEqual(['bystander-1']);
    // Moving again is refused: it is no longer an rls tenant.
    await expect(t.app.control.moveTenant(tenant.tenantId, to)).rejects.toBeInstanceOf(MoveTenantError);
  });

  test('a failure before the switch leaves the tenant in the shared tables with every row, and no new home behind', async () => {
    const { tenant } = await populatedTenant(`fail-${to}`);
    const before = await apiView(tenant);
    const move = t.app.control.moveTenant(tenant.tenantId, to, {
      beforeSwitch: () => {
        throw new Error('injected failure');
      },
    });
    await expect(move).rejects.toThrow(/injected failure/);
    expect(await apiView(tenant)).toEqual(before);
    const client = new pg.Client({ connectionString: t.databaseUrl });
    await client.connect();
    try {
      const key = tenant.tenantId.replaceAll('-', '');
      const { rows } = await client.query<{ n: number }>(
        `select (select count(*) from pg_namespace where nspname = $1)::int + (select count(*) from pg_database where datname like $2)::int as n`,
        [`tenant_${key}`, `%_t_${key}`],
      );
      expect(rows[0]!.n).toBe(0);
      expect((await client.query<{ model: string }>('select model from app.tenants where id = $1', [tenant.tenantId])).rows[0]!.model).toBe('rls');
    } finally {
      await client.end();
    }
  });

  test('writes racing the move are neither lost nor doubled (503 asks the client to retry)', async () => {
    const { tenant } = await populatedTenant(`race-${to}`);
    const acknowledged: string[] = [];
    const write = async (i: number) => {
      for (let attempt = 0; attempt < 20; attempt++) {
        const response = await t.client.post('/projects', { token: tenant.token, body: { name: `race-${i}` } });
        if (response.status === 201) return void acknowledged.push(response.body.id);
        expect(response.status, response.text).toBe(503);
      }
      throw new Error(`write ${i} never succeeded`);
    };
    const writes = Array.from({ length: 24 }, (_, i) => new Promise((r) => setTimeout(r, i * 4)).then(() => write(i)));
    const move = new Promise((r) => setTimeout(r, 20)).then(() => t.app.control.moveTenant(tenant.tenantId, to));
    await Promise.all([...writes, move]);
    const listed = (await t.client.get('/projects?limit=200', { token: tenant.token })).body.projects.map((p: { id: string; name: string }) => p);
    const raced = listed.filter((p: { name: string }) => p.name.startsWith('race-'));
    expect(raced.map((p: { id: string }) => p.id).sort()).toEqual([...acknowledged].sort());
    expect(new Set(raced.map((p: { name: string }) => p.name)).size).toBe(24);
    expect(await sharedRows(tenant.tenantId)).toBe(0);
  });
});
