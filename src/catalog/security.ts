/**
 * Security introspection: who can do what to which object. The static rules read this shape next
 * to the structural catalog (structure.ts).
 *
 * Words used here:
 * - subject: a role under test (the target's app role, the per-tenant roles). Privileges are read
 *   *for subjects* with has_*_privilege()/pg_has_role(), so ownership, PUBLIC grants and inherited
 *   membership are all accounted for by PostgreSQL itself, not re-implemented here.
 * - grant: one exploded ACL entry (aclexplode), with NULL ACLs replaced by acldefault(), so the
 *   implicit defaults (EXECUTE and CONNECT/TEMPORARY to PUBLIC) show up as grants.
 *
 * Everything is read with one statement per catalog, never per object.
 */
import type { Queryable } from '../target/connection.ts';

/** The grantee name used for PUBLIC (aclexplode grantee 0). */
export const PUBLIC = 'PUBLIC';

export interface Role {
  readonly name: string;
  readonly superuser: boolean;
  readonly bypassRls: boolean;
  readonly canLogin: boolean;
  readonly inherit: boolean;
  readonly createRole: boolean;
  /** Per-role settings (ALTER ROLE … SET), e.g. `search_path=tenant_a`. */
  readonly config: readonly string[];
}

/** A direct membership edge (pg_auth_members): `member` is a member of `role`. */
export interface Membership {
  readonly member: string;
  readonly role: string;
  readonly admin: boolean;
  /** PG 16+: per-grant INHERIT/SET options; on 15 they follow the member's rolinherit / are always true. */
  readonly inherit: boolean;
  readonly set: boolean;
}

/** What a subject is to another role, as PostgreSQL computes it (pg_has_role). */
export interface SubjectRole {
  readonly role: string;
  /** pg_has_role(subject, role, 'USAGE'): the subject holds the role's privileges without SET ROLE. */
  readonly usage: boolean;
  /** The subject can `SET ROLE` to it (pg_has_role … 'SET' on 16+, 'MEMBER' before). */
  readonly set: boolean;
}

export interface Subject {
  readonly name: string;
  readonly exists: boolean;
  /** Every other role the subject is a member of, directly or not. */
  readonly roles: readonly SubjectRole[];
}

export interface Grant {
  /** A role name or `PUBLIC`. */
  readonly grantee: string;
  readonly grantor: string;
  readonly privilege: string;
  readonly grantable: boolean;
}

export type PolicyCommand = 'ALL' | 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';

export interface Policy {
  readonly schema: string;
  readonly table: string;
  readonly name: string;
  readonly permissive: boolean;
  readonly command: PolicyCommand;
  /** Role names the policy applies to; `PUBLIC` for everyone. */
  readonly roles: readonly string[];
  /** pg_get_expr() of USING, or null. */
  readonly using: string | null;
  /** pg_get_expr() of WITH CHECK, or null. */
  readonly withCheck: string | null;
}

/** Privileges that apply to a relation, for one subject. */
export interface RelationAccess {
  readonly subject: string;
  readonly schema: string;
  readonly name: string;
  /** Table-level privileges the subject holds (ownership, PUBLIC and inherited grants included). */
  readonly privileges: readonly string[];
  /** Privileges held on at least one column (has_any_column_privilege) — column grants included. */
  readonly columnPrivileges: readonly string[];
}

/** Explicit grants on a relation and its columns (relations whose ACLs were never changed are not listed). */
export interface RelationGrants {
  readonly schema: string;
  readonly name: string;
  readonly owner: string;
  readonly grants: readonly Grant[];
  readonly columnGrants: readonly (Grant & { readonly column: string })[];
}

/** ALTER DEFAULT PRIVILEGES: what objects a role creates (in a schema, or anywhere) will grant. */
export interface DefaultPrivileges {
  /** The role whose future objects get these grants. */
  readonly role: string;
  /** null: every schema. */
  readonly schema: string | null;
  readonly objectType: 'table' | 'sequence' | 'function' | 'type' | 'schema';
  readonly grants: readonly Grant[];
}

export interface SchemaInfo {
  readonly name: string;
  readonly owner: string;
  readonly grants: readonly Grant[];
}

export interface SchemaAccess {
  readonly subject: string;
  readonly schema: string;
  readonly usage: boolean;
  readonly create: boolean;
}

