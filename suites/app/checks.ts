/**
 * Isolation checks against the reference app over HTTP. Each check returns the leaks it
 * observed (empty = the rule holds), so the same check runs against the correct app (expect
 * none) and against a variant with a named vulnerability (expect it to report the leak).
 */
import { randomUUID } from 'node:crypto';
import { decodeJwt, SignJWT, UnsecuredJWT } from 'jose';
import pg from 'pg';
import type { ReferenceApp } from '../../reference-app/src/index.ts';
import { tokenAudience, tokenIssuer } from '../../reference-app/src/index.ts';
import { createProjects, jwtSecret, type ApiClient, type SignedUpTenant } from './harness.ts';
import type { Finding } from '../../src/index.ts';

/**
 * What an HTTP check observed: a Finding like every other check's (so JSON, SARIF, JUnit, Allure
 * and the summary carry it), plus the check's short name and the route that showed it.
 */
export interface Leak extends Finding {
  readonly check: string;
  /** The route (or statement) that showed it. */
  readonly via: string;
  readonly actingTenant: string;
  readonly victimTenant: string;
}

const httpRemediation: Readonly<Record<string, string>> = {
  'project-isolation': 'Scope every query by the tenant of the authenticated principal (the RLS tenant context, the tenant schema or database), never by an id from the request alone.',
  'tenant-selection': 'Take the tenant from the verified token only; ignore X-Tenant and similar headers, or check the principal is a member of the tenant they name.',
  'switch-tenant': 'Issue a token for another tenant only after checking the principal is a member of it, with the role it holds there.',
  'forged-token': 'Verify the token signature, algorithm, issuer, audience and expiry before reading any claim; reject alg none.',
};

export const leak = (check: string, via: string, acting: SignedUpTenant, victim: SignedUpTenant, observed: unknown): Leak => {
  const method = via.split(' ')[0] ?? '';
  const writes = ['POST', 'PATCH', 'PUT', 'DELETE'].includes(method);
  return {
    check,
    via,
    checkId: `http-${check}`,
    title: `Tenant ${acting.slug} ${writes ? 'changes' : 'reads'} tenant ${victim.slug}'s data through ${via}`,
    severity: 'critical',
    leakClass: writes ? 'write' : 'read',
    leak: true,
    model: acting.model,
    object: via,
    actingTenant: acting.slug,
    victimTenant: victim.slug,
    statement: via,
    observed,
    cwe: 'CWE-639',
    remediation: httpRemediation[check] ?? 'Derive the tenant from the authenticated principal on every route and scope every read and write by it.',
  };
};

/**
 * Projects: `acting` must not list, read, change, delete, count or attach to any of `victim`'s
 * projects through any route. Creates its own projects in both tenants. Reads, renames and
 * deletes by id are leaks on their symptoms (the victim's project served, renamed, gone), and
 * must otherwise be answered 404: any other answer is an UnexpectedAnswerError.
 */
