/**
 * The `schema` isolation model: each tenant's tables live in its own schema. A tenant context is
 * one transaction on a pooled connection of the app's login role that, before anything else,
 * sets — transaction-locally — the tenant's role (USAGE on its own schema only), the
 * `search_path` to that schema and the tenant context setting (for the tenant's registry row).
 * A fully qualified `other_tenant.projects` is refused by PostgreSQL itself (42501): the role has
 * no USAGE there. When the transaction ends, role and search_path revert with it.
 */
import type pg from 'pg';
import type { TenantRef } from './context.ts';
import type { TenancyModel } from './model.ts';
import type { Queryable } from './queryable.ts';
import { enterAlso, inPooledTransaction, type EnterTenant, textLiteral, uuidLiteral } from './transaction.ts';
import { quoteIdent as q } from '../database/sql.ts';

export interface SchemaModelOptions {
  /** Schema and role of a tenant (derived from its id: `database/naming.ts`). */
  readonly placementOf: (tenant: TenantRef) => { readonly schema: string; readonly role: string };
  /** The `search-path-session` vulnerability: SET search_path / SET ROLE at session level on pooled connections. */
  readonly sessionLevelSearchPath?: boolean;
  readonly statementTimeoutMs?: number;
  /** Where a tenant's transactions get their connection (its share of `pool`: `pool-share.ts`); default `pool`. */
  readonly connectionsFor?: (tenantId: string) => Pick<pg.Pool, 'connect'>;
}

export function schemaModel(pool: pg.Pool, options: SchemaModelOptions): TenancyModel {
  const timeout = textLiteral(`${options.statementTimeoutMs ?? 5000}ms`);
  const local = !options.sessionLevelSearchPath;
  return {
    name: 'schema',
    async withTenant<T>(tenant: TenantRef, fn: (tx: Queryable) => Promise<T>, also?: EnterTenant): Promise<T> {
      const { schema, role } = options.placementOf(tenant);
      return inPooledTransaction(
        options.connectionsFor?.(tenant.id) ?? pool,
        enterAlso(
          {
            // With BEGIN in one round trip. Role names cannot be bind parameters (nor literals):
            // quoted identifiers, derived from the tenant id only.
            statements: [
              local ? `set local role ${q(role)}` : `set role ${q(role)}`,
              `select set_config('search_path', ${textLiteral(q(schema))}, ${local ? 'true' : 'false'}), set_config('app.current_tenant', ${uuidLiteral(tenant.id)}::text, true), set_config('statement_timeout', ${timeout}, true)`,
            ],
          },
          also,
        ),
        fn,
      );
    },
  };
}