export interface DatabaseInfo {
  readonly name: string;
  readonly owner: string;
  readonly allowConnections: boolean;
  readonly grants: readonly Grant[];
}

export interface DatabaseAccess {
  readonly subject: string;
  readonly database: string;
  readonly connect: boolean;
  readonly temporary: boolean;
  readonly create: boolean;
}

export interface ViewInfo {
  readonly schema: string;
  readonly name: string;
  readonly kind: 'view' | 'materialized-view';
  readonly owner: string;
  /** reloption security_invoker (PG 15+); false when absent. */
  readonly securityInvoker: boolean;
  readonly securityBarrier: boolean;
  /** Relations the view's query reads directly (pg_depend of its rewrite rule). */
  readonly reads: readonly { readonly schema: string; readonly name: string }[];
}

export interface ForeignTableInfo {
  readonly schema: string;
  readonly name: string;
  readonly owner: string;
  readonly server: string;
  readonly wrapper: string;
  readonly columns: readonly string[];
}

export interface FunctionInfo {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  /** pg_get_function_identity_arguments(). */
  readonly arguments: string;
  readonly kind: 'function' | 'procedure' | 'aggregate' | 'window';
  readonly owner: string;
  readonly language: string;
  readonly securityDefiner: boolean;
  /** proconfig, e.g. `search_path=pg_catalog, public`. */
  readonly config: readonly string[];
  /** The search_path the function pins with SET, or null when it uses the caller's. */
  readonly searchPath: string | null;
  /** Source text (prosrc) — empty for SQL-standard bodies (BEGIN ATOMIC), see `reads`. */
  readonly source: string;
  /** Relations recorded as dependencies (SQL-standard bodies only; PL/pgSQL records none). */
  readonly dependsOn: readonly { readonly schema: string; readonly name: string }[];
  readonly grants: readonly Grant[];
  /** Subjects that may EXECUTE it (has_function_privilege). */
  readonly executableBy: readonly string[];
}

export interface ExtensionInfo {
  readonly name: string;
  readonly version: string;
  readonly schema: string;
}

export interface ForeignAccess {
  readonly subject: string;
  /** `wrapper` (USAGE on a foreign-data wrapper) or `server` (USAGE on a foreign server). */
  readonly kind: 'wrapper' | 'server';
  readonly name: string;
}

/** A function of a cross-database extension (dblink, postgres_fdw) that a subject may EXECUTE. */
export interface ExtensionFunctionAccess {
  readonly subject: string;
  readonly extension: string;
  readonly function: string;
}

export interface SecurityCatalog {
  readonly serverVersion: string;
  readonly serverVersionNum: number;
  readonly database: string;
  readonly currentUser: string;
  readonly roles: readonly Role[];
  readonly memberships: readonly Membership[];
  readonly subjects: readonly Subject[];
  readonly policies: readonly Policy[];
  readonly relationAccess: readonly RelationAccess[];
  readonly relationGrants: readonly RelationGrants[];
  readonly defaultPrivileges: readonly DefaultPrivileges[];
  readonly schemas: readonly SchemaInfo[];
  readonly schemaAccess: readonly SchemaAccess[];
  readonly databases: readonly DatabaseInfo[];
  readonly databaseAccess: readonly DatabaseAccess[];
  readonly views: readonly ViewInfo[];
  readonly foreignTables: readonly ForeignTableInfo[];
  readonly functions: readonly FunctionInfo[];
  readonly extensions: readonly ExtensionInfo[];
  readonly foreignAccess: readonly ForeignAccess[];
  readonly extensionFunctionAccess: readonly ExtensionFunctionAccess[];
}

/** Extensions that let a session reach other databases. */
export const crossDatabaseExtensions = ['dblink', 'postgres_fdw'] as const;

export interface SecurityOptions {
  /** Roles under test (app role, tenant roles). Missing roles are reported with `exists: false`. */
  readonly subjects: readonly string[];
  /** Only these schemas (default: every schema but pg_catalog, information_schema, pg_toast*, pg_temp*). */
  readonly schemas?: readonly string[];
}

