/**
 * Applies corpus SQL: `@name` placeholders, statement splitting that keeps dollar-quoted bodies
 * whole, and `\c @db` lines that move the following statements to another database.
 */
import pg from 'pg';
import { quoteIdent, urlFor, withClient } from '../../src/index.ts';

/** Replaces `@name` with `<prefix>_name` (in SQL and in target fields alike). */
export function expand(text: string, prefix: string): string {
  return text.replace(/@([a-z][a-z0-9_]*)/g, (_, name: string) => `${prefix}_${name}`);
}

export type Step = { readonly kind: 'sql'; readonly text: string } | { readonly kind: 'connect'; readonly database: string };

export function splitSql(text: string): Step[] {
  const steps: Step[] = [];
  let current: string[] = [];
  let inDollar = false;
  const flush = () => {
    const sql = current.join('\n').trim();
    if (sql) steps.push({ kind: 'sql', text: sql });
    current = [];
  };
  for (const line of text.split('\n')) {
    if (!inDollar && line.trim().startsWith('\\c ')) {
      flush();
      steps.push({ kind: 'connect', database: line.trim().slice(3).trim() });
      continue;
    }
    current.push(line);
    inDollar = (line.match(/\$\$/g)?.length ?? 0) % 2 === 1 ? !inDollar : inDollar;
    if (!inDollar && line.trim().endsWith(';')) flush();
  }
  flush();
  return steps;
}

/** Runs `sql` (placeholders already expanded) against `databaseUrl`, following `\c` lines. */
export async function applySql(adminUrl: string, databaseUrl: string, sql: string): Promise<void> {
  let client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (const step of splitSql(sql)) {
      if (step.kind === 'connect') {
        await client.end();
        client = new pg.Client({ connectionString: urlFor(adminUrl, step.database) });
        await client.connect();
        continue;
      }
      try {
        await client.query(step.text);
      } catch (error) {
        throw new Error(`fixture SQL failed: ${(error as Error).message}\n${step.text}`, { cause: error });
      }
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Drops every database and role whose name starts with `<prefix>_`. */
export async function dropPrefixed(adminUrl: string, prefix: string): Promise<void> {
  await withClient(adminUrl, async (c) => {
    const like = `${prefix.replaceAll('_', '\\_')}\\_%`;
    const dbs = await c.query<{ name: string }>('select datname as name from pg_database where datname like $1', [like]);
    for (const { name } of dbs.rows) await c.query(`drop database if exists ${quoteIdent(name)} with (force)`);
    const roles = await c.query<{ name: string }>('select rolname as name from pg_roles where rolname like $1 order by 1', [like]);
    for (const { name } of roles.rows) await c.query(`drop role if exists ${quoteIdent(name)}`);
  });
}
