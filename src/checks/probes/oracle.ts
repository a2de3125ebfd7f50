/**
 * Oracles: what a tenant should see or be allowed to do, computed from the world that was written
 * (never from the target's answers). Acting tenants are freshly generated, so every row a tenant
 * may see is one the world wrote for it; anything else it observes crossed a boundary.
 */
import type { StoredRow, StoredWorld } from '../../world/write.ts';

/** The rows of `table` owned by `tenant` (index). */
export function ownRows(world: StoredWorld, table: string, tenant: number): StoredRow[] {
  return (world.rows.get(table) ?? []).filter((r) => r.tenant === tenant);
}

/** Keys `tenant` may see in `table`: exactly its own world rows. */
export function visibleKeys(world: StoredWorld, table: string, tenants: readonly number[]): Set<string> {
  return new Set((world.rows.get(table) ?? []).filter((r) => r.tenant !== null && tenants.includes(r.tenant)).map((r) => r.key));
}

/** Who owns an observed key: a world tenant's id, or a row that existed before (another tenant's). */
export function ownerOf(world: StoredWorld, key: string): string {
  const row = world.byKey.get(key);
  if (row && row.tenant !== null) return world.tenants[row.tenant]!;
  return '(a row that existed before the run)';
}

type ObservedRow = { readonly tp_key: string; readonly tp_tenant?: string | null };

/**
 * Observed rows the world did not write that carry one of `tenants`' ids in the tenant column:
 * made by the target itself during the run (a trigger mirroring a row, say) for those very
 * tenants. Seeing or counting them is no leak.
 */
export function madeByTargetFor(world: StoredWorld, observed: readonly ObservedRow[], tenants: readonly number[]): Set<string> {
  const ids = new Set(tenants.map((t) => world.tenantIds[t]));
  return new Set(observed.filter((row) => !world.byKey.has(row.tp_key) && row.tp_tenant != null && ids.has(row.tp_tenant)).map((row) => row.tp_key));
}

/**
 * Observed rows the oracle says must not be visible: outside the allowed world rows, and not
 * made by the target for an allowed tenant (see madeByTargetFor). World rows are judged by key alone.
 */
export function foreignRows(world: StoredWorld, observed: readonly ObservedRow[], allowed: ReadonlySet<string>, allowedTenants: readonly number[]): string[] {
  const ownByTarget = madeByTargetFor(world, observed, allowedTenants);
  return observed.filter((row) => !allowed.has(row.tp_key) && !ownByTarget.has(row.tp_key)).map((row) => row.tp_key);
}

/** Stable text of a result set, for comparing two observations of the same query. */
export function resultFingerprint(rows: readonly unknown[]): string {
  return rows.map((r) => JSON.stringify(r)).sort().join('\n');
}