export async function checkProjectIsolation(client: ApiClient, acting: SignedUpTenant, victim: SignedUpTenant): Promise<Leak[]> {
  const leaks: Leak[] = [];
  const check = 'project-isolation';
  await createProjects(client, acting.token, ['mine-1', 'mine-2'], 100);
  const theirs = await createProjects(client, victim.token, ['theirs-1', 'theirs-2'], 7000);
  const target = theirs[0]!;

  const victimIds = new Set<string>((await client.get('/projects?limit=200', { token: victim.token })).body.projects.map((p: { id: string }) => p.id));
  const list = await client.get('/projects?limit=200', { token: acting.token });
  const crossed = list.body.projects.map((p: { id: string }) => p.id).filter((id: string) => victimIds.has(id));
  if (crossed.length > 0) leaks.push(leak(check, 'GET /projects', acting, victim, { foreignIds: crossed }));

  const read = await client.get(`/projects/${target}`, { token: acting.token });
  if (read.status === 200 && read.body?.id === target) leaks.push(leak(check, 'GET /projects/:id', acting, victim, { status: read.status, body: read.body }));
  else if (read.status !== 404) throw new UnexpectedAnswerError('GET /projects/:id', read.status, "not found (404) nor the victim's project", read.body);

  const stats = await client.get('/stats', { token: acting.token });
  const own = (await client.get('/projects?limit=200', { token: acting.token })).body.projects.filter((p: { id: string }) => !victimIds.has(p.id));
  const ownBudget = own.reduce((sum: number, p: { budgetCents: number }) => sum + p.budgetCents, 0);
  if (stats.body.projects !== own.length || stats.body.budgetCents !== ownBudget) {
    leaks.push(leak(check, 'GET /stats', acting, victim, { stats: stats.body, expected: { projects: own.length, budgetCents: ownBudget } }));
  }

  // Children of the victim's project: a leak only on its symptom (the victim's child listed to the
  // acting tenant; the acting tenant's child landing in the victim's project), 404 otherwise.
  for (const [kind, payload] of [
    ['tasks', (marker: string) => ({ title: marker })],
    ['comments', (marker: string) => ({ body: marker })],
  ] as const) {
    const path = `/projects/${target}/${kind}`;
    const route = `/projects/:id/${kind}`;
    const victimMarker = `victim-${kind}-${randomUUID()}`;
    const own = await client.post(path, { token: victim.token, body: payload(victimMarker) });
    if (own.status !== 201) throw new UnexpectedAnswerError(`POST ${route} (the victim, in its own project)`, own.status, 'created (201)', own.body);
    const listChildren = await client.get(path, { token: acting.token });
    if (listChildren.status === 200 && JSON.stringify(listChildren.body).includes(victimMarker)) {
      leaks.push(leak(check, `GET ${route}`, acting, victim, { status: listChildren.status, body: listChildren.body }));
    } else if (listChildren.status !== 404) throw new UnexpectedAnswerError(`GET ${route}`, listChildren.status, `not found (404) nor the victim's ${kind}`, listChildren.body);
    const marker = `cross-${kind}-${randomUUID()}`;
    const attach = await client.post(path, { token: acting.token, body: payload(marker) });
    const victimView = await client.get(path, { token: victim.token });
    if (JSON.stringify(victimView.body).includes(marker)) {
      leaks.push(leak(check, `POST ${route}`, acting, victim, { status: attach.status, landedInVictimProject: true }));
    } else if (attach.status !== 404) throw new UnexpectedAnswerError(`POST ${route}`, attach.status, `not found (404) nor a ${kind.slice(0, -1)} added to the victim's project`, attach.body);
  }

  const patch = await client.patch(`/projects/${target}`, { token: acting.token, body: { name: 'pwned' } });
  const renamed = await client.get(`/projects/${target}`, { token: victim.token });
  if (renamed.body?.name === 'pwned') leaks.push(leak(check, 'PATCH /projects/:id', acting, victim, { status: patch.status, victimProject: renamed.body }));
  else if (patch.status !== 404) throw new UnexpectedAnswerError('PATCH /projects/:id', patch.status, "not found (404) nor the victim's project renamed", patch.body);
  const del = await client.delete(`/projects/${theirs[1]}`, { token: acting.token });
  const gone = await client.get(`/projects/${theirs[1]}`, { token: victim.token });
  if (gone.status === 404) leaks.push(leak(check, 'DELETE /projects/:id', acting, victim, { status: del.status, victimReadsItsProject: gone.status }));
  else if (del.status !== 404) throw new UnexpectedAnswerError('DELETE /projects/:id', del.status, "not found (404) nor the victim's project deleted", del.body);

  // The victim's view afterwards: both projects there, unchanged.
  const after = await client.get('/projects?limit=200', { token: victim.token });
  const theirsAfter = after.body.projects.filter((p: { id: string }) => theirs.includes(p.id));
  if (theirsAfter.length !== 2 || theirsAfter.some((p: { name: string }) => p.name === 'pwned')) {
    leaks.push(leak(check, 'victim state after PATCH/DELETE', acting, victim, { victimProjects: theirsAfter }));
  }
  return leaks;
}

