/**
 * The global side of tenant data for tenants whose rows live in their own database: users are
 * global (one login across tenants), and their memberships are listed in the global directory
 * (`tenant_members`) so that login and tenant switching find them. For rls tenants these are
 * plain statements in the tenant transaction; for schema tenants the directory is kept by a
 * trigger. For database tenants there is no cross-database reach: the app writes the global side
 * on the app pool, inside the tenant's transaction callback (so a failure there rolls the tenant
 * transaction back), and mirrors the member's (id, email) into the tenant database.
 */
import type { TenantRef } from '../tenancy/context.ts';
import type { Queryable } from '../tenancy/queryable.ts';
import type { Services } from './services.ts';
import { withGlobalSide } from '../tenancy/global-side.ts';

/** The user with this email (created with `passwordHash` if new), visible in `tx`'s tenant. */
export async function ensureMemberUser(services: Services, tenant: TenantRef, tx: Queryable, email: string, passwordHash: string, mustBeNew = false): Promise<string> {
  const fn = mustBeNew ? 'create_user' : 'ensure_user';
  if (tenant.model !== 'database') {
    const { rows } = await tx.query<{ id: string }>(`select app.${fn}($1, $2) as id`, [email, passwordHash]);
    return rows[0]!.id;
  }
  const { rows } = await services.pool.query<{ id: string }>(`select app.${fn}($1, $2) as id`, [email, passwordHash]);
  const id = rows[0]!.id;
  await tx.query('insert into app.users (id, email) values ($1, $2) on conflict (id) do update set email = excluded.email', [id, email]);
  return id;
}

/** Records (role) or removes (null) a database tenant's membership in the global directory. */
export async function syncDirectory(services: Services, tenant: TenantRef, userId: string, role: string | null): Promise<void> {
  if (tenant.model !== 'database') return;
  await withGlobalSide(services.pool, tenant, async (global) => {
    if (role === null) {
      await global.query('delete from app.tenant_members where user_id = $1', [userId]);
    } else {
      await global.query(
        `insert into app.tenant_members (user_id, role) values ($1, $2) on conflict (tenant_id, user_id) do update set role = excluded.role`,
        [userId, role],
      );
    }
  });
}
