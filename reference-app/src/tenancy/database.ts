/**
 * The `database` isolation model: each tenant has its own database and login role. A tenant
 * context is one transaction on a connection of that tenant's pool (bounded LRU of pools,
 * `tenant-pools.ts`), with the tenant context, search_path and statement timeout set
 * transaction-locally. The tenant's role can connect to no other tenant's database.
 */
import type { TenantRef } from './context.ts';
import type { TenancyModel } from './model.ts';
import type { Queryable } from './queryable.ts';
import type { TenantPools } from './tenant-pools.ts';
import { enterAlso, inPooledTransaction, type EnterTenant, textLiteral, uuidLiteral } from './transaction.ts';
import { quoteIdent as q } from '../database/sql.ts';

export interface DatabaseModelOptions {
  /** The pool key (database name) of a tenant. */
  readonly databaseOf: (tenant: TenantRef) => string;
  readonly schema: string;
  readonly statementTimeoutMs?: number;
}

export function databaseModel(pools: TenantPools, options: DatabaseModelOptions): TenancyModel {
  const timeout = textLiteral(`${options.statementTimeoutMs ?? 5000}ms`);
  return {
    name: 'database',
    async withTenant<T>(tenant: TenantRef, fn: (tx: Queryable) => Promise<T>, also?: EnterTenant): Promise<T> {
      return inPooledTransaction(
        pools.poolFor(options.databaseOf(tenant)),
        enterAlso(
          {
            statements: [
              `select set_config('app.current_tenant', ${uuidLiteral(tenant.id)}::text, true), set_config('search_path', ${textLiteral(q(options.schema))}, true), set_config('statement_timeout', ${timeout}, true)`,
            ],
          },
          also,
        ),
        fn,
      );
    },
  };
}
