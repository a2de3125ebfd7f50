/**
 * The one transaction scaffold every tenant context uses: a pooled connection, BEGIN, `enter`
 * (which sets the tenant context — transaction-locally, so it ends with the transaction), the
 * work, then COMMIT, or ROLLBACK on any error. A connection whose rollback failed is destroyed,
 * never returned to the pool with a half-open transaction.
 */
import type pg from 'pg';
import type { Queryable } from './queryable.ts';

export async function inPooledTransaction<T>(
  pool: Pick<pg.Pool, 'connect'>,
  enter: (client: pg.PoolClient) => Promise<void>,
  fn: (tx: Queryable) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('begin');
    try {
      await enter(client);
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
