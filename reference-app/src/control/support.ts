/** Platform support agents are created by the control plane (admin connection), never through the API. */
import type { Queryable } from '../tenancy/queryable.ts';
import { hashPassword } from '../auth/passwords.ts';
import { quoteIdent as q } from '../database/sql.ts';

export async function addSupportAgent(admin: Queryable, schema: string, email: string, password: string): Promise<string> {
  const { rows } = await admin.query<{ id: string }>(`insert into ${q(schema)}.support_agents (email, password_hash) values ($1, $2) returning id`, [
    email,
    await hashPassword(password),
  ]);
  return rows[0]!.id;
}
