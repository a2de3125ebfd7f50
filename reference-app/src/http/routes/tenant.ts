/** The caller's own tenant: who am I (GET /me), the tenant (GET /tenant), teardown (DELETE /tenant), audit log. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { currentTenantContext } from '../../tenancy/context.ts';
import { authorize } from '../authorize.ts';
import { HttpError, parseInput } from '../errors.ts';
import type { Services } from '../services.ts';

const auditQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) });

export function tenantRoutes(app: FastifyInstance, services: Services): void {
  const { tenancy } = services;

  app.get('/me', async () => {
    const { tenant, principal } = currentTenantContext();
    return tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx);
      const { rows } = await tx.query<{ permission: string }>(
        `select rp.permission from role_permissions rp join roles r on r.tenant_id = rp.tenant_id and r.id = rp.role_id
          where r.name = $1 order by rp.permission`,
        [principal.role],
      );
      return { userId: principal.userId, tenant: { id: tenant.id, slug: tenant.slug }, role: principal.role, via: principal.via, permissions: rows.map((r) => r.permission) };
    });
  });

  app.get('/tenant', async () =>
    tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx, 'projects:read');
      const { rows } = await tx.query('select id, slug, name, plan, status, limits, features, created_at as "createdAt" from app.tenants');
      if (!rows[0]) throw new HttpError(401, 'the tenant of this token no longer exists');
      return rows[0];
    }),
  );

  /** Teardown: deleting the tenant row cascades through every tenant table, in one transaction. */
  app.delete('/tenant', async (request, reply) => {
    const { tenant } = currentTenantContext();
    await tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx, 'tenant:delete');
      const { rowCount } = await tx.query('delete from app.tenants where id = app.current_tenant_id()');
      if (rowCount !== 1) throw new HttpError(409, 'tenant could not be deleted');
    });
    // Its schema or database and role go too (control plane); the rows are already gone.
    await services.control.teardown(tenant);
    request.log.warn({ slug: tenant.slug, model: tenant.model }, 'tenant torn down');
    return reply.status(204).send();
  });

  app.get('/audit-log', async (request) => {
    const query = parseInput(auditQuery, request.query);
    return tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx, 'members:manage');
      // Entries are numbered per tenant (1, 2, 3 …): the identity column is one sequence shared by
      // every tenant of the shared tables, so its gaps would count the other tenants' writes.
      // `audit-sequence-global` exposes it instead.
      const id = services.vulnerable.has('audit-sequence-global') ? 'id::text' : '(row_number() over (order by id))::text';
      const { rows } = await tx.query(
        `select id, "actorId", action, entity, "entityId", details, at
           from (select ${id} as id, id as seq, actor_id as "actorId", action, entity, entity_id as "entityId", details, at from audit_log) entries
          order by seq desc limit $1`,
        [query.limit],
      );
      return { entries: rows };
    });
  });
}
