/**
 * RBAC: a principal's role (in the active tenant) grants permissions, which are rows of that
 * tenant's `role_permissions`. Checked inside the request's tenant transaction.
 */
import type { Permission } from '../auth/permissions.ts';
import { currentTenantContext } from '../tenancy/context.ts';
import type { Queryable } from '../tenancy/queryable.ts';
import { HttpError } from './errors.ts';

export async function authorize(tx: Queryable, permission: Permission): Promise<void> {
  const { principal } = currentTenantContext();
  // Scoped explicitly as well as by RLS: authorisation must hold even where RLS is misconfigured.
  const { rows } = await tx.query<{ status: string; allowed: boolean }>(
    `select t.status,
            exists (select 1
                      from app.role_permissions rp
                      join app.roles r on r.tenant_id = rp.tenant_id and r.id = rp.role_id
                     where rp.tenant_id = t.id and r.name = $1 and rp.permission = $2) as allowed
       from app.tenants t
      where t.id = app.current_tenant_id()`,
    [principal.role, permission],
  );
  const row = rows[0];
  if (!row) throw new HttpError(401, 'the tenant of this token no longer exists');
  if (row.status !== 'active') throw new HttpError(403, `tenant is ${row.status}`);
  if (!row.allowed) throw new HttpError(403, `forbidden: role "${principal.role}" lacks ${permission}`, { missing: permission });
}
