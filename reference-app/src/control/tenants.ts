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
import {
  databasePlacement,
  dropTenantDatabase,
  ensureTemplateDatabase,
  provisionTenantDatabase,
  tenantDatabasePassword,
  urlFor,
  type DatabaseTenantPlacement,
} from '../database/tenant-databases.ts';
import { TenantPools, type TenantPoolOptions } from '../tenancy/tenant-pools.ts';
import { quoteIdent as q } from '../database/sql.ts';
import { moveTenantToDatabase, moveTenantToSchema, type MoveHooks, type MoveReport } from './move.ts';

export class TenantControl {
  private readonly admin: pg.Pool;
  /** Pools of tenant databases (bounded, least recently used closed first). */
  readonly pools: TenantPools;
  /** CREATE DATABASE from one template is serialised (the template must have no other users). */
  private databaseQueue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly database: ReferenceDatabase,
    private readonly vulnerable: ReadonlySet<VulnerabilityName>,
    poolOptions: TenantPoolOptions = { maxPools: 50, connectionsPerPool: 2, idleTimeoutMs: 10_000 },
  ) {
    this.admin = new pg.Pool({ connectionString: database.adminUrl, max: 2, application_name: 'tenantproof-reference-control' });
    this.admin.on('error', () => undefined);
    this.pools = new TenantPools((name) => this.tenantDatabaseUrl(name), poolOptions);
  }

  /** Database and login role of a database-model tenant. */
  databasePlacement(tenant: Pick<TenantRef, 'id'>): DatabaseTenantPlacement {
    return databasePlacement(this.database.database, tenant.id);
  }

  /** The URL the app connects to a tenant database with (that tenant's login role). */
  tenantDatabaseUrl(databaseName: string): string {
    return urlFor(this.database.adminUrl, databaseName, databaseName, tenantDatabasePassword(this.database.adminUrl, databaseName));
  }

  private serialised<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.databaseQueue.then(fn, fn);
    this.databaseQueue = run.catch(() => undefined);
    return run;
  }

  /** Creates the template database the tenant databases are copied from (once). */
  ensureTemplate(): Promise<void> {
    return this.serialised(() =>
      this.withAdmin((c) => ensureTemplateDatabase(c, this.database.adminUrl, this.database.tenantObjects.templateDatabase, this.database.roles)),
    );
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
    await this.ensureTemplate();
    await this.serialised(() =>
      this.withAdmin((c) =>
        provisionTenantDatabase(
          c,
          {
            adminUrl: this.database.adminUrl,
            template: this.database.tenantObjects.templateDatabase,
            placement: this.databasePlacement(tenant),
            roles: this.database.roles,
            secret: this.database.adminUrl,
          },
          { publicConnect: this.vulnerable.has('database-public-connect') },
        ),
      ),
    );
  }

  /** Removes the tenant's home (schema and role / database and role). Idempotent. */
  async teardown(tenant: TenantRef): Promise<void> {
    if (tenant.model === 'rls') return;
    if (tenant.model === 'schema') {
      await this.withAdmin((c) => dropTenantSchema(c, this.schemaPlacement(tenant), this.database.roles, this.sharedSchemaRole !== undefined));
      return;
    }
    const placement = this.databasePlacement(tenant);
    await this.pools.close(placement.database);
    await this.serialised(() =>
      this.withAdmin(async (c) => {
        await dropTenantDatabase(c, placement);
        // The global registry row (and with it the directory entries) goes too.
        await c.query(`delete from ${q(this.database.schema)}.tenants where id = $1`, [tenant.id]);
      }),
    );
  }

  /**
   * Admin operation: moves an rls tenant into its own schema or database (`move.ts`): copy,
   * verify counts, switch the registry row, delete the shared rows.
   */
  async moveTenant(tenantId: string, to: 'schema' | 'database', hooks: MoveHooks = {}): Promise<MoveReport> {
    if (to === 'schema') return this.withAdmin((c) => moveTenantToSchema(c, this.database, tenantId, hooks));
    const tenant = { id: tenantId, slug: '', model: 'database' as const };
    const placement = this.databasePlacement(tenant);
    return this.withAdmin((c) =>
      moveTenantToDatabase(
        c,
        this.database,
        tenantId,
        {
          name: placement.database,
          provision: () => this.provision(tenant),
          drop: async () => {
            await this.pools.close(placement.database);
            await this.serialised(() => this.withAdmin((a) => dropTenantDatabase(a, placement)));
          },
        },
        hooks,
      ),
    );
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
    await this.pools.end();
    await this.admin.end();
  }
}

export type { IsolationModel };