/** The ids of the projects a `GET /projects` answer lists (none when it is not a list). */
const listedIds = (body: unknown): string[] =>
  Array.isArray((body as { projects?: unknown } | null)?.projects) ? (body as { projects: { id: string }[] }).projects.map((p) => p.id) : [];

/**
 * An answer that is neither the rule holding nor the leak's symptom (a 500, the caller's own rows
 * where a refusal was due): the check cannot say either way, so it fails instead of guessing.
 */
export class UnexpectedAnswerError extends Error {
  override readonly name = 'UnexpectedAnswerError';
  constructor(
    readonly via: string,
    readonly status: number,
    readonly expected: string,
    readonly body: unknown,
  ) {
    super(`${via} answered ${status}: neither ${expected}; body: ${JSON.stringify(body).slice(0, 300)}`);
  }
}

/**
 * X-Tenant and subdomain may only select tenants the principal belongs to. The leak is its
 * symptom — the victim's projects in the answer — never a status code alone; a 403 is the rule
 * holding, and any other answer is an UnexpectedAnswerError.
 */
export async function checkTenantSelection(client: ApiClient, acting: SignedUpTenant, victim: SignedUpTenant): Promise<Leak[]> {
  const leaks: Leak[] = [];
  const victimIds = new Set(await createProjects(client, victim.token, ['selected-by-header'], 4242));
  const host = new URL(client.baseUrl).host.replace(/^127\.0\.0\.1/, `${victim.slug}.localhost`);
  const attempts: [string, Record<string, string>][] = [
    ['X-Tenant header', { 'x-tenant': victim.slug }],
    ['subdomain', { host }],
  ];
  for (const [via, headers] of attempts) {
    const route = `GET /projects with ${via}`;
    const response = await client.get('/projects?limit=200', { token: acting.token, headers });
    if (response.status === 403) continue;
    const victimProjects = listedIds(response.body).filter((id) => victimIds.has(id));
    if (response.status !== 200 || victimProjects.length === 0) {
      throw new UnexpectedAnswerError(route, response.status, "refused (403) nor the victim's projects", response.body);
    }
    leaks.push(leak('tenant-selection', route, acting, victim, { status: response.status, victimProjects }));
  }
  return leaks;
}

/**
 * /switch-tenant must refuse a tenant the principal is not a member of. The leaks are the
 * symptoms: a token issued for the victim tenant, and that token served the victim's projects.
 * A refusal (403, no token) is the rule holding; any other answer is an UnexpectedAnswerError.
 */
export async function checkSwitchTenant(client: ApiClient, acting: SignedUpTenant, victim: SignedUpTenant): Promise<Leak[]> {
  const victimIds = new Set(await createProjects(client, victim.token, ['switched-into'], 77));
  const route = 'POST /switch-tenant';
  const response = await client.post('/switch-tenant', { token: acting.token, body: { tenant: victim.slug } });
  if (response.status === 403 && response.body?.token === undefined) return [];
  const token: unknown = response.body?.token;
  const issuedFor = typeof token === 'string' ? String(decodeJwt(token).tid) : null;
  if (response.status !== 200 || typeof token !== 'string' || issuedFor !== victim.tenantId) {
    throw new UnexpectedAnswerError(route, response.status, 'refused (403, no token) nor a token issued for the victim tenant', response.body);
  }
  const leaks = [leak('switch-tenant', route, acting, victim, { status: response.status, issuedForTenant: issuedFor, role: response.body.role })];
  const list = await client.get('/projects?limit=200', { token });
  const victimProjects = listedIds(list.body).filter((id) => victimIds.has(id));
  if (list.status === 200 && victimProjects.length > 0) {
    leaks.push(leak('switch-tenant', 'GET /projects with the re-issued token', acting, victim, { victimProjects }));
  }
  return leaks;
}

