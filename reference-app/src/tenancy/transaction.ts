/**
 * The one transaction scaffold every tenant context uses: a pooled connection, then BEGIN and the
 * statements that enter the tenant (which set the tenant context — transaction-locally, so it ends
 * with the transaction) in one round trip, the work, then COMMIT, or ROLLBACK on any error. A
 * connection whose rollback failed is destroyed, never returned to the pool with a half-open
 * transaction.
 *
 * One round trip: BEGIN and the entering statements go as one simple-protocol query (PostgreSQL
 * runs them in order, each statement with its own snapshot, and stops at the first error — the
 * transaction is then aborted and rolled back here). The simple protocol has no bind parameters:
 * values are written as literals, only through `uuidLiteral`/`textLiteral` below (a tenant id that
 * is not a UUID is refused before anything is sent).
 */
import pg from 'pg';
import type { Queryable } from './queryable.ts';

export interface EnterTenant {
  /** Statements run right after BEGIN, in the same round trip (literals through the helpers below). */
  readonly statements: readonly string[];
  /** Looks at the statements' results (e.g. where the tenant lives now); throws to roll back. */
  readonly check?: (results: readonly pg.QueryResult[]) => void;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Refused before anything is sent; the SQLSTATE PostgreSQL gives a malformed uuid (invalid_text_representation). */
export class InvalidTenantIdError extends Error {
  override readonly name = 'InvalidTenantIdError';
  readonly code = '22P02';
}

/** A tenant id as an SQL literal; anything but a UUID is refused (it never reaches the server). */
export function uuidLiteral(id: string): string {
  if (!uuidPattern.test(id)) throw new InvalidTenantIdError('tenant id is not a UUID');
  return `'${id}'::uuid`;
}

/** A text value as an SQL literal (PostgreSQL's own quoting rules, pg.escapeLiteral). */
export function textLiteral(value: string): string {
  return pg.escapeLiteral(value);
}

/** `first`, then `then` (a route's statements, e.g. its authorization), in the same round trip. */
export function enterAlso(first: EnterTenant, then: EnterTenant | undefined): EnterTenant {
  if (!then) return first;
  const at = first.statements.length;
  return {
    statements: [...first.statements, ...then.statements],
    check: (results) => {
      first.check?.(results.slice(0, at));
      then.check?.(results.slice(at));
    },
  };
}

export async function inPooledTransaction<T>(pool: Pick<pg.Pool, 'connect'>, enter: EnterTenant, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    try {
      const sent = await client.query(['begin', ...enter.statements].join(';\n'));
      const results = (Array.isArray(sent) ? sent : [sent]) as pg.QueryResult[];
      enter.check?.(results.slice(1));
      const result = await fn(client as Queryable);
      await client.query('commit');
      return result;
    } catch (error) {
      await client.query('rollback').catch((e: Error) => {
        broken = e;
      });
      throw error;
    }
  } finally {
    client.release(broken);
  }
}