const schemaFilter = (alias: string, param: string) => `
  ${alias}.nspname not in ('pg_catalog', 'information_schema') and ${alias}.nspname not like 'pg\\_toast%'
  and ${alias}.nspname not like 'pg\\_temp%' and (${param}::text[] is null or ${alias}.nspname = any(${param}::text[]))`;

/** aclexplode() of an ACL column, defaults filled in, as JSON rows {grantee, grantor, privilege, grantable}. */
const grantsOf = (acl: string, kind: string, owner: string) => `
  coalesce((select json_agg(json_build_object(
      'grantee', case when e.grantee = 0 then 'PUBLIC' else pg_get_userbyid(e.grantee) end,
      'grantor', pg_get_userbyid(e.grantor), 'privilege', e.privilege_type, 'grantable', e.is_grantable)
      order by e.grantee, e.privilege_type)
    from aclexplode(coalesce(${acl}, acldefault('${kind}', ${owner}))) e), '[]'::json)`;

const tablePrivileges = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'] as const;
const columnPrivileges = ['SELECT', 'INSERT', 'UPDATE', 'REFERENCES'] as const;

/** The search_path a function pins with `SET search_path`, or null. */
export function pinnedSearchPath(config: readonly string[]): string | null {
  const entry = config.find((c) => c.toLowerCase().startsWith('search_path='));
  return entry === undefined ? null : entry.slice('search_path='.length);
}

