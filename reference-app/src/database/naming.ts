/**
 * Names of per-tenant objects (schemas, databases, roles). They are derived from the tenant's id
 * (a uuid the server generated), never from its slug or any other client input, and checked
 * against a strict pattern before they reach DDL — where they are still quoted (`quoteIdent`,
 * `format('%I')`). The patterns are predictable so that `tenantproof verify --schema-pattern /
 * --database-pattern / --tenant-role` can be pointed at each model.
 */
export class InvalidTenantIdError extends Error {
  override readonly name = 'InvalidTenantIdError';
  constructor(readonly tenantId: string) {
    super(`not a tenant id (uuid expected): ${JSON.stringify(tenantId)}`);
  }
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The 32 hex digits of a tenant id: the only tenant-specific part of any object name. */
export function tenantKey(tenantId: string): string {
  const id = tenantId.toLowerCase();
  if (!uuidPattern.test(id)) throw new InvalidTenantIdError(tenantId);
  return id.replaceAll('-', '');
}

/** Prefix of cluster-wide names (roles, databases) for the deployment on database `database`: fits 63 bytes. */
export function deploymentPrefix(database: string): string {
  const prefix = database.slice(0, 23);
  if (!/^[a-z0-9_]+$/.test(prefix)) throw new Error(`database name ${JSON.stringify(database)} is not usable as a prefix of role names (a-z, 0-9, _ expected)`);
  return prefix;
}

/** `tenant_<hex>`: the schema of a schema-model tenant. */
export function tenantSchemaName(tenantId: string): string {
  return `tenant_${tenantKey(tenantId)}`;
}

/** `<db>_tenant_<hex>`: the NOLOGIN role a schema-model tenant's transactions run as. */
export function tenantSchemaRole(database: string, tenantId: string): string {
  return `${deploymentPrefix(database)}_${tenantSchemaName(tenantId)}`;
}

/** `<db>_t_<hex>`: the database of a database-model tenant; its LOGIN role has the same name. */
export function tenantDatabaseName(database: string, tenantId: string): string {
  return `${deploymentPrefix(database)}_t_${tenantKey(tenantId)}`;
}

/** Where tenantproof verify should look, per model (LIKE patterns and a `{tenant}` role template). */
export interface TenantObjectPatterns {
  /** LIKE pattern of tenant schemas (schema model). */
  readonly schemaPattern: string;
  /** Role of a schema-model tenant; `{tenant}` is its schema name. */
  readonly schemaRoleTemplate: string;
  /** LIKE pattern of tenant databases (database model). */
  readonly databasePattern: string;
  /** Login role of a database-model tenant; `{tenant}` is its database name. */
  readonly databaseRoleTemplate: string;
  /** The template database every tenant database is created from. */
  readonly templateDatabase: string;
}

export function tenantObjectPatterns(database: string): TenantObjectPatterns {
  const prefix = deploymentPrefix(database);
  const like = prefix.replaceAll('_', '\\_');
  return {
    schemaPattern: 'tenant\\_%',
    schemaRoleTemplate: `${prefix}_{tenant}`,
    databasePattern: `${like}\\_t\\_%`,
    databaseRoleTemplate: '{tenant}',
    templateDatabase: `${prefix}_template`,
  };
}