/** Tokens the server did not sign, signed with the wrong key, expired or altered, must all be 401. */
export async function forgedTokens(acting: SignedUpTenant, victim: SignedUpTenant): Promise<Record<string, string>> {
  const claims = decodeJwt(acting.token);
  const forged = { tid: victim.tenantId, ten: victim.slug, role: 'admin' };
  const now = Math.floor(Date.now() / 1000);
  const [header, , signature] = acting.token.split('.');
  const tamperedPayload = Buffer.from(JSON.stringify({ ...claims, ...forged })).toString('base64url');
  return {
    'alg none': new UnsecuredJWT({ ...forged }).setSubject(claims.sub!).setIssuer(tokenIssuer).setAudience(tokenAudience).setIssuedAt().setExpirationTime('5m').encode(),
    'wrong key': await new SignJWT(forged)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(claims.sub!)
      .setIssuer(tokenIssuer)
      .setAudience(tokenAudience)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('not-the-secret-not-the-secret-not-the-secret')),
    expired: await new SignJWT({ tid: acting.tenantId, ten: acting.slug, role: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(claims.sub!)
      .setIssuer(tokenIssuer)
      .setAudience(tokenAudience)
      .setIssuedAt(now - 3600)
      .setExpirationTime(now - 1800)
      .sign(new TextEncoder().encode(jwtSecret)),
    'tampered claims': `${header}.${tamperedPayload}.${signature}`,
  };
}

/**
 * Each forged token must be refused (401). The leak is its symptom: the server accepted the
 * identity the token claims — it answers with the projects of the tenant named in the token
 * (the victim's for the forged ones, the acting tenant's own for the expired one). Any other
 * answer is an UnexpectedAnswerError, never a leak.
 */
export async function checkForgedTokens(client: ApiClient, acting: SignedUpTenant, victim: SignedUpTenant): Promise<Leak[]> {
  const leaks: Leak[] = [];
  const projectsOf = new Map([
    [acting.tenantId, new Set(await createProjects(client, acting.token, ['token-holder-own'], 11))],
    [victim.tenantId, new Set(await createProjects(client, victim.token, ['token-victim-own'], 13))],
  ]);
  for (const [kind, token] of Object.entries(await forgedTokens(acting, victim))) {
    const route = `GET /projects with a token (${kind})`;
    const claimedTenant = String(decodeJwt(token).tid);
    const response = await client.get('/projects?limit=200', { token });
    if (response.status === 401) continue;
    const claimedTenantProjects = listedIds(response.body).filter((id) => projectsOf.get(claimedTenant)?.has(id));
    if (response.status !== 200 || claimedTenantProjects.length === 0) {
      throw new UnexpectedAnswerError(route, response.status, `refused (401) nor served as the tenant the token claims (${claimedTenant})`, response.body);
    }
    leaks.push(leak('forged-token', route, acting, victim, { status: response.status, acceptedAsTenant: claimedTenant, projects: claimedTenantProjects }));
  }
  return leaks;
}

/**
 * A tenant context must end with its transaction: after a request for `acting`, a statement on
 * the app's pooled connection without a tenant context sees no tenant and no rows.
 * Meaningful with `poolSize: 1` (the statement then reuses the request's connection).
 */
export async function checkContextDoesNotOutliveTransaction(client: ApiClient, app: ReferenceApp, acting: SignedUpTenant, victim: SignedUpTenant): Promise<Leak[]> {
  await createProjects(client, acting.token, ['ctx-1'], 1);
  const list = await client.get('/projects', { token: acting.token });
  if (list.status !== 200) throw new Error(`listing failed: ${list.status}`);
  const { rows } = await app.unscoped.query<{ tenant: string | null; projects: number }>(
    `select current_setting('app.current_tenant', true) as tenant, (select count(*)::int from app.projects) as projects`,
  );
  const row = rows[0]!;
  if ((row.tenant ?? '') !== '' || row.projects !== 0) {
    return [leak('context-lifetime', 'next statement on the pooled connection', acting, victim, row)];
  }
  return [];
}

/**
 * Noisy neighbour: `acting` spends its rate-limit budget (up to `burst` requests, stopping at its
 * first 429); `victim`'s budget must not move (its remaining count drops by exactly its own one
 * request) and it must never be refused with 429 because of `acting`.
 */
export async function checkNoisyNeighbour(client: ApiClient, acting: SignedUpTenant, victim: SignedUpTenant, burst = 60): Promise<Leak[]> {
  const remaining = (r: { headers: Headers }) => Number(r.headers.get('x-ratelimit-remaining'));
  const before = await client.get('/me', { token: victim.token });
  if (before.status !== 200) throw new Error(`quiet tenant ${victim.slug} is already refused before the burst: ${before.status}`);
  let noisyRequests = 0;
  for (; noisyRequests < burst; noisyRequests++) {
    const response = await client.get('/me', { token: acting.token });
    if (response.status === 429) break;
    if (response.status !== 200) throw new Error(`noisy tenant request failed: ${response.status} ${response.text}`);
  }
  const after = await client.get('/me', { token: victim.token });
  const leaks: Leak[] = [];
  if (after.status === 429) {
    leaks.push(leak('noisy-neighbour', 'GET /me answered 429 for the quiet tenant', acting, victim, { noisyRequests, body: after.body }));
  } else if (remaining(after) !== remaining(before) - 1) {
    leaks.push(
      leak('noisy-neighbour', 'quiet tenant rate-limit budget spent by another tenant', acting, victim, {
        noisyRequests,
        remainingBefore: remaining(before),
        remainingAfter: remaining(after),
      }),
    );
  }
  return leaks;
}

const refOf = (t: SignedUpTenant) => ({ id: t.tenantId, slug: t.slug, model: t.model });

/** Where a schema tenant must live: derived here from its id, independently of the app's code. */
export const expectedTenantSchema = (t: SignedUpTenant) => `tenant_${t.tenantId.replaceAll('-', '')}`;

/**
 * Schema model, enforced by PostgreSQL: inside `acting`'s tenant context, `victim`'s schema —
 * named fully qualified — is refused (no USAGE), for reads and writes alike.
 */
export async function checkSchemaPrivileges(client: ApiClient, app: ReferenceApp, acting: SignedUpTenant, victim: SignedUpTenant): Promise<Leak[]> {
  if (victim.model !== 'schema') throw new Error('checkSchemaPrivileges needs a schema-model victim');
  await createProjects(client, victim.token, ['qualified-target'], 5);
  const victimSchema = app.control.schemaPlacement(refOf(victim)).schema;
  const leaks: Leak[] = [];
  const statements = [
    `select count(*)::int as n from "${victimSchema}".projects`,
    `update "${victimSchema}".projects set name = 'pwned'`,
    `select has_schema_privilege(current_user, '${victimSchema}', 'USAGE') as usage`,
  ];
  for (const statement of statements) {
    try {
      const { rows } = await app.tenancy.withTenant(refOf(acting), (tx) => tx.query<Record<string, unknown>>(statement));
      if (statement.startsWith('select has_schema_privilege') ? rows[0]?.usage !== false : true) {
        leaks.push(leak('schema-privileges', statement.replace(victimSchema, '<victim schema>'), acting, victim, rows[0]));
      }
    } catch (error) {
      if ((error as { code?: string }).code !== '42501') throw error;
    }
  }
  return leaks;
}

/**
 * Schema model: role and search_path end with the tenant transaction. After a request of
 * `acting`, a statement on the pooled connection outside any tenant context acts as the app's
 * login role with no tenant schema on its path, and cannot read `acting`'s projects unqualified.
 * Meaningful with `poolSize: 1`.
 */
export async function checkSearchPathDoesNotOutliveTransaction(client: ApiClient, app: ReferenceApp, acting: SignedUpTenant, victim: SignedUpTenant): Promise<Leak[]> {
  const leaks: Leak[] = [];
  // `acting`'s request follows `victim`'s (signup, then this) on the same pooled connection.
  await client.get('/projects', { token: victim.token });
  const list = await client.get('/projects', { token: acting.token });
  if (list.status !== 200) {
    leaks.push(leak('search-path-lifetime', "GET /projects refused after another tenant's request on the connection", acting, victim, { status: list.status, body: list.body }));
  }
  const { rows } = await app.unscoped.query<{ role: string; path: string; schema: string | null }>(
    `select current_user as role, current_setting('search_path') as path, current_schema() as schema`,
  );
  const row = rows[0]!;
  if (row.role !== app.database.roles.app || /tenant_/.test(row.path)) {
    leaks.push(leak('search-path-lifetime', 'next statement on the pooled connection (role, search_path)', acting, victim, row));
  }
  try {
    const { rows: seen } = await app.unscoped.query<{ n: number }>('select count(*)::int as n from projects');
    leaks.push(leak('search-path-lifetime', 'unqualified projects read on the pooled connection', acting, victim, seen[0]));
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== '42P01' && code !== '42501') throw error;
  }
  return leaks;
}

