/**
 * A red case passes on its vulnerability's symptom, never on a status code alone. The header
 * spoofing, switch-tenant and forged-token checks run here against a stand-in server (no database) whose answers
 * are chosen: a 500, or a 200 with the caller's own rows, is not a leak (the check fails loudly
 * instead); the victim's rows in the answer are.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, test } from 'vitest';
import { tokenAudience, tokenIssuer } from '../../reference-app/src/index.ts';
import { checkForgedTokens, checkSwitchTenant, checkTenantSelection, UnexpectedAnswerError } from './checks.ts';
import { ApiClient, jwtSecret, type SignedUpTenant } from './harness.ts';

/** How the stand-in answers GET /projects: `tenantId` is the one its bearer token names. */
type ListAnswer = (tenantOfToken: string, projects: ReadonlyMap<string, string>) => { status: number; body: unknown };

/** How the stand-in answers POST /switch-tenant. */
type SwitchAnswer = () => Promise<{ status: number; body: unknown }>;

/** A server that creates projects for the tenant its token names, and answers lists and switches as told. */
async function standIn(answerList: ListAnswer, answerSwitch: SwitchAnswer = async () => ({ status: 500, body: {} })): Promise<{ client: ApiClient; server: Server }> {
  const projects = new Map<string, string>(); // project id → tenant id
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const token = (request.headers.authorization ?? '').replace(/^Bearer /, '');
    const payload = token.split('.')[1];
    const tenantOfToken = payload ? String((JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { tid?: unknown }).tid) : '';
    const send = (status: number, body: unknown) => response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    request.resume().on('end', () => {
      if (request.method === 'POST' && request.url === '/projects') {
        const id = randomUUID();
        projects.set(id, tenantOfToken);
        return send(201, { id });
      }
      if (request.method === 'GET' && request.url?.startsWith('/projects')) {
        const { status, body } = answerList(tenantOfToken, projects);
        return send(status, body);
      }
      if (request.method === 'POST' && request.url === '/switch-tenant') {
        void answerSwitch().then(({ status, body }) => send(status, body));
        return;
      }
      return send(404, { error: 'not here' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { client: new ApiClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), server };
}

const tokenFor = (tenantId: string, slug: string) =>
  new SignJWT({ tid: tenantId, ten: slug, role: 'admin' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(randomUUID())
    .setIssuer(tokenIssuer)
    .setAudience(tokenAudience)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(jwtSecret));

async function tenant(slug: string): Promise<SignedUpTenant> {
  const tenantId = randomUUID();
  return { slug, tenantId, email: `admin@${slug}.example`, password: 'unused', token: await tokenFor(tenantId, slug), model: 'rls' };
}

const serverError: ListAnswer = () => ({ status: 500, body: { error: 'Internal Server Error' } });
/** Ignores the tenant asked for and answers with the token's own tenant's rows. */
const ownRowsOnly: ListAnswer = (tid, projects) => ({ status: 200, body: { projects: [...projects].filter(([, t]) => t === tid).map(([id]) => ({ id })) } });
/** Every tenant's rows (what a trusted header or an unverified token leads to). */
const everyTenantsRows: ListAnswer = (_tid, projects) => ({ status: 200, body: { projects: [...projects.keys()].map((id) => ({ id })) } });

describe('red cases assert the symptom, not the status code', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });
  const start = async (answer: ListAnswer, answerSwitch?: SwitchAnswer) => {
    const started = await standIn(answer, answerSwitch);
    server = started.server;
    return started.client;
  };

  test('a 500 to a spoofed X-Tenant header or subdomain is not a leak: the check fails instead', async () => {
    const client = await start(serverError);
    await expect(checkTenantSelection(client, await tenant('acme'), await tenant('globex'))).rejects.toThrow(UnexpectedAnswerError);
  });

  test('an answer with only the caller\'s own rows to a spoofed header is not a leak either', async () => {
    const client = await start(ownRowsOnly);
    await expect(checkTenantSelection(client, await tenant('acme'), await tenant('globex'))).rejects.toThrow(/neither refused \(403\) nor the victim's projects/);
  });

  test("the victim's rows in the answer to a spoofed header are the leak", async () => {
    const client = await start(everyTenantsRows);
    const leaks = await checkTenantSelection(client, await tenant('acme'), await tenant('globex'));
    expect(leaks.map((l) => l.via)).toEqual(['GET /projects with X-Tenant header', 'GET /projects with subdomain']);
    for (const l of leaks) expect((l.observed as { victimProjects: string[] }).victimProjects).toHaveLength(1);
  });

  test('a 500 to a switch into a foreign tenant is not a leak: the check fails instead', async () => {
    const client = await start(everyTenantsRows);
    await expect(checkSwitchTenant(client, await tenant('acme'), await tenant('globex'))).rejects.toThrow(UnexpectedAnswerError);
  });

  test("a token re-issued for the caller's own tenant is not the symptom of a switch into another", async () => {
    const acting = await tenant('acme');
    const client = await start(everyTenantsRows, async () => ({ status: 200, body: { token: await tokenFor(acting.tenantId, acting.slug), role: 'admin' } }));
    await expect(checkSwitchTenant(client, acting, await tenant('globex'))).rejects.toThrow(/nor a token issued for the victim tenant/);
  });

  test("a token issued for the victim is the leak, and the victim's rows it is served the second", async () => {
    const victim = await tenant('globex');
    const client = await start(ownRowsOnly, async () => ({ status: 200, body: { token: await tokenFor(victim.tenantId, victim.slug), role: 'admin' } }));
    const leaks = await checkSwitchTenant(client, await tenant('acme'), victim);
    expect(leaks.map((l) => l.via)).toEqual(['POST /switch-tenant', 'GET /projects with the re-issued token']);
  });

  test('a 500 to a forged token is not a leak: the check fails instead', async () => {
    const client = await start(serverError);
    await expect(checkForgedTokens(client, await tenant('acme'), await tenant('globex'))).rejects.toThrow(UnexpectedAnswerError);
  });

  test('a forged token is a leak only when the server serves the tenant it claims', async () => {
    const client = await start(ownRowsOnly);
    const acting = await tenant('acme');
    const victim = await tenant('globex');
    const leaks = await checkForgedTokens(client, acting, victim);
    expect(leaks.map((l) => l.via)).toEqual([
      'GET /projects with a token (alg none)',
      'GET /projects with a token (wrong key)',
      'GET /projects with a token (expired)',
      'GET /projects with a token (tampered claims)',
    ]);
    expect(leaks.map((l) => (l.observed as { acceptedAsTenant: string }).acceptedAsTenant)).toEqual([victim.tenantId, victim.tenantId, acting.tenantId, victim.tenantId]);
  });
});
