/**
 * The small part of a PostgreSQL connection that checks use. Checks take a `Queryable`, so they
 * run against the reference app's pool, a CLI connection or a test transaction alike.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { CannotRunError, describeError } from '../errors.ts';
import { parsePostgresUrl } from './url.ts';

export interface QueryResult<R> {
  readonly rows: R[];
  readonly rowCount: number | null;
}

export interface Queryable {
  query<R extends object = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>>;
}

/** The URL with another database (and optionally other credentials). */
export function urlFor(baseUrl: string, database: string, credentials?: { user: string; password?: string }): string {
  const url = parsePostgresUrl(baseUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  if (credentials) {
    url.username = encodeURIComponent(credentials.user);
    url.password = credentials.password === undefined ? '' : encodeURIComponent(credentials.password);
  }
  return url.toString();
}

/** Quotes an identifier the way `quote_ident` would, for DDL that cannot take bind parameters. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a literal the way `quote_literal` would (standard_conforming_strings on). */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * Opens a client, runs `fn`, always closes it. `config` adds client options (e.g. `pipeline: true`
 * on pg ≥ 8.23: queries are written without waiting for the previous answer). A connection error
 * outside a query (the server going away) surfaces through the next query, never as an
 * unhandled 'error' event.
 */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>, config: Partial<pg.ClientConfig> = {}): Promise<T> {
  const client = new pg.Client({ ...config, connectionString: url });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (cause) {
    throw new CannotRunError(`cannot connect to database: ${describeError(cause)}`, {}, { cause });
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Runs `fn` inside BEGIN … and then COMMIT (`'commit'`) or ROLLBACK (`'rollback'`, used by every
 * probe against a target). An error always rolls back.
 */
export async function withTransaction<T>(
  client: Queryable,
  fn: (tx: Queryable) => Promise<T>,
  end: 'commit' | 'rollback' = 'commit',
): Promise<T> {
  await client.query('begin');
  try {
    const result = await fn(client);
    await client.query(end);
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  }
}

/** Runs `fn` under a savepoint, so a failing statement does not poison the enclosing transaction. */
export async function withSavepoint<T>(tx: Queryable, fn: () => Promise<T>): Promise<T> {
  const name = `tp_${randomBytes(4).toString('hex')}`;
  await tx.query(`savepoint ${name}`);
  try {
    const result = await fn();
    await tx.query(`release savepoint ${name}`);
    return result;
  } catch (error) {
    await tx.query(`rollback to savepoint ${name}`).catch(() => undefined);
    throw error;
  }
}

export interface ScratchDatabase extends AsyncDisposable {
  readonly name: string;
  /** URL for the admin role to this database. */
  readonly url: string;
  drop(): Promise<void>;
}

/** A database created for one test file or run and dropped (WITH FORCE) when disposed. */
export async function createScratchDatabase(adminUrl: string, prefix = 'tp'): Promise<ScratchDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`.toLowerCase();
  await withClient(adminUrl, (c) => c.query(`create database ${quoteIdent(name)}`));
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await withClient(adminUrl, (c) => c.query(`drop database if exists ${quoteIdent(name)} with (force)`));
  };
  return { name, url: urlFor(adminUrl, name), drop, [Symbol.asyncDispose]: drop };
}
