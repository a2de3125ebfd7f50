/**
 * RBAC: a principal's role (in the active tenant) grants permissions, which are rows of that
 * tenant's `role_permissions`. Checked inside the request's tenant transaction, together with
 * the tenant's status and the token revocations of the principal there (set when a member is
 * removed or changes role, so a stale token stops working at once).
 */
export async function revokeTokens(tx: Queryable, userId: string, atMs: number = Date.now()): Promise<void> {
  await tx.query(
    `insert into token_revocations (user_id, revoked_at) values ($1, to_timestamp($2::float8 / 1000))
     on conflict (tenant_id, user_id) do update set revoked_at = excluded.revoked_at`,
    [userId, atMs],
  );
}
import type { Permission } from '../auth/permissions.ts';
import { currentTenantContext, type Principal } from '../tenancy/context.ts';
import type { Queryable } from '../tenancy/queryable.ts';
import { HttpError } from './errors.ts';
import { textLiteral, uuidLiteral, type EnterTenant } from '../tenancy/transaction.ts';

/**
 * What a platform support agent may do inside a tenant during a support session: read, never
 * write. Every request of a session is written into the tenant's own audit log (`authorize`).
 */
export const supportPermissions: readonly Permission[] = ['projects:read', 'billing:read'];

/** Refuses the request unless the tenant is active, the token not revoked and (if given) the role has `permission`. */
export async function authorize(tx: Queryable, permission?: Permission): Promise<void> {
  const { principal } = currentTenantContext();
  if (principal.via === 'support') return authorizeSupport(tx, principal.userId, principal.supportSession, permission);
  const { rows } = await tx.query<AuthorizationRow>(authorizationSql('$1', '$2', '$3', '$4'), [principal.role, permission ?? null, principal.userId, principal.tokenIssuedAtMs]);
  refuseUnlessAuthorized(rows[0], principal, permission);
}

interface AuthorizationRow {
  status: string;
  allowed: boolean;
  revoked: boolean;
}

// Scoped explicitly as well as by RLS: authorisation must hold even where RLS is misconfigured.
function authorizationSql(role: string, permission: string, userId: string, issuedAtMs: string): string {
  return `select t.status,
            exists (select 1
                      from role_permissions rp
                      join roles r on r.tenant_id = rp.tenant_id and r.id = rp.role_id
                     where rp.tenant_id = t.id and r.name = ${role} and rp.permission = ${permission}) as allowed,
            exists (select 1 from token_revocations tr
                     where tr.tenant_id = t.id and tr.user_id = ${userId} and tr.revoked_at >= to_timestamp(${issuedAtMs}::float8 / 1000)) as revoked
       from app.tenants t
      where t.id = app.current_tenant_id()`;
}

function refuseUnlessAuthorized(row: AuthorizationRow | undefined, principal: Principal, permission: Permission | undefined): void {
  if (!row) throw new HttpError(401, 'the tenant of this token no longer exists');
  if (row.revoked) throw new HttpError(401, 'this token was revoked: sign in again');
  if (row.status !== 'active') throw new HttpError(403, `tenant is ${row.status}`);
  if (permission && !row.allowed) throw new HttpError(403, `forbidden: role "${principal.role}" lacks ${permission}`, { missing: permission });
}

/**
 * `authorize(tx, permission)` as a statement sent with BEGIN and the tenant context, in the same
 * round trip (read routes: `tenancy.inCurrentTenant(fn, authorizeOnEntry(permission))`). The same
 * query and the same refusals; it runs after the tenant context is set, inside the transaction.
 * Support sessions write an audit entry: they keep `authorize` (undefined here).
 */
export function authorizeOnEntry(permission: Permission): EnterTenant | undefined {
  const { principal } = currentTenantContext();
  if (principal.via === 'support') return undefined;
  const issuedAt = Number(principal.tokenIssuedAtMs);
  if (!Number.isFinite(issuedAt)) throw new HttpError(401, 'token issue time is malformed');
  return {
    statements: [authorizationSql(textLiteral(principal.role), textLiteral(permission), uuidLiteral(principal.userId), String(issuedAt))],
    check: ([result]) => refuseUnlessAuthorized(result?.rows[0] as AuthorizationRow | undefined, principal, permission),
  };
}

/** For routes that entered with `authorizeOnEntry`: support sessions, which it leaves out, are authorized (and audited) here. */
export async function authorizeSupportSession(tx: Queryable, permission: Permission): Promise<void> {
  if (currentTenantContext().principal.via === 'support') await authorize(tx, permission);
}

async function authorizeSupport(tx: Queryable, agentId: string, session: Principal['supportSession'], permission: Permission | undefined): Promise<void> {
  const { rows } = await tx.query<{ status: string }>('select t.status from app.tenants t where t.id = app.current_tenant_id()');
  if (!rows[0]) throw new HttpError(401, 'the tenant of this support session no longer exists');
  if (permission && !supportPermissions.includes(permission)) {
    throw new HttpError(403, `forbidden: support sessions are read-only (${permission} is not allowed)`, { missing: permission });
  }
  if (session && !session.audited) return; // the `support-access-unaudited` vulnerability
  // In the request's own tenant transaction: the entry commits with what the agent read.
  await tx.query('insert into audit_log (actor_id, action, entity, entity_id, details) values ($1, $2, $3, $4, $5)', [
    agentId,
    'support.request',
    'support_session',
    session?.id ?? null,
    JSON.stringify({ permission: permission ?? null }),
  ]);
}
