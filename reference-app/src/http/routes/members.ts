/** Members of the caller's tenant and their per-tenant roles (members:manage). */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { hashPassword } from '../../auth/passwords.ts';
import type { Queryable } from '../../tenancy/queryable.ts';
import { audit } from '../audit.ts';
import { authorize, revokeTokens } from '../authorize.ts';
import { HttpError, notFound, parseInput } from '../errors.ts';
import { email, isUuid, password } from '../input.ts';
import type { Services } from '../services.ts';
import { ensureMemberUser, syncDirectory } from '../directory.ts';
import { currentTenantContext } from '../../tenancy/context.ts';

const roleName = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'must be a role name');
const addMember = z.object({ email, role: roleName, password: password.optional() }).strict();
const changeRole = z.object({ role: roleName }).strict();

async function roleId(tx: Queryable, role: string): Promise<string> {
  const { rows } = await tx.query<{ id: string }>('select id from roles where name = $1', [role]);
  if (!rows[0]) throw new HttpError(400, `unknown role "${role}" in this tenant`, { field: 'role' });
  return rows[0].id;
}

/** Refuses a change that would leave the tenant without an admin. */
async function keepAnAdmin(tx: Queryable, leavingUserId: string): Promise<void> {
  const { rows } = await tx.query<{ others: number }>(
    `select count(*)::int as others from memberships m join roles r on r.tenant_id = m.tenant_id and r.id = m.role_id
      where r.name = 'admin' and m.user_id <> $1`,
    [leavingUserId],
  );
  if (rows[0]!.others === 0) throw new HttpError(409, 'a tenant must keep at least one admin');
}

export function memberRoutes(app: FastifyInstance, services: Services): void {
  const { tenancy } = services;

  app.get('/members', async () =>
    tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx, 'members:manage');
      const { rows } = await tx.query(
        `select m.user_id as "userId", u.email, r.name as role, m.created_at as "joinedAt"
           from memberships m
           join app.users u on u.id = m.user_id
           join roles r on r.tenant_id = m.tenant_id and r.id = m.role_id
          order by m.created_at, u.email`,
      );
      return { members: rows };
    }),
  );

  /** Adds a user (created if the email is new, with `password`) with a role in this tenant. */
  app.post('/members', async (request, reply) => {
    const body = parseInput(addMember, request.body);
    const passwordHash = await hashPassword(body.password ?? randomBytes(24).toString('base64url'));
    const member = await tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx, 'members:manage');
      const role = await roleId(tx, body.role);
      const { rows: limit } = await tx.query<{ max: number | null; plan: string }>(
        `select plan, (limits->>'max_members')::int as max from app.tenants where id = app.current_tenant_id() for update`,
      );
      const { rows: counted } = await tx.query<{ n: number }>('select count(*)::int as n from memberships');
      if (limit[0]?.max != null && counted[0]!.n >= limit[0].max) {
        throw new HttpError(402, `plan limit reached: the ${limit[0].plan} plan allows ${limit[0].max} members`, { limit: 'max_members', max: limit[0].max });
      }
      const userId = await ensureMemberUser(services, currentTenantContext().tenant, tx, body.email, passwordHash);
      await tx.query('insert into memberships (user_id, role_id) values ($1, $2)', [userId, role]);
      await syncDirectory(services, currentTenantContext().tenant, userId, body.role);
      await audit(tx, 'member.added', 'membership', userId, { role: body.role });
      return { userId, email: body.email, role: body.role };
    });
    return reply.status(201).send(member);
  });

  app.patch<{ Params: { userId: string } }>('/members/:userId', async (request) => {
    const body = parseInput(changeRole, request.body);
    return tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx, 'members:manage');
      if (!isUuid(request.params.userId)) throw notFound();
      const role = await roleId(tx, body.role);
      if (body.role !== 'admin') await keepAnAdmin(tx, request.params.userId);
      const { rowCount } = await tx.query('update memberships set role_id = $2 where user_id = $1', [request.params.userId, role]);
      if (!rowCount) throw notFound();
      await syncDirectory(services, currentTenantContext().tenant, request.params.userId, body.role);
      await revokeTokens(tx, request.params.userId);
      await audit(tx, 'member.role-changed', 'membership', request.params.userId, { role: body.role });
      return { userId: request.params.userId, role: body.role };
    });
  });

  app.delete<{ Params: { userId: string } }>('/members/:userId', async (request, reply) => {
    await tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx, 'members:manage');
      if (!isUuid(request.params.userId)) throw notFound();
      await keepAnAdmin(tx, request.params.userId);
      const { rowCount } = await tx.query('delete from memberships where user_id = $1', [request.params.userId]);
      if (!rowCount) throw notFound();
      await syncDirectory(services, currentTenantContext().tenant, request.params.userId, null);
      await revokeTokens(tx, request.params.userId);
      await audit(tx, 'member.removed', 'membership', request.params.userId);
    });
    return reply.status(204).send();
  });
}
