/**
 * Tenant discovery: which schemas (schema model) or databases (database model) are tenants. One
 * place, read by the models and the static rules alike: SQL LIKE on the catalog, system schemas,
 * templates and databases that refuse connections left out.
 */
import type { Queryable } from '../target/connection.ts';

/** Tenant schemas matching `pattern` (SQL LIKE), in name order. */
export async function discoverTenantSchemas(q: Queryable, pattern: string): Promise<string[]> {
  const { rows } = await q.query<{ name: string }>(
    `select nspname as name from pg_namespace where nspname like $1 and nspname !~ '^pg_' and nspname <> 'information_schema' order by 1`,
    [pattern],
  );
  return rows.map((r) => r.name);
}

/** Tenant databases matching `pattern` (SQL LIKE) that accept connections, in name order. */
export async function discoverTenantDatabases(q: Queryable, pattern: string): Promise<string[]> {
  const { rows } = await q.query<{ name: string }>(
    `select datname as name from pg_database where datname like $1 and datallowconn and not datistemplate order by 1`,
    [pattern],
  );
  return rows.map((r) => r.name);
}
