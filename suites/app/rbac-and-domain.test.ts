/**
 * Roles are per tenant and gate every write; members, tasks, comments and invoices stay inside
 * their tenant (foreign ids are 404, like unknown ones) — in each isolation model, and with
 * tenants of two models side by side in one app.
 */
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createProjects, signUp, startTestApp, type SignedUpTenant, type TestApp } from './harness.ts';

type Model = SignedUpTenant['model'];
const pairs: [Model, Model][] = [
  ['rls', 'rls'],
  ['schema', 'schema'],
  ['database', 'database'],
  ['rls', 'database'],
  ['schema', 'rls'],
];

describe.each(pairs)('%s tenant next to %s tenant', (modelA, modelB) => {
  let t: TestApp;
  let a: SignedUpTenant;
  let b: SignedUpTenant;
  const tokens: Record<string, string> = {};

  async function addMember(tenant: SignedUpTenant, role: string): Promise<{ userId: string; token: string }> {
    const email = `${role}-${tenant.slug}@example.test`;
    const password = `${role}-password-1`;
    const added = await t.client.post('/members', { token: tenant.token, body: { email, role, password } });
    expect(added.status).toBe(201);
    const login = await t.client.post('/login', { body: { email, password, tenant: tenant.slug } });
    expect(login.status).toBe(200);
    return { userId: added.body.userId, token: login.body.token };
  }

  beforeAll(async () => {
    t = await startTestApp();
    a = await signUp(t.client, 'acme', 'pro', modelA);
    b = await signUp(t.client, 'globex', 'pro', modelB);
    for (const role of ['member', 'viewer', 'billing']) tokens[role] = (await addMember(a, role)).token;
  });
  afterEach(() => {
    expect(t.app.poolStats().checkedOut).toBe(0);
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('RBAC', () => {
    test('a viewer (no projects:write) reads projects but gets 403 on every write', async () => {
      const [id] = await createProjects(t.client, a.token, ['rbac-target']);
      const viewer = tokens.viewer!;
      expect((await t.client.get('/projects', { token: viewer })).status).toBe(200);
      expect((await t.client.get(`/projects/${id}`, { token: viewer })).status).toBe(200);
      const writes = [
        await t.client.post('/projects', { token: viewer, body: { name: 'x' } }),
        await t.client.patch(`/projects/${id}`, { token: viewer, body: { name: 'x' } }),
        await t.client.delete(`/projects/${id}`, { token: viewer }),
        await t.client.post(`/projects/${id}/tasks`, { token: viewer, body: { title: 'x' } }),
        await t.client.post(`/projects/${id}/comments`, { token: viewer, body: { body: 'x' } }),
      ];
      for (const w of writes) {
        expect(w.status).toBe(403);
        expect(w.body).toEqual({ error: 'forbidden: role "viewer" lacks projects:write', missing: 'projects:write' });
      }
      const after = await t.client.get(`/projects/${id}`, { token: a.token });
      expect(after.body.name).toBe('rbac-target');
    });

    test('a member writes projects but cannot manage members or read billing', async () => {
      const member = tokens.member!;
      expect((await t.client.post('/projects', { token: member, body: { name: 'by-member' } })).status).toBe(201);
      expect((await t.client.get('/members', { token: member })).status).toBe(403);
      expect((await t.client.post('/members', { token: member, body: { email: 'x@y.test', role: 'admin' } })).status).toBe(403);
      expect((await t.client.get('/invoices', { token: member })).status).toBe(403);
      expect((await t.client.delete('/tenant', { token: member })).status).toBe(403);
    });

    test('billing reads and writes invoices; viewer cannot', async () => {
      expect((await t.client.post('/invoices', { token: tokens.billing!, body: { amountCents: 500 } })).status).toBe(201);
      expect((await t.client.get('/invoices', { token: tokens.viewer! })).status).toBe(403);
    });

    test('GET /me lists the permissions of the role in the active tenant', async () => {
      const me = await t.client.get('/me', { token: tokens.viewer! });
      expect(me.body).toMatchObject({ role: 'viewer', permissions: ['projects:read'], tenant: { id: a.tenantId } });
    });
  });

  describe('the tenant itself', () => {
    test('GET /tenant shows the caller\'s tenant — its plan, limits and flags — and only it', async () => {
      const own = await t.client.get('/tenant', { token: tokens.viewer! });
      expect(own.status).toBe(200);
      expect(own.body).toMatchObject({ id: a.tenantId, slug: a.slug, plan: 'pro', status: 'active', limits: { max_projects: 50, max_members: 100 }, features: {} });
      const theirs = await t.client.get('/tenant', { token: b.token });
      expect(theirs.body).toMatchObject({ id: b.tenantId, slug: b.slug });
      // Through the header, only as a member: a's admin is not one of b's.
      expect((await t.client.get('/tenant', { token: a.token, headers: { 'x-tenant': b.slug } })).status).toBe(403);
    });
  });

  describe('members', () => {
    test('list shows only this tenant\'s members, with their roles', async () => {
      const listA = await t.client.get('/members', { token: a.token });
      expect(listA.status).toBe(200);
      expect(listA.body.members.map((m: { role: string }) => m.role).sort()).toEqual(['admin', 'billing', 'member', 'viewer']);
      const listB = await t.client.get('/members', { token: b.token });
      expect(listB.body.members).toEqual([expect.objectContaining({ email: b.email, role: 'admin' })]);
    });

    test('changing a role takes effect at the next token; unknown role is 400; foreign member is 404', async () => {
      const person = await t.client.post('/members', { token: a.token, body: { email: 'promote@example.test', role: 'viewer', password: 'promote-pass-1' } });
      expect(person.status).toBe(201);
      const promoted = await t.client.patch(`/members/${person.body.userId}`, { token: a.token, body: { role: 'member' } });
      expect(promoted.status).toBe(200);
      const login = await t.client.post('/login', { body: { email: 'promote@example.test', password: 'promote-pass-1' } });
      expect(decodeJwt(login.body.token).role).toBe('member');
      expect((await t.client.patch(`/members/${person.body.userId}`, { token: a.token, body: { role: 'overlord' } })).status).toBe(400);
      // b's admin cannot touch a's member: not found in b.
      expect((await t.client.patch(`/members/${person.body.userId}`, { token: b.token, body: { role: 'admin' } })).status).toBe(404);
      expect((await t.client.delete(`/members/${person.body.userId}`, { token: b.token })).status).toBe(404);
      expect((await t.client.delete(`/members/${person.body.userId}`, { token: a.token })).status).toBe(204);
      expect((await t.client.delete(`/members/${person.body.userId}`, { token: a.token })).status).toBe(404);
    });

    test('removing a member revokes their tokens in that tenant at once, and only there', async () => {
      const email = 'leaver@example.test';
      const password = 'leaver-password-1';
      const added = await t.client.post('/members', { token: a.token, body: { email, role: 'member', password } });
      expect((await t.client.post('/members', { token: b.token, body: { email, role: 'member' } })).status).toBe(201);
      const inA = (await t.client.post('/login', { body: { email, password, tenant: a.slug } })).body.token as string;
      const inB = (await t.client.post('/login', { body: { email, password, tenant: b.slug } })).body.token as string;
      expect((await t.client.get('/projects', { token: inA })).status).toBe(200);
      expect((await t.client.delete(`/members/${added.body.userId}`, { token: a.token })).status).toBe(204);
      for (const attempt of [await t.client.get('/projects', { token: inA }), await t.client.get('/me', { token: inA }), await t.client.post('/projects', { token: inA, body: { name: 'after removal' } })]) {
        expect(attempt.status).toBe(401);
        expect(attempt.body).toEqual({ error: 'this token was revoked: sign in again' });
      }
      expect((await t.client.post('/switch-tenant', { token: inB, body: { tenant: a.slug } })).status).toBe(403);
      expect((await t.client.get('/projects', { token: inB })).status).toBe(200);
      expect((await t.client.post('/login', { body: { email, password, tenant: a.slug } })).status).toBe(403);
    });

    test('changing a role revokes tokens that carry the old role', async () => {
      const email = 'demoted@example.test';
      const password = 'demoted-password-1';
      const added = await t.client.post('/members', { token: a.token, body: { email, role: 'admin', password } });
      const asAdmin = (await t.client.post('/login', { body: { email, password, tenant: a.slug } })).body.token as string;
      expect((await t.client.get('/members', { token: asAdmin })).status).toBe(200);
      expect((await t.client.patch(`/members/${added.body.userId}`, { token: a.token, body: { role: 'viewer' } })).status).toBe(200);
      expect((await t.client.get('/members', { token: asAdmin })).status).toBe(401);
      const asViewer = (await t.client.post('/login', { body: { email, password, tenant: a.slug } })).body.token as string;
      expect((await t.client.get('/projects', { token: asViewer })).status).toBe(200);
      expect((await t.client.get('/members', { token: asViewer })).status).toBe(403);
    });

    test('the last admin cannot be demoted or removed', async () => {
      const adminId = decodeJwt(b.token).sub!;
      const demote = await t.client.patch(`/members/${adminId}`, { token: b.token, body: { role: 'viewer' } });
      expect(demote.status).toBe(409);
      expect(demote.body.error).toBe('a tenant must keep at least one admin');
      expect((await t.client.delete(`/members/${adminId}`, { token: b.token })).status).toBe(409);
    });

    test('adding an existing member again is 409', async () => {
      const again = await t.client.post('/members', { token: a.token, body: { email: 'viewer-' + a.slug + '@example.test', role: 'viewer' } });
      expect(again.status).toBe(409);
    });
  });

  describe('tasks and comments', () => {
    test('tasks live under a project of the tenant; assignees must be members of it', async () => {
      const [project] = await createProjects(t.client, a.token, ['with-tasks']);
      const memberId = (await t.client.get('/members', { token: a.token })).body.members.find((m: { role: string }) => m.role === 'member').userId;
      const task = await t.client.post(`/projects/${project}/tasks`, { token: a.token, body: { title: 'write docs', assigneeId: memberId } });
      expect(task.status).toBe(201);
      expect(task.body).toMatchObject({ title: 'write docs', assigneeId: memberId, done: false });
      const done = await t.client.patch(`/projects/${project}/tasks/${task.body.id}`, { token: a.token, body: { done: true } });
      expect(done.body.done).toBe(true);
      expect(done.body.assigneeId).toBe(memberId);
      // b's admin is not a member of a: assigning them is "not found".
      const foreignAssignee = await t.client.post(`/projects/${project}/tasks`, { token: a.token, body: { title: 'x', assigneeId: decodeJwt(b.token).sub } });
      expect(foreignAssignee.status).toBe(404);
      const list = await t.client.get(`/projects/${project}/tasks`, { token: a.token });
      expect(list.body.tasks).toHaveLength(1);
      // b cannot reach a's task through its own project either.
      const [bProject] = await createProjects(t.client, b.token, ['b-tasks']);
      expect((await t.client.patch(`/projects/${bProject}/tasks/${task.body.id}`, { token: b.token, body: { done: false } })).status).toBe(404);

      const comment = await t.client.post(`/projects/${project}/comments`, { token: tokens.member!, body: { body: 'looks good', taskId: task.body.id } });
      expect(comment.status).toBe(201);
      const comments = await t.client.get(`/projects/${project}/comments`, { token: tokens.viewer! });
      expect(comments.body.comments).toEqual([expect.objectContaining({ body: 'looks good', taskId: task.body.id })]);
      // A comment in b naming a's task: the composite key makes it "not found".
      expect((await t.client.post(`/projects/${bProject}/comments`, { token: b.token, body: { body: 'x', taskId: task.body.id } })).status).toBe(404);

      const stats = await t.client.get('/stats', { token: a.token });
      expect(stats.body).toMatchObject({ tasks: 1, tasksDone: 1 });
    });
  });

  describe('invoices', () => {
    test('numbers are per tenant: each tenant counts 1, 2, 3 on its own', async () => {
      const numbersA: number[] = [];
      const numbersB: number[] = [];
      for (let i = 0; i < 3; i++) numbersA.push((await t.client.post('/invoices', { token: a.token, body: { amountCents: 100 } })).body.number);
      for (let i = 0; i < 2; i++) numbersB.push((await t.client.post('/invoices', { token: b.token, body: { amountCents: 250 } })).body.number);
      // a already has invoice 1 from the billing test.
      expect(numbersA).toEqual([2, 3, 4]);
      expect(numbersB).toEqual([1, 2]);
      const statsB = await t.client.get('/stats', { token: b.token });
      expect(statsB.body).toMatchObject({ invoices: 2, invoicedCents: 500 });
    });

    test('concurrent invoices get distinct consecutive numbers', async () => {
      const created = await Promise.all(Array.from({ length: 6 }, () => t.client.post('/invoices', { token: b.token, body: { amountCents: 1 } })));
      expect(created.every((c) => c.status === 201)).toBe(true);
      expect(created.map((c) => c.body.number).sort((x, y) => x - y)).toEqual([3, 4, 5, 6, 7, 8]);
    });

    test('a foreign invoice id is 404', async () => {
      const own = (await t.client.get('/invoices', { token: a.token })).body.invoices[0];
      expect((await t.client.get(`/invoices/${own.id}`, { token: a.token })).status).toBe(200);
      expect((await t.client.get(`/invoices/${own.id}`, { token: b.token })).status).toBe(404);
    });
  });
});
