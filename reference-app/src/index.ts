/**
 * The reference app's entry point: suites import this file, never deep paths.
 *
 * A multi-tenant B2B API (Fastify + pg) serving tenants of three isolation models at once (hybrid):
 * `rls` (shared tables, forced RLS), `schema` (a schema and a role per tenant) and `database` (a
 * database and a login role per tenant); a tenant's model is a property of its registry row.
 * The app's login role owns nothing; the tenant context is set per transaction. It can be started with
 * named vulnerabilities (vulnerabilities.ts) so every isolation check has a red case.
 */
export { startReferenceApp, InvalidOptionsError, defaultPlanModels, type ReferenceApp, type ReferenceAppOptions, type PoolStats } from './app.ts';
export {
  migrateReferenceDatabase,
  dropReferenceRoles,
  referenceRoles,
  appSchema,
  type ReferenceDatabase,
  type ReferenceRoles,
} from './database/provision.ts';
export { tenantTableNames, tenantTablesDdl } from './database/tenant-tables.ts';
export { TenantCache, type TenantCacheOptions, type TenantCacheStats, type ResponseCache } from './cache/tenant-cache.ts';
export { RedisTenantCache, connectRedis, type RedisCacheOptions } from './cache/redis-store.ts';
export { UsageMeter, UsageLimitError, type MetricUsage, type UsageReport } from './metering/usage-meter.ts';
export { PoolShare, type PoolShareOptions, type TenantShareStats } from './tenancy/pool-share.ts';
export { portfolioReportSql } from './http/routes/reports.ts';
export { JobQueue, JobTenantGoneError, type JobTask, type JobRun, type JobHandler, type JobQueueStats } from './jobs/queue.ts';
export type { ProjectsSummary } from './jobs/export-projects.ts';
export { vulnerabilities, vulnerabilityNames, parseVulnerabilities, UnknownVulnerabilityError, type VulnerabilityName } from './vulnerabilities.ts';
export { permissions, seedRoles, plans, planFeatures, features, meteredMetrics, upgradeOf, type Permission, type PlanName, type Feature, type MeteredMetric } from './auth/permissions.ts';
export { tokenIssuer, tokenAudience, supportTokenAudience, maxSupportSessionSeconds } from './auth/tokens.ts';
export type { IsolationModel, TenantRef, Principal, TenantContext } from './tenancy/context.ts';
export { runInTenantContext, currentTenantContext, NoTenantContextError } from './tenancy/context.ts';
export { Tenancy, UnsupportedIsolationModelError, type TenancyModel } from './tenancy/model.ts';
export { rlsModel, type RlsOptions } from './tenancy/rls.ts';
export type { Queryable } from './tenancy/queryable.ts';
export { schemaModel, type SchemaModelOptions } from './tenancy/schema.ts';
export { databaseModel, type DatabaseModelOptions } from './tenancy/database.ts';
export { TenantPools, type TenantPoolOptions, type TenantPoolStats } from './tenancy/tenant-pools.ts';
export { TenantControl } from './control/tenants.ts';
export { MoveTenantError, type MoveReport, type MoveHooks } from './control/move.ts';
export { TenantMovedError } from './tenancy/model.ts';
export {
  tenantKey,
  tenantSchemaName,
  tenantSchemaRole,
  tenantDatabaseName,
  tenantObjectPatterns,
  InvalidTenantIdError,
  type TenantObjectPatterns,
} from './database/naming.ts';
export { appMembershipGrant, tenantSchemaDdl, provisionTenantSchema, dropTenantSchema, type SchemaTenantPlacement } from './database/tenant-schemas.ts';
export { templateDdl, tenantDatabaseGrants, tenantDatabaseSchema, type DatabaseTenantPlacement } from './database/tenant-databases.ts';
export {
  migrateAllTenants,
  migrateTarget,
  listTenantMigrationTargets,
  tenantMigrations,
  TenantMigrationError,
  type TenantMigration,
  type TenantMigrationReport,
  type TargetReport,
} from './database/tenant-migrations.ts';
