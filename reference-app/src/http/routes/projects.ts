/**
 * Projects. Every statement runs in the caller's tenant transaction and relies on RLS for the
 * tenant filter — that is the promise of the rls model, and what its checks verify. Unknown and
 * foreign ids are both 404.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Queryable } from '../../tenancy/queryable.ts';
import { audit } from '../audit.ts';
import { authorize, authorizeOnEntry, authorizeSupportSession } from '../authorize.ts';
import { HttpError, notFound, parseInput } from '../errors.ts';
import { cents, isUuid, text } from '../input.ts';
import { opsPool, type Services } from '../services.ts';
import { currentTenantContext } from '../../tenancy/context.ts';

const columns = 'id, name, description, status, budget_cents, created_by, created_at, updated_at';

interface ProjectRow {
  id: string;
  name: string;
  description: string;
  status: string;
  budget_cents: string;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

export function projectJson(row: ProjectRow) {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    status: row.status,
    budgetCents: Number(row.budget_cents),
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const createBody = z
  .object({ name: text(200), description: z.string().max(5000).default(''), budgetCents: cents.default(0) })
  .strict();
const patchBody = z
  .object({ name: text(200), description: z.string().max(5000), status: z.enum(['active', 'archived']), budgetCents: cents })
  .partial()
  .strict()
  .refine((b) => Object.keys(b).length > 0, 'nothing to change');
const listQuery = z.object({ limit: z.coerce.number().int().min(1).max(200).default(50), offset: z.coerce.number().int().min(0).default(0) });

/**
 * The `existence-oracle` vulnerability: the id is first looked up in every tenant (ops role), and
 * another tenant's id is answered 403 instead of the 404 an unused id gets.
 */
export async function refuseForeignProject(services: Services, id: string): Promise<void> {
  if (!services.vulnerable.has('existence-oracle') || !isUuid(id)) return;
  const { rows } = await opsPool(services).query<{ tenant_id: string }>('select tenant_id from projects where id = $1', [id]);
  if (rows[0] && rows[0].tenant_id !== currentTenantContext().tenant.id) throw new HttpError(403, 'this project belongs to another tenant');
}

/** The project with this id in the current tenant, or 404 (an unused id and another tenant's alike). */
export async function projectOr404(tx: Queryable, id: string, services?: Services): Promise<ProjectRow> {
  if (services) await refuseForeignProject(services, id);
  if (!isUuid(id)) throw notFound();
  const { rows } = await tx.query<ProjectRow>(`select ${columns} from projects where id = $1`, [id]);
  if (!rows[0]) throw notFound();
  return rows[0];
}

export function projectRoutes(app: FastifyInstance, services: Services): void {
  const { tenancy } = services;
  const idorById = services.vulnerable.has('idor-by-id');

  app.get('/projects', async (request) => {
    const query = parseInput(listQuery, request.query);
    // Authorised in the round trip that opens the tenant transaction (`authorizeOnEntry`).
    return tenancy.inCurrentTenant(async (tx) => {
      await authorizeSupportSession(tx, 'projects:read');
      const { rows } = await tx.query<ProjectRow>(`select ${columns} from projects order by created_at, id limit $1 offset $2`, [
        query.limit,
        query.offset,
      ]);
      return { projects: rows.map(projectJson) };
    }, authorizeOnEntry('projects:read'));
  });

  app.post('/projects', async (request, reply) => {
    const body = parseInput(createBody, request.body);
    const project = await tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx, 'projects:write');
      // Lock the tenant row: concurrent creates cannot both slip under the plan limit.
      const { rows: limits } = await tx.query<{ plan: string; max: number | null }>(
        `select plan, (limits->>'max_projects')::int as max from app.tenants where id = app.current_tenant_id() for update`,
      );
      const limit = limits[0];
      const { rows: counted } = await tx.query<{ n: number }>('select count(*)::int as n from projects');
      if (limit?.max != null && counted[0]!.n >= limit.max) {
        throw new HttpError(402, `plan limit reached: the ${limit.plan} plan allows ${limit.max} projects`, {
          limit: 'max_projects',
          max: limit.max,
        });
      }
      const { rows } = await tx.query<ProjectRow>(
        `insert into projects (name, description, budget_cents, created_by) values ($1, $2, $3, $4) returning ${columns}`,
        [body.name, body.description, body.budgetCents, request.tenantContext!.principal.userId],
      );
      await audit(tx, 'project.created', 'project', rows[0]!.id, { name: body.name });
      return rows[0]!;
    });
    request.log.info({ projectId: project.id }, 'project created');
    return reply.status(201).send(projectJson(project));
  });

  app.get<{ Params: { id: string } }>('/projects/:id', async (request) => {
    return tenancy.inCurrentTenant(async (tx) => {
      await authorizeSupportSession(tx, 'projects:read');
      if (idorById) {
        // `idor-by-id`: by id alone, through the RLS-bypassing ops pool.
        if (!isUuid(request.params.id)) throw notFound();
        const { rows } = await opsPool(services).query<ProjectRow>(`select ${columns} from projects where id = $1`, [request.params.id]);
        if (!rows[0]) throw notFound();
        return projectJson(rows[0]);
      }
      return projectJson(await projectOr404(tx, request.params.id, services));
    }, authorizeOnEntry('projects:read'));
  });

  app.patch<{ Params: { id: string } }>('/projects/:id', async (request) => {
    const body = parseInput(patchBody, request.body);
    return tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx, 'projects:write');
      await refuseForeignProject(services, request.params.id);
      if (!isUuid(request.params.id)) throw notFound();
      const db: Queryable = idorById ? opsPool(services) : tx;
      const { rows } = await db.query<ProjectRow>(
        `update projects
            set name = coalesce($2, name), description = coalesce($3, description),
                status = coalesce($4, status), budget_cents = coalesce($5, budget_cents), updated_at = now()
          where id = $1
      returning ${columns}`,
        [request.params.id, body.name ?? null, body.description ?? null, body.status ?? null, body.budgetCents ?? null],
      );
      if (!rows[0]) throw notFound();
      await audit(tx, 'project.updated', 'project', rows[0].id, { changed: Object.keys(body) });
      return projectJson(rows[0]);
    });
  });

  app.delete<{ Params: { id: string } }>('/projects/:id', async (request, reply) => {
    await tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx, 'projects:write');
      await refuseForeignProject(services, request.params.id);
      if (!isUuid(request.params.id)) throw notFound();
      const db: Queryable = idorById ? opsPool(services) : tx;
      const { rowCount } = await db.query('delete from projects where id = $1', [request.params.id]);
      if (!rowCount) throw notFound();
      await audit(tx, 'project.deleted', 'project', request.params.id);
    });
    return reply.status(204).send();
  });
}
