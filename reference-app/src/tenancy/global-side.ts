/**
 * The global side of a tenant: its registry row and directory entries in the shared database,
 * written on the app pool with the tenant context set (forced RLS keeps the statement to that
 * tenant's rows) — whatever the tenant's own model. Not a tenant context for tenant tables.
 */
import type pg from 'pg';
import type { TenantRef } from './context.ts';
import type { Queryable } from './queryable.ts';
import { inPooledTransaction, uuidLiteral } from './transaction.ts';

export async function withGlobalSide<T>(pool: pg.Pool, tenant: Pick<TenantRef, 'id'>, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  return inPooledTransaction(
    pool,
    { statements: [`select set_config('app.current_tenant', ${uuidLiteral(tenant.id)}::text, true), set_config('search_path', 'app', true)`] },
    fn,
  );
}