/**
 * Schema names come from the tenant id, never from client input: each schema tenant's context
 * resolves to `tenant_<32 hex of its id>`, and no schema is named after a slug.
 */
export async function checkSchemaNaming(app: ReferenceApp, acting: SignedUpTenant, victim: SignedUpTenant): Promise<Leak[]> {
  const leaks: Leak[] = [];
  for (const tenant of [acting, victim]) {
    if (tenant.model !== 'schema') continue;
    const { rows } = await app.tenancy.withTenant(refOf(tenant), (tx) => tx.query<{ schema: string }>('select current_schema() as schema'));
    if (rows[0]?.schema !== expectedTenantSchema(tenant)) {
      leaks.push(leak('schema-naming', 'schema of the tenant context', acting, victim, { tenant: tenant.slug, schema: rows[0]?.schema, expected: expectedTenantSchema(tenant) }));
    }
  }
  const { rows: bySlug } = await app.control.withAdmin((c) =>
    c.query<{ nspname: string }>('select nspname from pg_namespace where nspname = any($1)', [[acting, victim].map((t) => `tenant_${t.slug.replaceAll('-', '_')}`)]),
  );
  if (bySlug.length > 0) leaks.push(leak('schema-naming', 'schema named after a slug', acting, victim, { schemas: bySlug.map((r) => r.nspname) }));
  return leaks;
}

