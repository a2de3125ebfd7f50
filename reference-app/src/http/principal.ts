/**
 * Tenant resolution for authenticated requests. The verified token names the principal and its
 * active tenant (the default). The X-Tenant header or an `acme.localhost` subdomain may choose
 * another tenant — but only one the principal is a member of, checked server-side through the
 * `principal_memberships` definer function, and with the role of that membership.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Queryable } from '../tenancy/queryable.ts';
import type { IsolationModel, TenantContext } from '../tenancy/context.ts';
import { HttpError } from './errors.ts';
import { slug as slugSchema } from './input.ts';
import { opsPool, tenantModel, type Services } from './services.ts';
import { maxSupportSessionSeconds } from '../auth/tokens.ts';

export interface Membership {
  tenant_id: string;
  slug: string;
  tenant_name: string;
  status: string;
  role: string;
  joined_at: Date;
}

export async function principalMemberships(db: Queryable, userId: string): Promise<Membership[]> {
  const { rows } = await db.query<Membership>('select * from app.principal_memberships($1)', [userId]);
  return rows;
}

/** The tenant slug a request asks for through X-Tenant or its Host's subdomain, if any. */
export function requestedTenantSlug(request: FastifyRequest, baseDomain: string): { slug: string; via: 'header' | 'subdomain' } | undefined {
  const header = request.headers['x-tenant'];
  const fromHeader = Array.isArray(header) ? header[0] : header;
  const host = (request.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
  const suffix = `.${baseDomain}`;
  const fromHost = host.endsWith(suffix) ? host.slice(0, -suffix.length) : undefined;
  if (fromHeader !== undefined && fromHost !== undefined && fromHeader !== fromHost) {
    throw new HttpError(400, 'X-Tenant header and subdomain name different tenants');
  }
  const chosen = fromHeader ?? fromHost;
  if (chosen === undefined) return undefined;
  if (!slugSchema.safeParse(chosen).success) throw new HttpError(400, 'invalid tenant slug');
  return { slug: chosen, via: fromHeader !== undefined ? 'header' : 'subdomain' };
}

export const notAMember = () => new HttpError(403, 'not a member of that tenant');

export function authenticate(services: Services) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const authorization = request.headers.authorization ?? '';
    const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(authorization);
    if (!match?.[1]) throw new HttpError(401, 'missing bearer token');
    const token = match[1];
    const claims = await services.tokens.verify(token).catch(async (error: unknown) => {
      // A support agent's login token is not a tenant token: say so (support sessions are opened with a reason).
      const support = await services.tokens.verifySupport(token).catch(() => undefined);
      if (!support) throw error;
      if (services.vulnerable.has('support-token-as-tenant-token')) return supportTokenAsTenantToken(request, services, support.sub);
      throw new HttpError(401, 'a support token is not a tenant token: open a support session (POST /support/sessions) with a reason');
    });
    if ('context' in claims) {
      request.tenantContext = claims.context;
      return;
    }
    let context: TenantContext = {
      tenant: { id: claims.tid, slug: claims.ten, model: 'rls' as IsolationModel },
      principal: { userId: claims.sub, role: claims.role, tokenIssuedAtMs: claims.issuedAtMs, via: 'token' },
    };
    const requested = requestedTenantSlug(request, services.baseDomain);
    if (claims.kind === 'support-session') {
      // A support session is bound to the one tenant it was opened for: read-only, audited (authorize.ts).
      if (requested && requested.slug !== claims.ten) throw new HttpError(403, 'a support session is bound to the tenant it was opened for');
      if (!claims.sessionId || claims.expiresAtMs === undefined || claims.expiresAtMs - claims.issuedAtMs > maxSupportSessionSeconds * 1000 + 1000) {
        throw new HttpError(401, 'support session token is not bounded in time');
      }
      context = {
        ...context,
        principal: {
          ...context.principal,
          role: 'support',
          via: 'support',
          supportSession: { id: claims.sessionId, audited: !services.vulnerable.has('support-access-unaudited') },
        },
      };
    } else if (requested && requested.slug !== claims.ten) {
      if (services.vulnerable.has('header-tenant-trusted')) {
        const { rows } = await opsPool(services).query<{ id: string }>('select id from app.tenants where slug = $1', [requested.slug]);
        if (!rows[0]) throw notAMember();
        context = { tenant: { id: rows[0].id, slug: requested.slug, model: 'rls' }, principal: { ...context.principal, via: requested.via } };
      } else {
        const membership = (await principalMemberships(services.pool, claims.sub)).find((m) => m.slug === requested.slug);
        if (!membership) throw notAMember();
        context = {
          tenant: { id: membership.tenant_id, slug: membership.slug, model: 'rls' },
          principal: { userId: claims.sub, role: membership.role, tokenIssuedAtMs: claims.issuedAtMs, via: requested.via },
        };
      }
    }
    // The tenant is known; where it lives is looked up after the rate limit (`placeTenant`), so a
    // throttled request costs no database round trip.
    request.pendingTenantContext = context;
    const log = request.log.child({ tenantId: context.tenant.id, userId: context.principal.userId });
    request.log = log;
    reply.log = log;
    log.info({ method: request.method, url: request.url, via: context.principal.via }, 'incoming request');
  };
}

/**
 * Where the authenticated request's tenant lives: a property of its registry row, read on every
 * request (a move between models takes effect at once on every instance). A tenant that no longer
 * exists has no model. Runs after the per-tenant rate limit; only then is the tenant context set.
 */
export function placeTenant(services: Services) {
  return async (request: FastifyRequest): Promise<void> => {
    if (request.tenantContext) return;
    const context = request.pendingTenantContext;
    if (!context) throw new HttpError(401, 'no tenant context');
    const model = await tenantModel(services, context.tenant.id);
    if (!model) throw new HttpError(401, 'the tenant of this token no longer exists');
    request.tenantContext = { ...context, tenant: { ...context.tenant, model } };
  };
}

/**
 * The `support-token-as-tenant-token` vulnerability: a support agent's login token is taken as an
 * ordinary tenant token — the tenant from X-Tenant, the role `admin`, no session, no audit entry.
 */
async function supportTokenAsTenantToken(request: FastifyRequest, services: Services, agentId: string): Promise<{ context: TenantContext }> {
  const requested = requestedTenantSlug(request, services.baseDomain);
  if (!requested) throw new HttpError(400, 'X-Tenant header required');
  const { rows } = await services.pool.query<{ id: string; slug: string; model: IsolationModel }>('select * from app.support_tenant($1)', [requested.slug]);
  const tenant = rows[0];
  if (!tenant) throw notAMember();
  return { context: { tenant: { id: tenant.id, slug: tenant.slug, model: tenant.model }, principal: { userId: agentId, role: 'admin', tokenIssuedAtMs: Date.now(), via: requested.via } } };
}
