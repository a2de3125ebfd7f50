import { currentTenantContext } from '../tenancy/context.ts';
import type { Queryable } from '../tenancy/queryable.ts';

/** Appends one audit row for a write, in the write's own transaction (same fate as the write). */
export async function audit(
  tx: Queryable,
  action: string,
  entity: string,
  entityId: string | null,
  details: Record<string, unknown> = {},
  actorId: string = currentTenantContext().principal.userId,
): Promise<void> {
  await tx.query('insert into audit_log (actor_id, action, entity, entity_id, details) values ($1, $2, $3, $4, $5)', [
    actorId,
    action,
    entity,
    entityId,
    JSON.stringify(details),
  ]);
}
