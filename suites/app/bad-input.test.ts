/**
 * Bad input — malformed JSON, wrong types, oversize bodies, unknown tenant slugs, SQL
 * metacharacters, bad tokens — gets a 4xx with a JSON error, writes nothing and shows no stack.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { withClient } from '../../src/index.ts';
import { createProjects, signUp, startTestApp, type ApiResponse, type SignedUpTenant, type TestApp } from './harness.ts';

let t: TestApp;
let a: SignedUpTenant;
let project: string;

async function rowCounts(): Promise<Record<string, number>> {
  return withClient(t.databaseUrl, async (c) => {
    const { rows } = await c.query<Record<string, number>>(
      `select (select count(*)::int from app.tenants) as tenants, (select count(*)::int from app.users) as users,
              (select count(*)::int from app.memberships) as memberships, (select count(*)::int from app.roles) as roles,
              (select count(*)::int from app.projects) as projects, (select count(*)::int from app.tasks) as tasks,
              (select count(*)::int from app.audit_log) as audit`,
    );
    return rows[0]!;
  });
}

/** A refusal a client can act on: the status, a JSON `error` string, and nothing internal. */
function expectRefusal(response: ApiResponse, status: number | RegExp): void {
  if (typeof status === 'number') expect(response.status).toBe(status);
  else expect(String(response.status)).toMatch(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(typeof response.body?.error).toBe('string');
  expect(response.text).not.toMatch(/\bat [\w.<>]+ \(|\.ts:\d+|node_modules|"stack"|syntax error at or near|violates|relation "/);
}

beforeAll(async () => {
  t = await startTestApp();
  a = await signUp(t.client, 'acme');
  project = (await createProjects(t.client, a.token, ['baseline']))[0]!;
});
afterEach(() => {
  expect(t.app.poolStats().checkedOut).toBe(0);
});
afterAll(async () => {
  await t?.close();
});

describe('bad input writes nothing', () => {
  let before: Record<string, number>;
  beforeAll(async () => {
    before = await rowCounts();
  });
  afterAll(async () => {
    expect(await rowCounts()).toEqual(before);
  });

  test('malformed JSON', async () => {
    expectRefusal(await t.client.post('/projects', { token: a.token, rawBody: '{"name": "x",' }), 400);
    expectRefusal(await t.client.post('/signup', { rawBody: "{'tenant': 1}" }), 400);
    expectRefusal(await t.client.post('/projects', { token: a.token, rawBody: '' }), 400);
  });

  test('wrong types and unknown fields name the field', async () => {
    const cases: [string, unknown][] = [
      ['name', { name: 123 }],
      ['budgetCents', { name: 'x', budgetCents: 'lots' }],
      ['budgetCents', { name: 'x', budgetCents: -1 }],
      ['budgetCents', { name: 'x', budgetCents: 1.5 }],
      ['name', { name: '' }],
      ['body', { name: 'x', tenant_id: a.tenantId }],
    ];
    for (const [field, body] of cases) {
      const response = await t.client.post('/projects', { token: a.token, body });
      expectRefusal(response, 400);
      expect(response.body.error).toContain(field === 'body' ? 'invalid' : `invalid ${field}`);
    }
    expectRefusal(await t.client.post('/projects', { token: a.token, body: ['a', 'list'] }), 400);
    expectRefusal(await t.client.post('/projects', { token: a.token, body: 'just a string' }), 400);
    expectRefusal(await t.client.patch(`/projects/${project}`, { token: a.token, body: {} }), 400);
    expectRefusal(await t.client.post('/signup', { body: { tenant: { slug: 'okay', name: 'Ok' }, email: 'not-an-email', password: 'password-1' } }), 400);
    expectRefusal(await t.client.post('/signup', { body: { tenant: { slug: 'okay', name: 'Ok' }, email: 'ok@ok.test', password: 'short' } }), 400);
    expectRefusal(await t.client.post('/signup', { body: { tenant: { slug: 'okay', name: 'Ok', plan: 'platinum' }, email: 'ok@ok.test', password: 'password-1' } }), 400);
  });

  test('oversize bodies are 413', async () => {
    const response = await t.client.post('/projects', { token: a.token, body: { name: 'x', description: 'y'.repeat(100 * 1024) } });
    expectRefusal(response, 413);
    expect(response.body.error).toBe('request body is too large');
  });

  test('a body that is not JSON is 415', async () => {
    expectRefusal(await t.client.post('/projects', { token: a.token, rawBody: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415);
  });

  test('unknown tenant slugs', async () => {
    expectRefusal(await t.client.post('/login', { body: { email: a.email, password: a.password, tenant: 'no-such-tenant' } }), 403);
    expectRefusal(await t.client.get('/projects', { token: a.token, headers: { 'x-tenant': 'no-such-tenant' } }), 403);
    expectRefusal(await t.client.post('/switch-tenant', { token: a.token, body: { tenant: 'no-such-tenant' } }), 403);
  });

  test('SQL metacharacters in slugs are refused before any SQL runs', async () => {
    const slugs = ["acme'; drop table app.projects; --", 'a" or 1=1', 'x); delete from app.tenants; --', '../etc', 'ACME', 'a b', '-lead', 'trail-', "o'brien"];
    for (const slug of slugs) {
      const response = await t.client.post('/signup', { body: { tenant: { slug, name: 'Evil' }, email: `e${slugs.indexOf(slug)}@evil.test`, password: 'password-1' } });
      expectRefusal(response, 400);
      expect(response.body.error).toMatch(/^invalid tenant\.slug/);
      expectRefusal(await t.client.post('/login', { body: { email: a.email, password: a.password, tenant: slug } }), 400);
      expectRefusal(await t.client.get('/projects', { token: a.token, headers: { 'x-tenant': slug } }), 400);
    }
  });

  test('control characters in names are refused (PostgreSQL would reject NUL anyway)', async () => {
    expectRefusal(await t.client.post('/projects', { token: a.token, body: { name: 'bad\u0000name' } }), 400);
    expectRefusal(await t.client.post('/projects', { token: a.token, body: { name: 'bad\u0007bell' } }), 400);
  });

  test('non-uuid ids are 404, like unknown ones', async () => {
    for (const id of ['1', "1' or '1'='1", 'not-a-uuid', '00000000-0000-0000-0000-000000000000']) {
      expectRefusal(await t.client.get(`/projects/${encodeURIComponent(id)}`, { token: a.token }), 404);
      expectRefusal(await t.client.patch(`/projects/${encodeURIComponent(id)}`, { token: a.token, body: { name: 'x' } }), 404);
      expectRefusal(await t.client.delete(`/projects/${encodeURIComponent(id)}`, { token: a.token }), 404);
    }
  });

  test('bad tokens', async () => {
    expectRefusal(await t.client.get('/projects', { token: 'garbage' }), 401);
    expectRefusal(await t.client.get('/projects', { token: `${a.token}x` }), 401);
    expectRefusal(await t.client.post('/projects', { token: 'a.b.c', body: { name: 'x' } }), 401);
  });

  test('unknown routes', async () => {
    expectRefusal(await t.client.get('/no-such-route', { token: a.token }), 404);
  });
});

describe('SQL metacharacters in names are data, not SQL', () => {
  test('stored and returned verbatim; the tables are intact', async () => {
    // Names legitimately contain quotes (O'Brien & Sons); they are bound parameters, never SQL text.
    const names = ["O'Brien & Sons", "x'); drop table app.projects; --", 'Robert"); DELETE FROM app.tenants;--', '%_\\ $1 $$'];
    for (const name of names) {
      const created = await t.client.post('/projects', { token: a.token, body: { name } });
      expect(created.status).toBe(201);
      expect(created.body.name).toBe(name);
      const read = await t.client.get(`/projects/${created.body.id}`, { token: a.token });
      expect(read.body.name).toBe(name);
    }
    const counts = await rowCounts();
    expect(counts.tenants).toBeGreaterThanOrEqual(1);
    expect(counts.projects).toBeGreaterThanOrEqual(1 + names.length);
    const tenantName = "Bobby'; drop table app.users; --";
    const signup = await t.client.post('/signup', { body: { tenant: { slug: 'bobby-tables', name: tenantName }, email: 'bobby@tables.test', password: 'password-1' } });
    expect(signup.status).toBe(201);
    expect(signup.body.tenant.name).toBe(tenantName);
    expect((await rowCounts()).users).toBeGreaterThanOrEqual(2);
  });
});
