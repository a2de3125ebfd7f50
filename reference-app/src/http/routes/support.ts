/**
 * Platform support access (the seeds' "super admin"). Support agents are platform staff, not
 * members of any tenant (`app.support_agents`, created by the control plane). They log in to the
 * support API and get a **support token** (its own audience and kind) that the tenant API refuses.
 * To act inside a tenant an agent opens a **support session**: a reason (at least 10 characters)
 * and a duration (at most 60 minutes) are required; the session is written into that tenant's
 * own audit log (`support.session.opened`, with agent, reason and expiry), which its admins read
 * (GET /audit-log); the session token that comes back is bound to that one tenant, read-only
 * (`supportPermissions`) and expires with the session; every request made with it writes a
 * `support.request` entry in the same transaction as what it read (`authorize.ts`).
 *
 * Named vulnerabilities: `support-token-as-tenant-token` (principal.ts), `support-access-unaudited`.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { verifyPassword } from '../../auth/passwords.ts';
import { maxSupportSessionSeconds, type SupportClaims } from '../../auth/tokens.ts';
import { runInTenantContext, type IsolationModel, type TenantContext } from '../../tenancy/context.ts';
import { audit } from '../audit.ts';
import { HttpError, parseInput } from '../errors.ts';
import { slug, text } from '../input.ts';
import type { Services } from '../services.ts';

const loginBody = z.object({ email: z.string().max(254), password: z.string().max(200) }).strict();
const sessionBody = z
  .object({
    tenant: slug,
    reason: text(500).refine((r) => r.length >= 10, 'must say why, in at least 10 characters'),
    minutes: z.number().int().min(1).max(maxSupportSessionSeconds / 60),
  })
  .strict();

async function supportAgent(request: FastifyRequest, services: Services): Promise<SupportClaims> {
  const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(request.headers.authorization ?? '');
  if (!match?.[1]) throw new HttpError(401, 'missing support token');
  return services.tokens.verifySupport(match[1]);
}

export function supportRoutes(app: FastifyInstance, services: Services): void {
  app.post('/support/login', async (request) => {
    const body = parseInput(loginBody, request.body);
    const { rows } = await services.pool.query<{ id: string; password_hash: string }>('select * from app.find_support_agent($1)', [body.email]);
    const found = rows[0];
    if (!(await verifyPassword(body.password, found?.password_hash)) || !found) throw new HttpError(401, 'invalid email or password');
    request.log.info({ agentId: found.id }, 'support agent logged in');
    return { token: await services.tokens.issueSupport({ sub: found.id, email: body.email.toLowerCase() }), kind: 'support' };
  });

  app.post('/support/sessions', async (request, reply) => {
    const agent = await supportAgent(request, services);
    const body = parseInput(sessionBody, request.body);
    const { rows } = await services.pool.query<{ id: string; slug: string; model: IsolationModel }>('select * from app.support_tenant($1)', [body.tenant]);
    const tenant = rows[0];
    if (!tenant) throw new HttpError(404, 'no active tenant with that slug');
    const sessionId = randomUUID();
    const expiresAt = new Date(Date.now() + body.minutes * 60_000);
    const context: TenantContext = {
      tenant: { id: tenant.id, slug: tenant.slug, model: tenant.model },
      principal: { userId: agent.sub, role: 'support', tokenIssuedAtMs: Date.now(), via: 'support', supportSession: { id: sessionId, audited: true } },
    };
    if (!services.vulnerable.has('support-access-unaudited')) {
      // In the tenant's own audit log (its shared table, schema or database), before the token exists.
      await runInTenantContext(context, () =>
        services.tenancy.inCurrentTenant((tx) =>
          audit(tx, 'support.session.opened', 'support_session', sessionId, { agent: agent.email, reason: body.reason, expiresAt: expiresAt.toISOString() }, agent.sub),
        ),
      );
    }
    request.log.warn({ agentId: agent.sub, tenantId: tenant.id, sessionId, minutes: body.minutes }, 'support session opened');
    const token = await services.tokens.issueSupportSession({ sub: agent.sub, tid: tenant.id, ten: tenant.slug, sid: sessionId, ttlSeconds: body.minutes * 60 });
    return reply.status(201).send({ token, session: { id: sessionId, tenant: tenant.slug, expiresAt, permissions: ['projects:read', 'billing:read'] } });
  });
}
