/**
 * Tenant contexts: the state that makes a session act as one tenant. This module has the
 * primitives a context is made of — a role, a setting, a search_path — each transaction-local;
 * each isolation model (src/models) composes them into `enterTenantSql`.
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

/** The one per-tenant role of a schema/database name: the `{tenant}` template, or the app role without one. */
export function tenantRoleFor(target: TargetConfig, tenant: string): string {
  return target.tenantRole ? target.tenantRole.replaceAll('{tenant}', tenant) : target.appRole;
}

/** `SET LOCAL ROLE` to `role`. */
export function setRoleSql(role: string): string {
  return `set local role ${quoteIdent(role)}`;
}

/** The setting set to `value` for this transaction, or back at its default when `value` is null. */
export function setSettingSql(name: string, value: string | null): string {
  // RESET is transactional: "no context" is the setting at its default for this transaction.
  if (value === null) return `set local ${name.split('.').map(quoteIdent).join('.')} to default`;
  return `select set_config(${quoteLiteral(name)}, ${quoteLiteral(value)}, true)`;
}

/** `SET LOCAL search_path` to one schema. */
export function searchPathSql(schema: string): string {
  return `set local search_path = ${quoteIdent(schema)}`;
}

/** SQL that sets the tenant setting (only) for writing world rows as the connecting role. */
export function tenantSettingSql(target: TargetConfig, tenant: string): string {
  return setSettingSql(target.tenantSetting, tenant);
}
