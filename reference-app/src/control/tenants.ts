/**
 * The control plane: creating and removing a tenant's home in its isolation model. It runs on
 * the admin connection (roles, schemas and databases cannot be created by the app's login role,
 * which is the point), never inside a request's tenant transaction.
 */
import pg from 'pg';
import type { IsolationModel, TenantRef } from '../tenancy/context.ts';
import type { ReferenceDatabase } from '../database/provision.ts';
import { dropTenantSchema, provisionTenantSchema, schemaPlacement, type SchemaProvisioningOptions, type SchemaTenantPlacement } from '../database/tenant-schemas.ts';
import type { VulnerabilityName } from '../vulnerabilities.ts';

export class TenantControl {
  private readonly admin: pg.Pool;

  constructor(
    private readonly database: ReferenceDatabase,
    private readonly vulnerable: ReadonlySet<VulnerabilityName>,
  ) {
    this.admin = new pg.Pool({ connectionString: database.adminUrl, max: 2, application_name: 'tenantproof-reference-control' });
    this.admin.on('error', () => undefined);
  }

  /** The shared role of the `schema-shared-role` vulnerability. */
  get sharedSchemaRole(): string | undefined {
    return this.vulnerable.has('schema-shared-role') ? `${this.database.roles.tenantBase}_shared` : undefined;
  }

  private schemaOptions(tenant: Pick<TenantRef, 'slug'>): SchemaProvisioningOptions {
    return {
      ...(this.sharedSchemaRole ? { sharedRole: this.sharedSchemaRole } : {}),
      ...(this.vulnerable.has('schema-name-injection') ? { schemaFromSlug: tenant.slug } : {}),
    };
  }

  /** Schema and role of a schema-model tenant. */
  schemaPlacement(tenant: Pick<TenantRef, 'id' | 'slug'>): SchemaTenantPlacement {
    return schemaPlacement(this.database.database, tenant.id, this.schemaOptions(tenant));
  }

  /** Creates the tenant's home before its registry row is written (a no-op for `rls`). */
  async provision(tenant: TenantRef): Promise<void> {
    if (tenant.model === 'rls') return;
    if (tenant.model === 'schema') {
      await this.withAdmin((c) =>
        provisionTenantSchema(c, { database: this.database.database, tenantId: tenant.id, roles: this.database.roles, appSchema: this.database.schema }, this.schemaOptions(tenant)),
      );
      return;
    }
    throw new Error(`provisioning of model ${tenant.model} is not implemented`);
  }

  /** Removes the tenant's home (schema and role / database and role). Idempotent. */
  async teardown(tenant: TenantRef): Promise<void> {
    if (tenant.model === 'rls') return;
    if (tenant.model === 'schema') {
      await this.withAdmin((c) => dropTenantSchema(c, this.schemaPlacement(tenant), this.database.roles, this.sharedSchemaRole !== undefined));
      return;
    }
    throw new Error(`teardown of model ${tenant.model} is not implemented`);
  }

  async withAdmin<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.admin.connect();
    try {
      return await fn(client);
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.admin.end();
  }
}

export type { IsolationModel };
