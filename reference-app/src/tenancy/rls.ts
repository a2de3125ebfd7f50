/**
 * The `rls` isolation model: one database, shared tables, forced RLS. A tenant context is one
 * transaction on a pooled connection with `app.current_tenant` set transaction-locally (sent with
 * BEGIN in one round trip; the id is checked to be a UUID before it is written as a literal,
 * `transaction.ts`) — it ends with the transaction, so the next user of the connection starts
 * with no tenant (and sees nothing).
 */
import type pg from 'pg';
import type { TenantRef } from './context.ts';
import { TenantMovedError, tenantMoveLockClass, type TenancyModel } from './model.ts';
import type { IsolationModel } from './context.ts';
import type { Queryable } from './queryable.ts';
import { enterAlso, inPooledTransaction, type EnterTenant, textLiteral, uuidLiteral } from './transaction.ts';
import { quoteIdent as q } from '../database/sql.ts';

export interface RlsOptions {
  /** `session-level-context` vulnerability: set_config(..., false), which outlives the transaction. */
  readonly sessionLevelContext?: boolean;
  /** Per-transaction statement timeout, so one tenant's slow query cannot hold a pooled connection for long. */
  readonly statementTimeoutMs?: number;
  /** The shared schema holding the tenant tables (default `app`). */
  readonly schema?: string;
  /** Where a tenant's transactions get their connection (its share of `pool`: `pool-share.ts`); default `pool`. */
  readonly connectionsFor?: (tenantId: string) => Pick<pg.Pool, 'connect'>;
}

export function rlsModel(pool: pg.Pool, options: RlsOptions = {}): TenancyModel {
  const schema = options.schema ?? 'app';
  const timeout = textLiteral(`${options.statementTimeoutMs ?? 5000}ms`);
  const searchPath = textLiteral(q(schema));
  return {
    name: 'rls',
    async withTenant<T>(tenant: TenantRef, fn: (tx: Queryable) => Promise<T>, also?: EnterTenant): Promise<T> {
      const id = uuidLiteral(tenant.id); // refuses anything but a UUID
      const idText = textLiteral(tenant.id);
      return inPooledTransaction(
        options.connectionsFor?.(tenant.id) ?? pool,
        enterAlso(
          {
            // Sent with BEGIN in one round trip. `true` makes the setting transaction-local.
            // The move lock (shared) is taken in its own statement, so that the next statement's
            // snapshot — which checks where the tenant lives — is taken after a concurrent move committed.
            statements: [
              options.sessionLevelContext
                ? `select set_config('app.current_tenant', ${idText}, false), pg_advisory_xact_lock_shared(${tenantMoveLockClass}, hashtext(${idText}))` // the `session-level-context` vulnerability
                : `select set_config('app.current_tenant', ${idText}, true), pg_advisory_xact_lock_shared(${tenantMoveLockClass}, hashtext(${idText}))`,
              // Tenant tables are named unqualified by the routes: here they resolve to the shared schema.
              `select set_config('statement_timeout', ${timeout}, true), set_config('search_path', ${searchPath}, true),
                      (select t.model from ${q(schema)}.tenants t where t.id = ${id}) as model`,
            ],
            // A move of this tenant to another model held the lock exclusively: make sure the tenant
            // still lives here (a request dispatched before the move is refused with a retry, never
            // written into the old place).
            check: (results) => {
              const model = (results[1]?.rows[0] as { model?: string | null } | undefined)?.model;
              if (model && model !== 'rls') throw new TenantMovedError(tenant.id, model as IsolationModel);
            },
          },
          also,
        ),
        fn,
      );
    },
  };
}
