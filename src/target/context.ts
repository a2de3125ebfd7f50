/**
 * Tenant contexts: the state that makes a session act as one tenant, per isolation model.
 *
 * - rls: `SET LOCAL ROLE <app role>` + `set_config(<tenant setting>, <id>, true)`.
 * - schema: `SET LOCAL ROLE <tenant role from template, or app role>` + `SET LOCAL search_path`.
 * - database: `SET LOCAL ROLE <tenant role from template>` inside a connection to a tenant database.
 *
 * Everything is transaction-local: entering happens inside a savepoint that the probe rolls back,
 * so leaving a context is rolling back to the savepoint.
 */
import { quoteIdent, quoteLiteral } from './connection.ts';
import type { TargetConfig } from './types.ts';

/** What a probe acts as: a tenant, or a raw (possibly malformed or missing) context value. */
export type TenantContext =
  | { readonly kind: 'tenant'; readonly tenant: string }
  /** rls only: the setting is set to `value` verbatim, or left unset when `value` is null. */
  | { readonly kind: 'raw'; readonly value: string | null };

/** The per-tenant role for a schema/database name, from the `{tenant}` template. */
export function tenantRoleFor(target: TargetConfig, tenant: string): string {
  return target.tenantRole ? target.tenantRole.replaceAll('{tenant}', tenant) : target.appRole;
}

/** SQL (simple protocol, several statements) that enters `context` for the current transaction. */
export function enterTenantSql(target: TargetConfig, context: TenantContext): string {
  switch (target.model) {
    case 'rls': {
      const role = `set local role ${quoteIdent(target.appRole)}`;
      const value = context.kind === 'tenant' ? context.tenant : context.value;
      // "No context": the setting back at its default for this transaction (RESET is transactional).
      if (value === null) return `${role}; set local ${settingIdent(target.tenantSetting)} to default`;
      return `${role}; select set_config(${quoteLiteral(target.tenantSetting)}, ${quoteLiteral(value)}, true)`;
    }
    case 'schema': {
      if (context.kind === 'raw') return `set local role ${quoteIdent(target.tenantRole ? target.appRole : target.appRole)}`;
      const role = tenantRoleFor(target, context.tenant);
      return `set local role ${quoteIdent(role)}; set local search_path = ${quoteIdent(context.tenant)}`;
    }
    case 'database': {
      const role = context.kind === 'tenant' ? tenantRoleFor(target, context.tenant) : target.appRole;
      return `set local role ${quoteIdent(role)}`;
    }
  }
}

/** A (dotted) setting name as an identifier for SET. */
function settingIdent(name: string): string {
  return name.split('.').map(quoteIdent).join('.');
}

/** SQL that sets the tenant setting (only) for writing world rows as the connecting role. */
export function tenantSettingSql(target: TargetConfig, tenant: string): string {
  return `select set_config(${quoteLiteral(target.tenantSetting)}, ${quoteLiteral(tenant)}, true)`;
}
