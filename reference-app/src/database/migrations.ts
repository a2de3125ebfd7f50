/**
 * Migrations, run with node-pg-migrate's programmatic runner as the owner role. The runner lists
 * the files of `migrations/`; this registry supplies their code (statically imported, so the same
 * modules load under tsx, vitest and a bundler) bound to this database's role names.
 */
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { runner, type RunnerOption } from 'node-pg-migrate';
import type { Migration, MigrationContext } from './migration-context.ts';
import * as globalTables from './migrations/1763900000000_global-tables.ts';
import * as tenantTables from './migrations/1763900000001_tenant-tables.ts';
import * as principalLookups from './migrations/1763900000002_principal-lookups.ts';
import * as hybridTenancy from './migrations/1763900000003_hybrid-tenancy.ts';
import * as jobQueue from './migrations/1763900000004_job-queue.ts';
import * as platform from './migrations/1763900000005_platform.ts';

const registry: Readonly<Record<string, Migration>> = {
  '1763900000000_global-tables': globalTables.up,
  '1763900000001_tenant-tables': tenantTables.up,
  '1763900000002_principal-lookups': principalLookups.up,
  '1763900000003_hybrid-tenancy': hybridTenancy.up,
  '1763900000004_job-queue': jobQueue.up,
  '1763900000005_platform': platform.up,
};

export const migrationsDir = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

export interface MigrationLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Applies pending migrations through `client`, which must already act as the owner role. */
export async function runMigrations(client: pg.ClientBase, context: MigrationContext, log?: MigrationLog): Promise<string[]> {
  const loader = async (filePaths: string[]) =>
    filePaths.map((filePath) => {
      const id = basename(filePath, extname(filePath));
      const up = registry[id];
      if (!up) throw new Error(`migration file ${filePath} is not registered in database/migrations.ts`);
      return { id: filePath, filePaths: [filePath], actions: { up: (pgm: Parameters<Migration>[0]) => up(pgm, context), down: false as const } };
    });
  const quiet: MigrationLog = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const options: RunnerOption = {
    dbClient: client,
    dir: migrationsDir,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    migrationsSchema: 'migrations',
    createMigrationsSchema: true,
    schema: context.schema,
    createSchema: true,
    singleTransaction: true,
    checkOrder: true,
    advisoryLockMode: 'wait',
    migrationLoaderStrategies: [{ extensions: ['.ts', '.js'], loader }],
    logger: log ?? quiet,
  };
  const ran = await runner(options);
  return ran.map((m) => m.name);
}
