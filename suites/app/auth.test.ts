/**
 * Authentication and tenant resolution: signup, login, switching, the X-Tenant header and the
 * subdomain (only among the principal's tenants), and JWT rejection.
 */
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { forgedTokens } from './checks.ts';
import { createProjects, signUp, startTestApp, type SignedUpTenant, type TestApp } from './harness.ts';

let t: TestApp;
let a: SignedUpTenant;
let b: SignedUpTenant;
/** A user who is admin in `a` and viewer in `b`. */
const both = { email: 'both@example.test', password: 'both-password-1' };

beforeAll(async () => {
  t = await startTestApp();
  a = await signUp(t.client, 'acme');
  b = await signUp(t.client, 'globex');
  expect((await t.client.post('/members', { token: a.token, body: { ...both, role: 'admin' } })).status).toBe(201);
  expect((await t.client.post('/members', { token: b.token, body: { email: both.email, role: 'viewer' } })).status).toBe(201);
  await createProjects(t.client, a.token, ['a-project']);
  await createProjects(t.client, b.token, ['b-project']);
});
afterEach(() => {
  expect(t.app.poolStats().checkedOut).toBe(0);
});
afterAll(async () => {
  await t?.close();
});

const login = (body: Record<string, unknown>) => t.client.post('/login', { body });

describe('signup', () => {
  test('answers 201 with the tenant and an admin token for it', async () => {
    const response = await t.client.post('/signup', {
      body: { tenant: { slug: 'initech', name: 'Initech' }, email: 'bill@initech.test', password: 'tps-reports' },
    });
    expect(response.status).toBe(201);
    expect(response.body.tenant).toMatchObject({ slug: 'initech', name: 'Initech', plan: 'free' });
    const claims = decodeJwt(response.body.token);
    expect(claims).toMatchObject({ tid: response.body.tenant.id, ten: 'initech', role: 'admin', iss: 'tenantproof-reference' });
    expect(claims.exp! - claims.iat!).toBe(900);
  });

  test('a taken slug is 409', async () => {
    const response = await t.client.post('/signup', { body: { tenant: { slug: a.slug, name: 'Copy' }, email: 'new@x.test', password: 'password-1' } });
    expect(response.status).toBe(409);
    expect(response.body).toEqual({ error: 'tenant slug is already taken' });
  });
});

