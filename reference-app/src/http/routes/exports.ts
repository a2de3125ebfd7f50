/**
 * Exports: POST /exports enqueues a summary of the caller's projects (a background job in the
 * caller's tenant context); GET /exports and GET /exports/:id read the tenant's `exports` rows —
 * another tenant's export id is 404 like an unknown one.
 */
import type { FastifyInstance } from 'fastify';
import { audit } from '../audit.ts';
import { authorize } from '../authorize.ts';
import { notFound } from '../errors.ts';
import { isUuid } from '../input.ts';
import type { Services } from '../services.ts';
import { requireFeature, tenantPlan } from '../plan.ts';
import { currentTenantContext } from '../../tenancy/context.ts';

const columns = `id, kind, status, requested_by as "requestedBy", result, error, created_at as "createdAt", finished_at as "finishedAt"`;

export function exportRoutes(app: FastifyInstance, services: Services): void {
  const { tenancy } = services;

  app.post('/exports', async (request, reply) => {
    // The plan includes exports, and this month's export quota has room (429 with the figures if not).
    await tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx, 'projects:read');
      requireFeature(await tenantPlan(tx), 'exports');
    });
    await services.meter.admit(currentTenantContext().tenant, 'exports');
    const created = await tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx, 'projects:read');
      const { rows } = await tx.query<{ id: string }>(`insert into exports (requested_by) values ($1) returning ${columns}`, [
        request.tenantContext!.principal.userId,
      ]);
      await audit(tx, 'export.requested', 'export', rows[0]!.id);
      return rows[0]!;
    });
    // After the row is committed, so the job always finds it; the job carries this tenant context.
    let jobId: string;
    try {
      jobId = await services.jobs.enqueue('export-projects', { exportId: created.id });
    } catch (error) {
      await tenancy
        .inCurrentTenant((tx) => tx.query(`update exports set status = 'failed', error = 'could not be queued', finished_at = now() where id = $1`, [created.id]))
        .catch(() => undefined);
      throw error;
    }
    request.log.info({ exportId: created.id, jobId }, 'export enqueued');
    return reply.status(202).send(created);
  });

  app.get('/exports', async () =>
    tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx, 'projects:read');
      const { rows } = await tx.query(`select ${columns} from exports order by created_at desc, id limit 100`);
      return { exports: rows };
    }),
  );

  app.get<{ Params: { id: string } }>('/exports/:id', async (request) =>
    tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx, 'projects:read');
      if (!isUuid(request.params.id)) throw notFound();
      const { rows } = await tx.query(`select ${columns} from exports where id = $1`, [request.params.id]);
      if (!rows[0]) throw notFound();
      return rows[0];
    }),
  );
}
