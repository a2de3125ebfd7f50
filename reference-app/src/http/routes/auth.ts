/** Signup (provisioning a tenant), login and tenant switching. */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { hashPassword, verifyPassword } from '../../auth/passwords.ts';
import { plans, seedRoles } from '../../auth/permissions.ts';
import type { Queryable } from '../../tenancy/queryable.ts';
import { currentTenantContext, type IsolationModel, type TenantRef } from '../../tenancy/context.ts';
import { audit } from '../audit.ts';
import { HttpError, parseInput } from '../errors.ts';
import { email, password, planName, slug, text } from '../input.ts';
import { notAMember, principalMemberships } from '../principal.ts';
import { ensureMemberUser, syncDirectory } from '../directory.ts';
import { withGlobalSide } from '../../tenancy/global-side.ts';
import { opsPool, type Services } from '../services.ts';

const signupBody = z.object({
  tenant: z.object({ slug, name: text(200), plan: planName.default('free'), model: z.enum(['rls', 'schema', 'database']).optional() }).strict(),
  email,
  password,
});

const loginBody = z.object({ email: z.string().max(254), password: z.string().max(200), tenant: slug.optional() }).strict();
const switchBody = z.object({ tenant: slug }).strict();

/** Creates the tenant, its seed roles and its first admin in one transaction: all or nothing. */
export async function provisionTenant(
  services: Services,
  input: { slug: string; name: string; plan: keyof typeof plans; model?: IsolationModel | undefined; email: string; passwordHash: string },
): Promise<{ tenantId: string; userId: string; model: IsolationModel }> {
  const tenantId = randomUUID();
  const model = input.model ?? services.planModels[input.plan];
  const tenant: TenantRef = { id: tenantId, slug: input.slug, model };
  // The tenant's home first (schema / database, control plane), then its rows in one tenant
  // transaction; if that fails (e.g. the slug is taken) the home is removed again.
  if (tenant.model === 'database') await registerGlobally(services, tenant, input);
  let userId: string;
  try {
    await services.control.provision(tenant);
    userId = await seedTenant(services, tenant, input);
  } catch (error) {
    // Removes the schema / database and role, and a database tenant's global registry row.
    await services.control.teardown(tenant).catch(() => undefined);
    throw error;
  }
  return { tenantId, userId, model };
}

async function seedTenant(
  services: Services,
  tenant: TenantRef,
  input: { slug: string; name: string; plan: keyof typeof plans; email: string; passwordHash: string },
): Promise<string> {
  const registryRow = [tenant.id, input.slug, input.name, input.plan, JSON.stringify(plans[input.plan]), tenant.model];
  const insertRegistryRow = 'insert into app.tenants (id, slug, name, plan, limits, model) values ($1, $2, $3, $4, $5, $6)';
  return services.tenancy.withTenant(tenant, async (tx: Queryable) => {
    // The registry row (for a database tenant: its local copy; the global row is written by
    // provisionTenant first), then the seed roles and the first admin.
    await tx.query(insertRegistryRow, registryRow);
    const roleIds: Record<string, string> = {};
    for (const [role, granted] of Object.entries(seedRoles)) {
      const { rows } = await tx.query<{ id: string }>('insert into roles (name) values ($1) returning id', [role]);
      roleIds[role] = rows[0]!.id;
      await tx.query('insert into role_permissions (role_id, permission) select $1, unnest($2::text[])', [rows[0]!.id, granted]);
    }
    const user = await ensureMemberUser(services, tenant, tx, input.email, input.passwordHash, true);
    await tx.query('insert into memberships (user_id, role_id) values ($1, $2)', [user, roleIds.admin]);
    await syncDirectory(services, tenant, user, 'admin');
    await audit(tx, 'tenant.created', 'tenant', tenant.id, { slug: input.slug, plan: input.plan, model: tenant.model }, user);
    return user;
  });
}

/** Database tenants: the global registry row first (slug uniqueness, the tenant's directory). */
async function registerGlobally(services: Services, tenant: TenantRef, input: { name: string; plan: keyof typeof plans }): Promise<void> {
  await withGlobalSide(services.pool, tenant, (tx) =>
    tx.query('insert into app.tenants (id, slug, name, plan, limits, model) values ($1, $2, $3, $4, $5, $6)', [
      tenant.id,
      tenant.slug,
      input.name,
      input.plan,
      JSON.stringify(plans[input.plan]),
      tenant.model,
    ]),
  );
}

export function authRoutes(app: FastifyInstance, services: Services): void {
  app.post('/signup', async (request, reply) => {
    const body = parseInput(signupBody, request.body);
    const passwordHash = await hashPassword(body.password);
    const { tenantId, userId, model } = await provisionTenant(services, { ...body.tenant, email: body.email, passwordHash });
    request.log.child({ tenantId, userId }).info({ slug: body.tenant.slug }, 'tenant signed up');
    const token = await services.tokens.issue({ sub: userId, tid: tenantId, ten: body.tenant.slug, role: 'admin' });
    return reply.status(201).send({ tenant: { id: tenantId, slug: body.tenant.slug, name: body.tenant.name, plan: body.tenant.plan, model }, token });
  });

  app.post('/login', async (request) => {
    const body = parseInput(loginBody, request.body);
    const { rows } = await services.pool.query<{ user_id: string; password_hash: string }>('select * from app.find_login($1)', [body.email]);
    const found = rows[0];
    if (!(await verifyPassword(body.password, found?.password_hash)) || !found) throw new HttpError(401, 'invalid email or password');
    const memberships = (await principalMemberships(services.pool, found.user_id)).filter((m) => m.status === 'active');
    const chosen = body.tenant === undefined ? memberships[0] : memberships.find((m) => m.slug === body.tenant);
    if (!chosen) throw body.tenant === undefined ? new HttpError(403, 'this user belongs to no active tenant') : notAMember();
    request.log.child({ tenantId: chosen.tenant_id, userId: found.user_id }).info('logged in');
    const token = await services.tokens.issue({ sub: found.user_id, tid: chosen.tenant_id, ten: chosen.slug, role: chosen.role });
    return { token, tenant: { id: chosen.tenant_id, slug: chosen.slug, name: chosen.tenant_name }, role: chosen.role };
  });
}

/** POST /switch-tenant: re-issues the token for another tenant, after a server-side membership check. */
export function switchTenantRoute(app: FastifyInstance, services: Services): void {
  app.post('/switch-tenant', async (request) => {
    const body = parseInput(switchBody, request.body);
    const { principal } = currentTenantContext();
    let target: { id: string; slug: string; role: string };
    if (services.vulnerable.has('switch-tenant-unchecked')) {
      const { rows } = await opsPool(services).query<{ id: string }>('select id from app.tenants where slug = $1', [body.tenant]);
      if (!rows[0]) throw notAMember();
      target = { id: rows[0].id, slug: body.tenant, role: principal.role };
    } else {
      const membership = (await principalMemberships(services.pool, principal.userId)).find((m) => m.slug === body.tenant && m.status === 'active');
      if (!membership) throw notAMember();
      target = { id: membership.tenant_id, slug: membership.slug, role: membership.role };
    }
    request.log.info({ toTenantId: target.id }, 'switched tenant');
    const token = await services.tokens.issue({ sub: principal.userId, tid: target.id, ten: target.slug, role: target.role });
    return { token, tenant: { id: target.id, slug: target.slug }, role: target.role };
  });
}
