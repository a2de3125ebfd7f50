/**
 * The isolation-relevant part of a catalog, flat and comparable between two schema versions
 * (`tenantproof diff`): per table whether row level security is enabled and forced, every policy
 * (command, permissive or restrictive, roles, USING and WITH CHECK as PostgreSQL prints them),
 * and every table privilege granted to a role other than the table's owner.
 */
import type { Queryable } from '../target/connection.ts';

export interface SnapshotPolicy {
  readonly table: string;
  readonly name: string;
  readonly command: string;
  readonly permissive: boolean;
  /** Sorted role names; `PUBLIC` for a policy without TO. */
  readonly roles: readonly string[];
  readonly using: string | null;
  readonly check: string | null;
}

export interface IsolationSnapshot {
  /** `schema.table` → row level security enabled / forced. */
  readonly tables: Readonly<Record<string, { readonly rls: boolean; readonly force: boolean }>>;
  readonly policies: readonly SnapshotPolicy[];
  /** `role PRIVILEGE on schema.table` (PUBLIC for grants to everyone), sorted. */
  readonly grants: readonly string[];
}

const userSchemas = `n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast') and n.nspname not like 'pg_temp%' and n.nspname not like 'pg_toast_temp%'`;

/** Reads the snapshot of the database `q` is connected to (ordinary and partitioned tables, views). */
export async function readIsolationSnapshot(q: Queryable): Promise<IsolationSnapshot> {
  const tables = await q.query<{ name: string; rls: boolean; force: boolean }>(
    `select format('%s.%s', n.nspname, c.relname) as name, c.relrowsecurity as rls, c.relforcerowsecurity as force
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and ${userSchemas}
      order by 1`,
  );
  const policies = await q.query<SnapshotPolicy>(
    `select format('%s.%s', n.nspname, c.relname) as "table", p.polname as name,
            case p.polcmd when 'r' then 'SELECT' when 'a' then 'INSERT' when 'w' then 'UPDATE' when 'd' then 'DELETE' else 'ALL' end as command,
            p.polpermissive as permissive,
            coalesce((select array_agg(case when r = 0 then 'PUBLIC' else pg_get_userbyid(r)::text end order by 1) from unnest(p.polroles) r), '{}') as roles,
            pg_get_expr(p.polqual, p.polrelid) as using, pg_get_expr(p.polwithcheck, p.polrelid) as check
       from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
      where ${userSchemas}
      order by 1, 2`,
  );
  const grants = await q.query<{ grant: string }>(
    `select distinct format('%s %s on %s.%s', case when a.grantee = 0 then 'PUBLIC' else pg_get_userbyid(a.grantee)::text end, a.privilege_type, n.nspname, c.relname) as "grant"
       from pg_class c join pg_namespace n on n.oid = c.relnamespace, aclexplode(c.relacl) a
      where c.relkind in ('r', 'p', 'v', 'm', 'f') and ${userSchemas} and a.grantee <> c.relowner
      order by 1`,
  );
  return {
    tables: Object.fromEntries(tables.rows.map((t) => [t.name, { rls: t.rls, force: t.force }])),
    policies: policies.rows.map((p) => ({ ...p, roles: [...p.roles].sort() })),
    grants: grants.rows.map((g) => g.grant),
  };
}