/** Reads roles, memberships, policies, grants, views, functions, extensions and databases. */
export async function introspectSecurity(q: Queryable, options: SecurityOptions): Promise<SecurityCatalog> {
  const schemas = options.schemas ? [...options.schemas] : null;
  const subjectNames = [...new Set(options.subjects)];

  const server = (
    await q.query<{ version: string; num: string; db: string; usr: string }>(
      `select current_setting('server_version') as version, current_setting('server_version_num') as num,
              current_database() as db, current_user as usr`,
    )
  ).rows[0]!;
  const versionNum = Number(server.num);
  const hasMemberOptions = versionNum >= 160000;

  const roles = (
    await q.query<{ name: string; su: boolean; bypass: boolean; login: boolean; inherit: boolean; createrole: boolean; config: string[] | null }>(
      `select rolname as name, rolsuper as su, rolbypassrls as bypass, rolcanlogin as login, rolinherit as inherit,
              rolcreaterole as createrole, rolconfig as config
         from pg_roles order by rolname`,
    )
  ).rows.map<Role>((r) => ({
    name: r.name,
    superuser: r.su,
    bypassRls: r.bypass,
    canLogin: r.login,
    inherit: r.inherit,
    createRole: r.createrole,
    config: r.config ?? [],
  }));

  const memberships = (
    await q.query<{ member: string; role: string; admin: boolean; inherit: boolean; set: boolean }>(
      hasMemberOptions
        ? `select pg_get_userbyid(m.member) as member, pg_get_userbyid(m.roleid) as role, m.admin_option as admin,
                  m.inherit_option as inherit, m.set_option as set
             from pg_auth_members m order by 1, 2`
        : `select pg_get_userbyid(m.member) as member, pg_get_userbyid(m.roleid) as role, m.admin_option as admin,
                  r.rolinherit as inherit, true as set
             from pg_auth_members m join pg_roles r on r.oid = m.member order by 1, 2`,
    )
  ).rows;

  const existing = new Set(roles.map((r) => r.name));
  const present = subjectNames.filter((s) => existing.has(s));
  const subjectRoles = (
    await q.query<{ subject: string; role: string; usage: boolean; set: boolean }>(
      `select s.rolname as subject, r.rolname as role, pg_has_role(s.oid, r.oid, 'USAGE') as usage,
              pg_has_role(s.oid, r.oid, '${hasMemberOptions ? 'SET' : 'MEMBER'}') as set
         from pg_roles s cross join pg_roles r
        where s.rolname = any($1::text[]) and r.oid <> s.oid and pg_has_role(s.oid, r.oid, 'MEMBER')
        order by 1, 2`,
      [present],
    )
  ).rows;
  const subjects: Subject[] = subjectNames.map((name) => ({
    name,
    exists: existing.has(name),
    roles: subjectRoles.filter((r) => r.subject === name).map((r) => ({ role: r.role, usage: r.usage, set: r.set })),
  }));

  const policies = (
    await q.query<{ schema: string; table: string; name: string; permissive: boolean; cmd: string; roles: string[]; using: string | null; check: string | null }>(
      `select n.nspname as schema, c.relname as table, p.polname as name, p.polpermissive as permissive, p.polcmd::text as cmd,
              array(select case when r = 0 then 'PUBLIC' else pg_get_userbyid(r)::text end from unnest(p.polroles) r order by 1)::text[] as roles,
              pg_get_expr(p.polqual, p.polrelid) as using, pg_get_expr(p.polwithcheck, p.polrelid) as check
         from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
        where ${schemaFilter('n', '$1')}
        order by 1, 2, 3`,
      [schemas],
    )
  ).rows.map<Policy>((p) => ({
    schema: p.schema,
    table: p.table,
    name: p.name,
    permissive: p.permissive,
    command: ({ '*': 'ALL', r: 'SELECT', a: 'INSERT', w: 'UPDATE', d: 'DELETE' } as const)[p.cmd as '*'] ?? 'ALL',
    roles: p.roles,
    using: p.using,
    withCheck: p.check,
  }));

  const tableCases = tablePrivileges.map((p) => `case when has_table_privilege(s.oid, c.oid, '${p}') then '${p}' end`).join(', ');
  const columnCases = columnPrivileges.map((p) => `case when has_any_column_privilege(s.oid, c.oid, '${p}') then '${p}' end`).join(', ');
  const relationAccess = (
    await q.query<{ subject: string; schema: string; name: string; privileges: string[]; column_privileges: string[] }>(
      `select s.rolname as subject, n.nspname as schema, c.relname as name,
              array_remove(array[${tableCases}], null)::text[] as privileges,
              array_remove(array[${columnCases}], null)::text[] as column_privileges
         from pg_class c join pg_namespace n on n.oid = c.relnamespace cross join pg_roles s
        where c.relkind in ('r', 'p', 'v', 'm', 'f') and s.rolname = any($2::text[]) and ${schemaFilter('n', '$1')}
        order by 1, 2, 3`,
      [schemas, present],
    )
  ).rows
    .filter((r) => r.privileges.length > 0 || r.column_privileges.length > 0)
    .map<RelationAccess>((r) => ({ subject: r.subject, schema: r.schema, name: r.name, privileges: r.privileges, columnPrivileges: r.column_privileges }));

  const relationGrants = (
    await q.query<RelationGrants>(
      `select n.nspname as schema, c.relname as name, pg_get_userbyid(c.relowner) as owner,
              ${grantsOf('c.relacl', 'r', 'c.relowner')} as grants,
              coalesce((select json_agg(json_build_object(
                  'column', a.attname,
                  'grantee', case when e.grantee = 0 then 'PUBLIC' else pg_get_userbyid(e.grantee) end,
                  'grantor', pg_get_userbyid(e.grantor), 'privilege', e.privilege_type, 'grantable', e.is_grantable)
                  order by a.attnum, e.grantee, e.privilege_type)
                 from pg_attribute a cross join lateral aclexplode(a.attacl) e
                where a.attrelid = c.oid and a.attacl is not null and not a.attisdropped), '[]'::json) as "columnGrants"
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p', 'v', 'm', 'f') and ${schemaFilter('n', '$1')}
          and (c.relacl is not null or exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attacl is not null))
        order by 1, 2`,
      [schemas],
    )
  ).rows;

  const defaultPrivileges = (
    await q.query<{ role: string; schema: string | null; type: string; grants: Grant[] }>(
      `select pg_get_userbyid(d.defaclrole) as role, n.nspname as schema, d.defaclobjtype::text as type,
              coalesce((select json_agg(json_build_object(
                  'grantee', case when e.grantee = 0 then 'PUBLIC' else pg_get_userbyid(e.grantee) end,
                  'grantor', pg_get_userbyid(e.grantor), 'privilege', e.privilege_type, 'grantable', e.is_grantable)
                  order by e.grantee, e.privilege_type)
                 from aclexplode(d.defaclacl) e), '[]'::json) as grants
         from pg_default_acl d left join pg_namespace n on n.oid = d.defaclnamespace
        order by 1, 2, 3`,
    )
  ).rows.map<DefaultPrivileges>((d) => ({
    role: d.role,
    schema: d.schema,
    objectType: ({ r: 'table', S: 'sequence', f: 'function', T: 'type', n: 'schema' } as const)[d.type as 'r'] ?? 'table',
    grants: d.grants,
  }));

  const schemaRows = (
    await q.query<{ name: string; owner: string; grants: Grant[] }>(
      `select n.nspname as name, pg_get_userbyid(n.nspowner) as owner, ${grantsOf('n.nspacl', 'n', 'n.nspowner')} as grants
         from pg_namespace n where ${schemaFilter('n', '$1')} order by 1`,
      [schemas],
    )
  ).rows;
  const schemaAccess = (
    await q.query<SchemaAccess>(
      `select s.rolname as subject, n.nspname as schema, has_schema_privilege(s.oid, n.oid, 'USAGE') as usage,
              has_schema_privilege(s.oid, n.oid, 'CREATE') as create
         from pg_namespace n cross join pg_roles s
        where s.rolname = any($2::text[]) and ${schemaFilter('n', '$1')} order by 1, 2`,
      [schemas, present],
    )
  ).rows;

  const databases = (
    await q.query<{ name: string; owner: string; allow: boolean; grants: Grant[] }>(
      `select d.datname as name, pg_get_userbyid(d.datdba) as owner, d.datallowconn as allow,
              ${grantsOf('d.datacl', 'd', 'd.datdba')} as grants
         from pg_database d where not d.datistemplate order by 1`,
    )
  ).rows.map<DatabaseInfo>((d) => ({ name: d.name, owner: d.owner, allowConnections: d.allow, grants: d.grants }));
  const databaseAccess = (
    await q.query<DatabaseAccess>(
      `select s.rolname as subject, d.datname as database, has_database_privilege(s.oid, d.oid, 'CONNECT') as connect,
              has_database_privilege(s.oid, d.oid, 'TEMPORARY') as temporary, has_database_privilege(s.oid, d.oid, 'CREATE') as create
         from pg_database d cross join pg_roles s
        where not d.datistemplate and s.rolname = any($1::text[]) order by 1, 2`,
      [present],
    )
  ).rows;

  const views = (
    await q.query<{ schema: string; name: string; relkind: string; owner: string; options: string[] | null; reads: { schema: string; name: string }[] }>(
      `select n.nspname as schema, c.relname as name, c.relkind::text as relkind, pg_get_userbyid(c.relowner) as owner,
              c.reloptions as options,
              coalesce((select json_agg(distinct jsonb_build_object('schema', rn.nspname, 'name', rc.relname))
                 from pg_rewrite rw
                 join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = rw.oid and d.refclassid = 'pg_class'::regclass
                 join pg_class rc on rc.oid = d.refobjid and rc.oid <> c.oid
                 join pg_namespace rn on rn.oid = rc.relnamespace
                where rw.ev_class = c.oid), '[]'::json) as reads
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('v', 'm') and ${schemaFilter('n', '$1')} order by 1, 2`,
      [schemas],
    )
  ).rows.map<ViewInfo>((v) => {
    const opts = (v.options ?? []).map((o) => o.toLowerCase());
    const on = (name: string) => opts.some((o) => o === `${name}=true` || o === `${name}=on` || o === `${name}=1` || o === `${name}=yes`);
    return {
      schema: v.schema,
      name: v.name,
      kind: v.relkind === 'm' ? 'materialized-view' : 'view',
      owner: v.owner,
      securityInvoker: on('security_invoker'),
      securityBarrier: on('security_barrier'),
      reads: v.reads,
    };
  });

  const foreignTables = (
    await q.query<ForeignTableInfo>(
      `select n.nspname as schema, c.relname as name, pg_get_userbyid(c.relowner) as owner, s.srvname as server,
              w.fdwname as wrapper,
              array(select a.attname::text from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped order by a.attnum)::text[] as columns
         from pg_foreign_table ft join pg_class c on c.oid = ft.ftrelid join pg_namespace n on n.oid = c.relnamespace
         join pg_foreign_server s on s.oid = ft.ftserver join pg_foreign_data_wrapper w on w.oid = s.srvfdw
        where ${schemaFilter('n', '$1')} order by 1, 2`,
      [schemas],
    )
  ).rows;

  const functionRows = (
    await q.query<{
      oid: number; schema: string; name: string; args: string; kind: string; owner: string; lang: string; secdef: boolean;
      config: string[] | null; src: string | null; depends: { schema: string; name: string }[]; grants: Grant[]; executable: string[];
    }>(
      `select p.oid::int as oid, n.nspname as schema, p.proname as name, pg_get_function_identity_arguments(p.oid) as args,
              p.prokind::text as kind, pg_get_userbyid(p.proowner) as owner, l.lanname as lang, p.prosecdef as secdef,
              p.proconfig as config, p.prosrc as src,
              coalesce((select json_agg(distinct jsonb_build_object('schema', rn.nspname, 'name', rc.relname))
                 from pg_depend d join pg_class rc on rc.oid = d.refobjid join pg_namespace rn on rn.oid = rc.relnamespace
                where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.refclassid = 'pg_class'::regclass), '[]'::json) as depends,
              ${grantsOf('p.proacl', 'f', 'p.proowner')} as grants,
              array(select s.rolname::text from pg_roles s where s.rolname = any($2::text[])
                      and has_function_privilege(s.oid, p.oid, 'EXECUTE') order by 1)::text[] as executable
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace join pg_language l on l.oid = p.prolang
        where ${schemaFilter('n', '$1')}
          and not exists (select 1 from pg_depend e where e.classid = 'pg_proc'::regclass and e.objid = p.oid and e.deptype = 'e')
        order by 2, 3, 4`,
      [schemas, present],
    )
  ).rows;
  const kinds = { f: 'function', p: 'procedure', a: 'aggregate', w: 'window' } as const;
  const functions = functionRows.map<FunctionInfo>((f) => ({
    oid: f.oid,
    schema: f.schema,
    name: f.name,
    arguments: f.args,
    kind: kinds[f.kind as 'f'] ?? 'function',
    owner: f.owner,
    language: f.lang,
    securityDefiner: f.secdef,
    config: f.config ?? [],
    searchPath: pinnedSearchPath(f.config ?? []),
    source: f.src ?? '',
    dependsOn: f.depends,
    grants: f.grants,
    executableBy: f.executable,
  }));

  const extensions = (
    await q.query<ExtensionInfo>(
      `select e.extname as name, e.extversion as version, n.nspname as schema
         from pg_extension e join pg_namespace n on n.oid = e.extnamespace order by 1`,
    )
  ).rows;

  const foreignAccess = (
    await q.query<ForeignAccess>(
      `select s.rolname as subject, 'wrapper' as kind, w.fdwname as name
         from pg_foreign_data_wrapper w cross join pg_roles s
        where s.rolname = any($1::text[]) and has_foreign_data_wrapper_privilege(s.oid, w.oid, 'USAGE')
       union all
       select s.rolname, 'server', f.srvname
         from pg_foreign_server f cross join pg_roles s
        where s.rolname = any($1::text[]) and has_server_privilege(s.oid, f.oid, 'USAGE')
       order by 1, 2, 3`,
      [present],
    )
  ).rows;

  const extensionFunctionAccess = (
    await q.query<ExtensionFunctionAccess>(
      `select distinct s.rolname as subject, e.extname as extension, p.proname as function
         from pg_extension e
         join pg_depend d on d.refclassid = 'pg_extension'::regclass and d.refobjid = e.oid and d.classid = 'pg_proc'::regclass and d.deptype = 'e'
         join pg_proc p on p.oid = d.objid cross join pg_roles s
        where e.extname = any($2::text[]) and s.rolname = any($1::text[]) and has_function_privilege(s.oid, p.oid, 'EXECUTE')
          and p.proname in ('dblink', 'dblink_connect', 'dblink_connect_u', 'dblink_exec')
        order by 1, 2, 3`,
      [present, [...crossDatabaseExtensions]],
    )
  ).rows;

  return {
    serverVersion: server.version,
    serverVersionNum: versionNum,
    database: server.db,
    currentUser: server.usr,
    roles,
    memberships,
    subjects,
    policies,
    relationAccess,
    relationGrants,
    defaultPrivileges,
    schemas: schemaRows,
    schemaAccess,
    databases,
    databaseAccess,
    views,
    foreignTables,
    functions,
    extensions,
    foreignAccess,
    extensionFunctionAccess,
  };
}