describe('login', () => {
  test('the right password gives a token for the first tenant', async () => {
    const response = await login({ email: a.email, password: a.password });
    expect(response.status).toBe(200);
    expect(decodeJwt(response.body.token)).toMatchObject({ tid: a.tenantId, role: 'admin' });
  });

  test('email is case-insensitive', async () => {
    expect((await login({ email: a.email.toUpperCase(), password: a.password })).status).toBe(200);
  });

  test('a wrong password and an unknown email get the same 401', async () => {
    const wrong = await login({ email: a.email, password: 'not-the-password' });
    const unknown = await login({ email: 'nobody@nowhere.test', password: 'not-the-password' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
  });

  test('with a tenant slug: the role is the one in that tenant', async () => {
    const inB = await login({ ...both, tenant: b.slug });
    expect(inB.status).toBe(200);
    expect(decodeJwt(inB.body.token)).toMatchObject({ tid: b.tenantId, role: 'viewer' });
    const inA = await login({ ...both, tenant: a.slug });
    expect(decodeJwt(inA.body.token)).toMatchObject({ tid: a.tenantId, role: 'admin' });
  });

  test('a tenant the user does not belong to and an unknown tenant get the same 403', async () => {
    const foreign = await login({ email: a.email, password: a.password, tenant: b.slug });
    const unknown = await login({ email: a.email, password: a.password, tenant: 'no-such-tenant' });
    expect(foreign.status).toBe(403);
    expect(unknown.status).toBe(403);
    expect(foreign.body).toEqual(unknown.body);
    expect(foreign.body.token).toBeUndefined();
  });
});

describe('switch-tenant', () => {
  test('re-issues the token for a tenant the principal belongs to, with its role there', async () => {
    const start = (await login({ ...both, tenant: a.slug })).body.token as string;
    const switched = await t.client.post('/switch-tenant', { token: start, body: { tenant: b.slug } });
    expect(switched.status).toBe(200);
    expect(decodeJwt(switched.body.token)).toMatchObject({ tid: b.tenantId, ten: b.slug, role: 'viewer' });
    const list = await t.client.get('/projects', { token: switched.body.token });
    expect(list.body.projects.map((p: { name: string }) => p.name)).toEqual(['b-project']);
    // viewer in b: writes are refused; admin in a: allowed.
    expect((await t.client.post('/projects', { token: switched.body.token, body: { name: 'nope' } })).status).toBe(403);
    expect((await t.client.post('/projects', { token: start, body: { name: 'yes' } })).status).toBe(201);
  });

  test('refuses a tenant the principal does not belong to, and an unknown one, alike', async () => {
    const foreign = await t.client.post('/switch-tenant', { token: a.token, body: { tenant: b.slug } });
    const unknown = await t.client.post('/switch-tenant', { token: a.token, body: { tenant: 'no-such-tenant' } });
    expect(foreign.status).toBe(403);
    expect(foreign.body).toEqual(unknown.body);
  });
});

describe('tenant selection by X-Tenant header and subdomain', () => {
  test('the header selects another tenant of the principal, with its role there', async () => {
    const token = (await login({ ...both, tenant: a.slug })).body.token as string;
    const me = await t.client.get('/me', { token, headers: { 'x-tenant': b.slug } });
    expect(me.body).toMatchObject({ tenant: { id: b.tenantId, slug: b.slug }, role: 'viewer', via: 'header' });
    const list = await t.client.get('/projects', { token, headers: { 'x-tenant': b.slug } });
    expect(list.body.projects.map((p: { name: string }) => p.name)).toEqual(['b-project']);
    expect((await t.client.post('/projects', { token, headers: { 'x-tenant': b.slug }, body: { name: 'nope' } })).status).toBe(403);
  });

  test('the subdomain does the same', async () => {
    const token = (await login({ ...both, tenant: a.slug })).body.token as string;
    const host = `${b.slug}.localhost:${t.app.port}`;
    const me = await t.client.get('/me', { token, headers: { host } });
    expect(me.body).toMatchObject({ tenant: { id: b.tenantId }, role: 'viewer', via: 'subdomain' });
  });

  test('header and subdomain naming different tenants is 400', async () => {
    const token = (await login({ ...both, tenant: a.slug })).body.token as string;
    const response = await t.client.get('/me', { token, headers: { host: `${b.slug}.localhost`, 'x-tenant': a.slug } });
    expect(response.status).toBe(400);
  });

  test('an unknown, malformed or foreign tenant is refused', async () => {
    expect((await t.client.get('/projects', { token: a.token, headers: { 'x-tenant': 'no-such-tenant' } })).status).toBe(403);
    expect((await t.client.get('/projects', { token: a.token, headers: { 'x-tenant': b.slug } })).status).toBe(403);
    expect((await t.client.get('/projects', { token: a.token, headers: { 'x-tenant': "x' or '1'='1" } })).status).toBe(400);
  });
});

describe('JWT rejection', () => {
  test.each(['alg none', 'wrong key', 'expired', 'tampered claims'])('a token with %s is 401 with a JSON error', async (kind) => {
    const token = (await forgedTokens(a, b))[kind]!;
    const response = await t.client.get('/projects', { token });
    expect(response.status).toBe(401);
    expect(response.body).toEqual({ error: 'invalid or expired token' });
  });

  test('no token, a malformed header and garbage are 401', async () => {
    expect((await t.client.get('/projects')).status).toBe(401);
    expect((await t.client.get('/projects', { headers: { authorization: `Basic ${a.token}` } })).status).toBe(401);
    expect((await t.client.get('/projects', { token: 'abc.def.ghi' })).status).toBe(401);
  });

  test('a correctly signed token whose claims are malformed is 401', async () => {
    const { SignJWT } = await import('jose');
    const { jwtSecret } = await import('./harness.ts');
    const token = await new SignJWT({ tid: 'not-a-uuid', ten: 'x', role: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('also-not-a-uuid')
      .setIssuer('tenantproof-reference')
      .setAudience('tenantproof-reference-api')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(jwtSecret));
    expect((await t.client.get('/projects', { token })).status).toBe(401);
  });
});
