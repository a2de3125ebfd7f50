/**
 * Tenant migrations: changes to the tenant tables, applied wherever tenant tables live — the
 * shared schema (rls model), every tenant schema (schema model), the template database and every
 * tenant database (database model). The global tables have their own migrations
 * (node-pg-migrate, `migrations.ts`).
 *
 * Each target keeps its own record (`migrations.tenant_migrations` of its database: target, id),
 * and each target is migrated in one transaction that also writes the record — so a run that
 * fails halfway leaves every target either fully migrated or untouched, and running again
 * (resume) applies exactly what is missing. The report says what ran where.
 */
import pg from 'pg';
import { quoteIdent as q } from './sql.ts';
import type { ReferenceDatabase } from './provision.ts';
import { tenantDatabaseSchema, urlFor } from './tenant-databases.ts';
import { tenantDatabaseName, tenantSchemaName } from './naming.ts';
import type { IsolationModel } from '../tenancy/context.ts';

export interface TenantMigration {
  /** Sortable, unique: `<timestamp>_<name>`. */
  readonly id: string;
  /** The statements for one target schema (quoted identifier given). */
  readonly sql: (schema: string) => string;
}

/** The tenant migrations of this app (the baseline is `tenant-tables.ts`). */
export const tenantMigrations: readonly TenantMigration[] = [];

export interface TenantMigrationTarget {
  readonly model: IsolationModel | 'template';
  /** Database the target lives in. */
  readonly database: string;
  /** Schema holding the tenant tables. */
  readonly schema: string;
  /** The tenant, when the target belongs to one. */
  readonly tenantId?: string;
}

export interface TargetReport {
  readonly target: string;
  readonly model: TenantMigrationTarget['model'];
  readonly applied: readonly string[];
  readonly alreadyApplied: readonly string[];
  readonly error?: string;
}

export interface TenantMigrationReport {
  readonly targets: readonly TargetReport[];
  readonly failed: number;
}

export class TenantMigrationError extends Error {
  override readonly name = 'TenantMigrationError';
  constructor(
    readonly report: TenantMigrationReport,
    options?: { cause?: unknown },
  ) {
    super(`tenant migrations failed on ${report.failed} target(s); run again to resume: ${report.targets.filter((t) => t.error).map((t) => `${t.target}: ${t.error}`).join('; ')}`, options);
  }
}

const targetName = (t: TenantMigrationTarget) => `${t.database}/${t.schema}`;

/** Applies the missing migrations to one target, in one transaction on `client` (acting as the owner). */
export async function migrateTarget(
  client: pg.ClientBase,
  target: TenantMigrationTarget,
  ownerRole: string,
  migrations: readonly TenantMigration[],
  options: { inTransaction?: boolean } = {},
): Promise<{ applied: string[]; alreadyApplied: string[] }> {
  const own = !options.inTransaction;
  if (own) await client.query('begin');
  try {
    await client.query(`set local role ${q(ownerRole)}`);
    await client.query(`create schema if not exists migrations`);
    await client.query(
      `create table if not exists migrations.tenant_migrations (target text not null, id text not null, run_on timestamptz not null default now(), primary key (target, id))`,
    );
    // One migrator per target at a time.
    await client.query(`select pg_advisory_xact_lock(hashtext('tenantproof-tenant-migrations'), hashtext($1))`, [target.schema]);
    const { rows } = await client.query<{ id: string }>('select id from migrations.tenant_migrations where target = $1', [target.schema]);
    const done = new Set(rows.map((r) => r.id));
    const applied: string[] = [];
    const alreadyApplied: string[] = [];
    for (const migration of [...migrations].sort((x, y) => x.id.localeCompare(y.id))) {
      if (done.has(migration.id)) {
        alreadyApplied.push(migration.id);
        continue;
      }
      await client.query(migration.sql(q(target.schema)));
      await client.query('insert into migrations.tenant_migrations (target, id) values ($1, $2)', [target.schema, migration.id]);
      applied.push(migration.id);
    }
    await client.query('reset role');
    if (own) await client.query('commit');
    return { applied, alreadyApplied };
  } catch (error) {
    if (own) await client.query('rollback').catch(() => undefined);
    throw error;
  }
}

/** Every target of the deployment: shared schema, tenant schemas, template and tenant databases. */
export async function listTenantMigrationTargets(admin: pg.ClientBase, db: ReferenceDatabase): Promise<TenantMigrationTarget[]> {
  const { rows } = await admin.query<{ id: string; model: IsolationModel }>(`select id, model from ${q(db.schema)}.tenants where model <> 'rls' order by created_at, id`);
  const { rows: template } = await admin.query('select 1 from pg_database where datname = $1', [db.tenantObjects.templateDatabase]);
  return [
    { model: 'rls', database: db.database, schema: db.schema },
    ...rows.filter((r) => r.model === 'schema').map((r) => ({ model: 'schema' as const, database: db.database, schema: tenantSchemaName(r.id), tenantId: r.id })),
    ...(template.length ? [{ model: 'template' as const, database: db.tenantObjects.templateDatabase, schema: tenantDatabaseSchema }] : []),
    ...rows
      .filter((r) => r.model === 'database')
      .map((r) => ({ model: 'database' as const, database: tenantDatabaseName(db.database, r.id), schema: tenantDatabaseSchema, tenantId: r.id })),
  ];
}

export interface MigrateTenantsOptions {
  readonly migrations?: readonly TenantMigration[];
  /** Stop at the first failing target (default) or carry on with the others. */
  readonly continueOnError?: boolean;
}

/**
 * Applies the tenant migrations to every target, one transaction per target. Throws a
 * `TenantMigrationError` carrying the report when a target fails; run again to resume.
 */
export async function migrateAllTenants(db: ReferenceDatabase, options: MigrateTenantsOptions = {}): Promise<TenantMigrationReport> {
  const migrations = options.migrations ?? tenantMigrations;
  const admin = new pg.Client({ connectionString: db.adminUrl, application_name: 'tenantproof-reference-migrate' });
  await admin.connect();
  const reports: TargetReport[] = [];
  let firstError: unknown;
  try {
    const targets = await listTenantMigrationTargets(admin, db);
    for (const target of targets) {
      try {
        const result =
          target.database === db.database
            ? await migrateTarget(admin, target, db.roles.owner, migrations)
            : await withDatabase(db.adminUrl, target.database, (c) => migrateTarget(c, target, db.roles.owner, migrations));
        reports.push({ target: targetName(target), model: target.model, ...result });
      } catch (error) {
        firstError ??= error;
        reports.push({ target: targetName(target), model: target.model, applied: [], alreadyApplied: [], error: (error as Error).message });
        if (!options.continueOnError) break;
      }
    }
  } finally {
    await admin.end().catch(() => undefined);
  }
  const report = { targets: reports, failed: reports.filter((r) => r.error).length };
  if (report.failed > 0) throw new TenantMigrationError(report, { cause: firstError });
  return report;
}

async function withDatabase<T>(adminUrl: string, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: urlFor(adminUrl, database), application_name: 'tenantproof-reference-migrate' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
