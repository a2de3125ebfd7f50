/**
 * Reach: what each tenant role can use beyond its own tables, as the catalog says it — the views
 * it can read (in any schema, including ones that run as their owner), the functions it can
 * execute (SECURITY DEFINER ones included), the tables of shared schemas it can write, and the
 * other tenant roles it can become (role memberships, with or without INHERIT, through chains).
 *
 * The catalog only says what to try: the probes (checks/probes/reach.ts) act on every item for
 * real inside a rolled-back transaction and judge by what comes back.
 */
import type { Queryable } from '../target/connection.ts';

export interface ReachRelation {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  readonly kind: 'table' | 'view' | 'materialized-view' | 'foreign-table';
  readonly owner: string;
  /** Row security enabled on it (writes that change no row are then no proof). */
  readonly rowSecurity: boolean;
  /** Roles (of those asked about) that may SELECT it, schema USAGE included. */
  readonly readers: readonly string[];
  /** Write privileges per role: `INSERT`, `DELETE`, `TRUNCATE`, `UPDATE:<column it may update>`. */
  readonly writers: ReadonlyMap<string, readonly string[]>;
  /** Relations a view's query reads directly (`schema.name`). */
  readonly reads: readonly string[];
}

export interface ReachFunction {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  /** `schema.name(argtypes)`, always schema-qualified. */
  readonly signature: string;
  readonly argTypes: readonly string[];
  /** pg_get_function_identity_arguments() (with argument names), as the static rules name functions. */
  readonly identity: string;
  readonly definer: boolean;
  readonly owner: string;
  /** Roles (of those asked about) that may EXECUTE it, schema USAGE included. */
  readonly executors: readonly string[];
}

/** A role that may become another: `path` from `role` to `target`, each step a direct membership. */
export interface RoleReach {
  readonly role: string;
  readonly target: string;
  readonly path: readonly string[];
  /** Every step of the chain inherits (the target's privileges are the role's own, without SET ROLE). */
  readonly inherits: boolean;
}

export interface ReachCatalog {
  readonly relations: readonly ReachRelation[];
  readonly functions: readonly ReachFunction[];
  readonly memberships: readonly RoleReach[];
  /** The connecting role may `SET SESSION AUTHORIZATION` (superuser): probes can log in as a tenant role's session would. */
  readonly canAuthorize: boolean;
}

const systemSchema = `n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp_)'`;

/** Argument types a probe can fill with a tenant's name, role or id. */
export const probeableArgTypes = new Set(['text', 'character varying', 'name', 'character', 'uuid', 'integer', 'bigint', 'smallint']);

