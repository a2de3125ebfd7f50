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
  return inWorldOrder(world, observed.filter((row) => !allowed.has(row.tp_key) && !ownByTarget.has(row.tp_key)).map((row) => row.tp_key));
}

const writeOrder = new WeakMap<StoredWorld, Map<string, number>>();

/**
 * Keys in the world's order — by owning tenant, then as written; rows the world did not write
 * last, by key. Evidence (the victim named, the sample shown) is taken from the first keys, and
 * must not depend on the order a scan happened to return rows in: that follows the heap's free
 * space, which autovacuum changes between two runs of the same seed.
 */
export function inWorldOrder(world: StoredWorld, keys: readonly string[]): string[] {
  if (keys.length < 2) return [...keys];
  let order = writeOrder.get(world);
  if (!order) {
    order = new Map([...world.byKey.keys()].map((k, i) => [k, i]));
    writeOrder.set(world, order);
  }
  const rank = (key: string): [number, number] => {
    const row = world.byKey.get(key);
    return row ? [row.tenant ?? Number.MAX_SAFE_INTEGER, order.get(key)!] : [Infinity, Infinity];
  };
  return [...keys].sort((x, y) => {
    const [tx, ox] = rank(x);
    const [ty, oy] = rank(y);
    return tx - ty || ox - oy || (x < y ? -1 : x > y ? 1 : 0);
  });
}

/** Stable text of a result set, for comparing two observations of the same query. */
export function resultFingerprint(rows: readonly unknown[]): string {
  return rows.map((r) => JSON.stringify(r)).sort().join('\n');
}
