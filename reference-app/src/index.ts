/**
 * The reference app's entry point: suites import this file, never deep paths.
 *
 * A multi-tenant B2B API (Fastify + pg) on the `rls` isolation model: shared tables, forced RLS,
 * a login role that owns nothing, the tenant context set per transaction. It can be started with
 * named vulnerabilities (vulnerabilities.ts) so every isolation check has a red case.
 */
export { startReferenceApp, InvalidOptionsError, type ReferenceApp, type ReferenceAppOptions, type PoolStats } from './app.ts';
export {
  migrateReferenceDatabase,
  dropReferenceRoles,
  referenceRoles,
  appSchema,
  type ReferenceDatabase,
  type ReferenceRoles,
} from './database/provision.ts';
export { tenantTableNames, tenantTablesDdl } from './database/tenant-tables.ts';
export { vulnerabilities, vulnerabilityNames, parseVulnerabilities, UnknownVulnerabilityError, type VulnerabilityName } from './vulnerabilities.ts';
export { permissions, seedRoles, plans, type Permission, type PlanName } from './auth/permissions.ts';
export { tokenIssuer, tokenAudience } from './auth/tokens.ts';
export type { IsolationModel, TenantRef, Principal, TenantContext } from './tenancy/context.ts';
export { runInTenantContext, currentTenantContext, NoTenantContextError } from './tenancy/context.ts';
export { Tenancy, UnsupportedIsolationModelError, type TenancyModel } from './tenancy/model.ts';
export { rlsModel, type RlsOptions } from './tenancy/rls.ts';
export type { Queryable } from './tenancy/queryable.ts';