/** Reach of `roles`: relations and functions outside system schemas and extensions, and memberships among `roles`. */
export async function introspectReach(q: Queryable, roles: readonly string[]): Promise<ReachCatalog> {
  const list = [...new Set(roles)];
  const relations = await q.query<{
    oid: number;
    schema: string;
    name: string;
    kind: string;
    owner: string;
    rls: boolean;
    readers: string[];
    writers: string[];
    reads: string[];
  }>(
    `select c.oid::int as oid, n.nspname as schema, c.relname as name, c.relkind::text as kind, pg_get_userbyid(c.relowner) as owner,
            c.relrowsecurity as rls,
            array(select r from unnest($1::text[]) r
                   where has_schema_privilege(r, n.oid, 'USAGE') and has_table_privilege(r, c.oid, 'SELECT')) as readers,
            array(select r || ':' || p from unnest($1::text[]) r cross join unnest(array['INSERT', 'DELETE', 'TRUNCATE']) p
                   where has_schema_privilege(r, n.oid, 'USAGE') and c.relkind in ('r', 'p', 'v', 'f')
                     and (case when p = 'INSERT' then has_any_column_privilege(r, c.oid, p) else has_table_privilege(r, c.oid, p) end)
                  union all
                  select r || ':UPDATE:' || (select a.attname from pg_attribute a
                                              where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
                                                and a.attidentity <> 'a' and has_column_privilege(r, c.oid, a.attnum, 'UPDATE')
                                              order by a.attnum limit 1)
                    from unnest($1::text[]) r
                   where has_schema_privilege(r, n.oid, 'USAGE') and c.relkind in ('r', 'p', 'v', 'f') and has_any_column_privilege(r, c.oid, 'UPDATE')) as writers,
            array(select distinct dn.nspname || '.' || dc.relname
                    from pg_rewrite rw
                    join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = rw.oid and d.refclassid = 'pg_class'::regclass
                    join pg_class dc on dc.oid = d.refobjid
                    join pg_namespace dn on dn.oid = dc.relnamespace
                   where rw.ev_class = c.oid and dc.oid <> c.oid) as reads
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p', 'v', 'm', 'f') and not c.relispartition and ${systemSchema}
        and not exists (select 1 from pg_depend e where e.classid = 'pg_class'::regclass and e.objid = c.oid and e.deptype = 'e')
      order by 2, 3`,
    [list],
  );
  const kinds: Record<string, ReachRelation['kind']> = { r: 'table', p: 'table', v: 'view', m: 'materialized-view', f: 'foreign-table' };
  const functions = await q.query<{ oid: number; schema: string; name: string; signature: string; argTypes: string[]; identity: string; definer: boolean; owner: string; executors: string[] }>(
    `select p.oid::int as oid, n.nspname as schema, p.proname as name, n.nspname || '.' || p.proname || '(' || oidvectortypes(p.proargtypes) || ')' as signature,
            p.proargtypes::regtype[]::text[] as "argTypes", pg_get_function_identity_arguments(p.oid) as identity, p.prosecdef as definer, pg_get_userbyid(p.proowner) as owner,
            array(select r from unnest($1::text[]) r
                   where has_schema_privilege(r, n.oid, 'USAGE') and has_function_privilege(r, p.oid, 'EXECUTE')) as executors
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where p.prokind = 'f' and ${systemSchema} and p.pronargs <= 3 and p.provariadic = 0
        and p.prorettype not in ('trigger'::regtype, 'event_trigger'::regtype, 'internal'::regtype, 'void'::regtype, 'language_handler'::regtype, 'fdw_handler'::regtype, 'index_am_handler'::regtype, 'table_am_handler'::regtype)
        and not (p.prorettype = 'record'::regtype and p.proallargtypes is null)
        and not exists (select 1 from pg_depend e where e.classid = 'pg_proc'::regclass and e.objid = p.oid and e.deptype = 'e')
      order by 4`,
    [list],
  );
  const memberships = await q.query<{ role: string; target: string; path: string[]; inherits: boolean }>(
    `with recursive m(member, roleid, path, inherits) as (
       select a.member, a.roleid, array[mr.rolname::text, tr.rolname::text], ${inheritSql('a', 'mr')}
         from pg_auth_members a join pg_roles mr on mr.oid = a.member join pg_roles tr on tr.oid = a.roleid
        where mr.rolname = any($1::text[])
       union all
       select m.member, a.roleid, m.path || tr.rolname::text, m.inherits and ${inheritSql('a', 'sr')}
         from m join pg_auth_members a on a.member = m.roleid join pg_roles tr on tr.oid = a.roleid join pg_roles sr on sr.oid = a.member
        where not tr.rolname = any(m.path))
     select m.path[1] as role, m.path[array_length(m.path, 1)] as target, m.path, m.inherits
       from m where m.path[array_length(m.path, 1)] = any($1::text[]) and m.member <> m.roleid
      order by 1, 2, array_length(m.path, 1)`,
    [list],
  );
  const { rows: su } = await q.query<{ su: boolean }>('select rolsuper as su from pg_roles where rolname = session_user');
  const seen = new Set<string>();
  return {
    relations: relations.rows.map((r) => {
      const writers = new Map<string, string[]>();
      for (const w of r.writers) {
        const [role, ...privilege] = w.split(':');
        if (!role) continue;
        writers.set(role, [...(writers.get(role) ?? []), privilege.join(':')]);
      }
      return { oid: r.oid, schema: r.schema, name: r.name, kind: kinds[r.kind]!, owner: r.owner, rowSecurity: r.rls, readers: r.readers, writers, reads: r.reads };
    }),
    functions: functions.rows,
    // The shortest chain to each target.
    memberships: memberships.rows.filter((m) => {
      const key = `${m.role}|${m.target}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    }),
    canAuthorize: su[0]?.su === true,
  };
}

/** Whether membership row `a` of member role `member` inherits: the grant's own option (16+), else the member's INHERIT. */
function inheritSql(a: string, member: string): string {
  // PostgreSQL 16 added pg_auth_members.inherit_option; before, the member role's rolinherit decides.
  return `coalesce((to_jsonb(${a}) ->> 'inherit_option')::boolean, ${member}.rolinherit)`;
}

/** `a → member of b → member of c`, for evidence. */
export function membershipPath(path: readonly string[]): string {
  return path.map((r, i) => (i === 0 ? r : `member of ${r}`)).join(' → ');
}