/**
 * Database model: `acting`'s login role (or the app's, for a tenant without its own database)
 * cannot connect to `victim`'s database, let alone read it; and no extension that reaches into
 * other databases (dblink, postgres_fdw) is installed there.
 */
export async function checkDatabaseReach(app: ReferenceApp, acting: SignedUpTenant, victim: SignedUpTenant): Promise<Leak[]> {
  if (victim.model !== 'database') throw new Error('checkDatabaseReach needs a database-model victim');
  const victimDatabase = app.control.databasePlacement(refOf(victim)).database;
  const actingUrl = acting.model === 'database' ? app.control.tenantDatabaseUrl(app.control.databasePlacement(refOf(acting)).database) : app.database.appUrl;
  const url = new URL(actingUrl);
  url.pathname = `/${victimDatabase}`;
  const leaks: Leak[] = [];
  const client = new pg.Client({ connectionString: url.toString() });
  try {
    await client.connect();
    leaks.push(leak('database-reach', 'connect to the victim database', acting, victim, { as: decodeURIComponent(url.username) }));
    try {
      const { rows } = await client.query<{ n: number }>('select count(*)::int as n from app.projects');
      leaks.push(leak('database-reach', 'read app.projects in the victim database', acting, victim, rows[0]));
    } catch (error) {
      if ((error as { code?: string }).code !== '42501') throw error;
    }
  } catch (error) {
    if ((error as { code?: string }).code !== '42501') throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
  const { rows: extensions } = await app.control.withAdmin(async () => {
    const admin = new pg.Client({ connectionString: Object.assign(new URL(app.database.adminUrl), { pathname: `/${victimDatabase}` }).toString() });
    await admin.connect();
    try {
      return await admin.query<{ extname: string }>(`select extname from pg_extension where extname in ('dblink', 'postgres_fdw')`);
    } finally {
      await admin.end();
    }
  });
  if (extensions.length > 0) leaks.push(leak('database-reach', 'cross-database extension installed', acting, victim, extensions));
  return leaks;
}
