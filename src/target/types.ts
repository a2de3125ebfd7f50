/**
 * A target: a deployment under test — its connection, isolation model and how to enter a tenant
 * context. This is the validated shape; src/target/config.ts parses CLI flags and config
 * files into it (zod, one-line errors naming the bad field).
 */
import type { ContextConfig } from './contexts.ts';

/** The isolation models tenantproof verifies; each is one module of src/models (see models/index.ts). */
export type IsolationModelName = 'rls' | 'schema' | 'database';
export const isolationModelNames: readonly IsolationModelName[] = ['rls', 'schema', 'database'];

export interface TargetConfig {
  /** A role allowed to create rows and `SET ROLE` to the app role; everything it does is rolled back. */
  readonly databaseUrl: string;
  readonly model: IsolationModelName;
  /** rls (and schema with a shared role): the role the application connects as / SETs. */
  readonly appRole: string;
  /** The table listing tenants, and the tenant column of tenant-scoped tables. */
  readonly tenantTable: string;
  readonly tenantColumn: string;
  /** rls: the setting that carries the tenant id, set with set_config(name, id, true). */
  readonly tenantSetting: string;
  /** schema model: LIKE pattern of tenant schema names. */
  readonly schemaPattern: string;
  /** database model: LIKE pattern of tenant database names. */
  readonly databasePattern: string;
  /** schema/database models: per-tenant role name template; `{tenant}` is the schema/database name. */
  readonly tenantRole: string | null;
  /** rls: only these schemas hold tenant tables (a hybrid deployment's shared schema); absent = every schema. */
  readonly schemas?: readonly string[] | null;
  /**
   * rls: how a principal enters (a preset or templates, users and memberships: target/contexts.ts);
   * absent = the principal is its tenant, entered as the app role with the tenant setting.
   */
  readonly context?: ContextConfig | null;
}

export const targetDefaults = {
  appRole: 'app_user',
  tenantTable: 'tenants',
  tenantColumn: 'tenant_id',
  tenantSetting: 'app.current_tenant',
  schemaPattern: 'tenant_%',
  databasePattern: 'tenant_%',
  tenantRole: null,
} as const satisfies Partial<TargetConfig>;
