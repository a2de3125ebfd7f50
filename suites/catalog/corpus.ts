/**
 * The red/green corpus: for every rule, a schema that violates it (the rule must fire) and the
 * correction (the rule must be silent). Data, not code: one loop in rule-corpus.test.ts proves
 * them all.
 *
 * SQL conventions:
 * - `@name` is replaced by `<prefix>_name`, a name unique to the fixture (roles and databases are
 *   cluster-wide, and test files run in parallel on one server).
 * - Statements are separated by `;` at end of line (dollar-quoted bodies are kept whole); a line
 *   `\c @db` moves the following statements to that database (database model).
 */
import type { IsolationModelName } from '../../src/index.ts';
import type { TargetConfig } from '../../src/index.ts';

export interface CorpusEntry {
  readonly rule: string;
  /** What this red case shows, for the test title. */
  readonly title: string;
  readonly model?: IsolationModelName;
  /** The violating schema, applied on top of the model's base schema. */
  readonly setup: string;
  /** Applied after `setup`: the corrected schema. */
  readonly fix: string;
  /** Other rules of severity ≥ high that rightly fire on the red case. */
  readonly alsoFires?: readonly string[];
  /** Target overrides (placeholders allowed), for red and for green. */
  readonly target?: Partial<TargetConfig>;
  readonly fixTarget?: Partial<TargetConfig>;
  /** Skip below this server_version_num (e.g. security_invoker needs 15). */
  readonly minVersion?: number;
  /** Some finding of the rule on the red case has this object / these observed fields (placeholders allowed). */
  readonly expect?: { readonly object?: string; readonly observed?: Readonly<Record<string, unknown>> };
}

const tenantPredicate = "tenant_id = current_setting('app.current_tenant')::uuid";

/** A tenant table with everything right: RLS forced, tenant policy, FK to tenants, index, grants. */
export function isolatedTable(name: string, columns: string, options: { fk?: boolean; index?: boolean } = {}): string {
  const { fk = true, index = true } = options;
  return `
create table ${name} (id uuid primary key default gen_random_uuid(), tenant_id uuid not null${fk ? ' references tenants (id)' : ''}${columns ? `, ${columns}` : ''});
${index ? `create index on ${name} (tenant_id);` : ''}
alter table ${name} enable row level security;
alter table ${name} force row level security;
create policy tenant_isolation on ${name} to @app using (${tenantPredicate}) with check (${tenantPredicate});
grant select, insert, update, delete on ${name} to @app;`;
}

/** rls model base: the way it should be done. Every rule is silent on it (asserted by the suite). */
export const rlsBase = `
create role @app login;
grant usage on schema public to @app;
create table tenants (id uuid primary key default gen_random_uuid(), name text not null);
alter table tenants enable row level security;
alter table tenants force row level security;
create policy tenant_isolation on tenants to @app using (id = current_setting('app.current_tenant')::uuid);
grant select on tenants to @app;
create table projects (id uuid primary key default gen_random_uuid(), tenant_id uuid not null references tenants (id), name text not null, unique (tenant_id, id));
alter table projects enable row level security;
alter table projects force row level security;
create policy tenant_isolation on projects to @app using (${tenantPredicate}) with check (${tenantPredicate});
grant select, insert, update, delete on projects to @app;
create table tasks (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants (id),
  project_id uuid not null,
  title text not null,
  foreign key (tenant_id, project_id) references projects (tenant_id, id)
);
create index on tasks (tenant_id, project_id);
alter table tasks enable row level security;
alter table tasks force row level security;
create policy tenant_isolation on tasks to @app using (${tenantPredicate}) with check (${tenantPredicate});
grant select, insert, update, delete on tasks to @app;
create table task_comments (id uuid primary key default gen_random_uuid(), task_id uuid not null references tasks (id), body text);
alter table task_comments enable row level security;
alter table task_comments force row level security;
create policy via_task on task_comments to @app
  using (exists (select 1 from tasks t where t.id = task_id and t.${tenantPredicate}))
  with check (exists (select 1 from tasks t where t.id = task_id and t.${tenantPredicate}));
grant select, insert, update, delete on task_comments to @app;
revoke execute on function pg_catalog.pg_stat_get_activity(integer), pg_catalog.pg_stat_get_backend_activity(integer) from public;`;

/** schema model base: two tenant schemas, each with its own role and nothing shared. */
export const schemaBase = `
create role @app login;
create role @t_a_role login;
create role @t_b_role login;
create schema @t_a;
create schema @t_b;
revoke all on schema @t_a from public;
revoke all on schema @t_b from public;
grant usage on schema @t_a to @t_a_role;
grant usage on schema @t_b to @t_b_role;
create table @t_a.invoices (id int primary key, amount numeric);
create table @t_b.invoices (id int primary key, amount numeric);
grant select, insert, update, delete on @t_a.invoices to @t_a_role;
grant select, insert, update, delete on @t_b.invoices to @t_b_role;`;

export const schemaTarget: Partial<TargetConfig> = { model: 'schema', schemaPattern: '@t\\_%', tenantRole: '{tenant}_role' };

/** database model base: two tenant databases, CONNECT only for each tenant's role. */
export const databaseBase = `
create role @app login;
create role @t_a_role login;
create role @t_b_role login;
create database @t_a;
create database @t_b;
revoke connect, temporary on database @t_a from public;
revoke connect, temporary on database @t_b from public;
grant connect on database @t_a to @t_a_role;
grant connect on database @t_b to @t_b_role;`;

export const databaseTarget: Partial<TargetConfig> = { model: 'database', databasePattern: '@t\\_%', tenantRole: '{tenant}_role' };

/** A `notes` tenant table with 100 rows of tenant a and 600 of tenant b, half of b's in one category. */
const notesOfTwoTenants = `${isolatedTable('notes', 'category text not null')}
insert into tenants (id, name) values ('00000000-0000-4000-8000-00000000000a', 'a'), ('00000000-0000-4000-8000-00000000000b', 'b');
insert into notes (tenant_id, category) select '00000000-0000-4000-8000-00000000000a', 'a-' || (i % 10) from generate_series(1, 100) i;
insert into notes (tenant_id, category) select '00000000-0000-4000-8000-00000000000b', case when i % 2 = 0 then 'acquisition-of-globex' else 'b-' || (i % 20) end from generate_series(1, 600) i;`;

const reinstatePolicy = `
drop policy if exists tenant_isolation on tasks;
create policy tenant_isolation on tasks to @app using (${tenantPredicate}) with check (${tenantPredicate});`;

/**
 * task_comments (no tenant column) scoped only through its parent: the subquery runs under the app
 * role's row security on tasks, so it sees the current tenant's tasks only (the pattern Supabase
 * recommends). No explicit tenant check inside the subquery.
 */
const viaTaskOnly = `
drop policy via_task on task_comments;
create policy via_task on task_comments to @app
  using (exists (select 1 from tasks t where t.id = task_id))
  with check (exists (select 1 from tasks t where t.id = task_id));`;

export const corpus: readonly CorpusEntry[] = [
  // ---------- roles ----------
  { rule: 'app-role-superuser', title: 'the app role is a superuser', setup: 'alter role @app superuser;', fix: 'alter role @app nosuperuser;' },
  { rule: 'app-role-bypassrls', title: 'the app role has BYPASSRLS', setup: 'alter role @app bypassrls;', fix: 'alter role @app nobypassrls;' },
  {
    rule: 'app-role-can-assume-privileged-role',
    title: 'the app role reaches a BYPASSRLS role through an intermediate role',
    setup: 'create role @maintenance bypassrls nologin;\ncreate role @ops nologin;\ngrant @maintenance to @ops;\ngrant @ops to @app;',
    fix: 'revoke @ops from @app;',
    expect: { observed: { canSetRoleTo: '@maintenance', attributes: ['BYPASSRLS'], path: ['@app', '@ops', '@maintenance'] } },
  },
  {
    rule: 'app-role-can-assume-privileged-role',
    title: 'the app role is a direct member of a superuser role',
    setup: 'create role @dba superuser nologin;\ngrant @dba to @app;',
    fix: 'revoke @dba from @app;',
  },
  // ---------- row level security ----------
  {
    rule: 'rls-disabled',
    title: 'a tenant table has neither RLS nor policies',
    setup: 'drop policy tenant_isolation on tasks;\nalter table tasks disable row level security;',
    fix: `alter table tasks enable row level security;${reinstatePolicy}`,
  },
  {
    rule: 'rls-disabled',
    title: 'a table scoped only through a foreign key has no RLS',
    setup: 'drop policy via_task on task_comments;\nalter table task_comments disable row level security;',
    fix: `alter table task_comments enable row level security;
create policy via_task on task_comments to @app using (exists (select 1 from tasks t where t.id = task_id and t.${tenantPredicate}));`,
  },
  {
    rule: 'policy-exists-rls-disabled',
    title: 'a tenant table has a policy but RLS is off',
    setup: 'alter table tasks disable row level security;',
    fix: 'alter table tasks enable row level security;',
  },
  { rule: 'rls-enabled-no-policy', title: 'RLS is on but no policy exists', setup: 'drop policy tenant_isolation on tasks;', fix: reinstatePolicy },
  {
    rule: 'rls-not-forced',
    title: 'the app role owns a tenant table without FORCE',
    setup: 'alter table tasks owner to @app;\nalter table tasks no force row level security;',
    fix: 'alter table tasks owner to current_user;',
    expect: { object: 'public.tasks', observed: { role: '@app', relation: 'owner' } },
  },
  {
    rule: 'rls-not-forced',
    title: 'the app role inherits from the owner of a tenant table without FORCE',
    setup: 'create role @owner nologin;\ncreate role @middle nologin;\ngrant @owner to @middle;\ngrant @middle to @app;\nalter table tasks owner to @owner;\nalter table tasks no force row level security;',
    fix: 'alter table tasks force row level security;\nrevoke @middle from @app;',
    expect: { object: 'public.tasks', observed: { owner: '@owner', relation: 'inherits' } },
  },
  {
    rule: 'rls-not-forced',
    title: 'a NOINHERIT app role can SET ROLE to the owner of a tenant table without FORCE',
    setup: 'create role @owner nologin;\nalter role @app noinherit;\ngrant @owner to @app;\nalter table projects owner to @owner;\nalter table projects no force row level security;',
    fix: 'revoke @owner from @app;',
    expect: { object: 'public.projects', observed: { owner: '@owner', relation: 'can-set-role' } },
  },
  {
    rule: 'app-role-owns-tenant-table',
    title: 'the app role owns a tenant table (RLS forced)',
    setup: 'alter table projects owner to @app;',
    fix: 'alter table projects owner to current_user;',
  },
  {
    rule: 'tenants-table-without-rls',
    title: 'every tenant context can list all tenants',
    setup: 'alter table tenants disable row level security;',
    fix: 'alter table tenants enable row level security;',
  },
  // ---------- policies ----------
  {
    rule: 'policy-read-not-tenant-scoped',
    title: 'an extra permissive SELECT policy USING (true)',
    setup: 'create policy read_all on tasks for select to @app using (true);',
    fix: `create policy tenant_guard on tasks as restrictive to @app using (${tenantPredicate}) with check (${tenantPredicate});`,
  },
  {
    rule: 'policy-read-not-tenant-scoped',
    title: 'a PUBLIC policy that checks a role name only',
    setup: "create policy staff_read on projects for select using (current_user = 'support');",
    fix: 'drop policy staff_read on projects;',
  },
  {
    rule: 'policy-read-not-tenant-scoped',
    title: "an uncorrelated EXISTS on the parent admits every child row once the tenant has any task (fixed: correlated with the child's foreign key)",
    setup: `drop policy via_task on task_comments;
create policy via_task on task_comments to @app using (exists (select 1 from tasks t)) with check (exists (select 1 from tasks t));`,
    fix: viaTaskOnly,
    alsoFires: ['policy-write-not-tenant-checked'],
    expect: { object: 'policy via_task on public.task_comments', observed: { role: '@app', commands: ['SELECT', 'UPDATE', 'DELETE'] } },
  },
  {
    rule: 'policy-read-not-tenant-scoped',
    title: 'a child policy correlated with its parent, whose row security is disabled',
    setup: `${viaTaskOnly}
alter table tasks disable row level security;`,
    fix: 'alter table tasks enable row level security;',
    alsoFires: ['policy-exists-rls-disabled', 'policy-write-not-tenant-checked'],
    expect: { object: 'policy via_task on public.task_comments' },
  },
  {
    rule: 'policy-read-not-tenant-scoped',
    title: 'a child policy correlated with its parent, which the app role owns without FORCE (rls-not-forced fires on the parent too)',
    setup: `${viaTaskOnly}
alter table tasks owner to @app;
alter table tasks no force row level security;`,
    fix: 'alter table tasks owner to current_user;',
    alsoFires: ['rls-not-forced', 'policy-write-not-tenant-checked'],
    expect: { object: 'policy via_task on public.task_comments', observed: { role: '@app' } },
  },
  {
    rule: 'policy-read-not-tenant-scoped',
    title: 'a child policy correlated with a parent whose own SELECT policy is not tenant-bound',
    setup: `${viaTaskOnly}
create policy read_all on tasks for select to @app using (true);`,
    fix: 'drop policy read_all on tasks;',
    alsoFires: ['policy-write-not-tenant-checked'],
    expect: { object: 'policy via_task on public.task_comments' },
  },
  {
    rule: 'policy-read-not-tenant-scoped',
    title: 'a grandchild matched to its parent on a non-key column (fixed: IN over the foreign key, through comments to tasks)',
    setup: `${viaTaskOnly}
create table comment_attachments (id uuid primary key default gen_random_uuid(), comment_id uuid not null references task_comments (id), name text);
alter table comment_attachments enable row level security;
alter table comment_attachments force row level security;
create policy via_comment on comment_attachments to @app using (exists (select 1 from task_comments c where c.body = name));
grant select, insert, update, delete on comment_attachments to @app;`,
    fix: `drop policy via_comment on comment_attachments;
create policy via_comment on comment_attachments to @app using (comment_id in (select c.id from task_comments c));`,
    alsoFires: ['policy-write-not-tenant-checked'],
    expect: { object: 'policy via_comment on public.comment_attachments' },
  },
  {
    rule: 'policy-write-not-tenant-checked',
    title: 'an INSERT policy WITH CHECK (true)',
    setup: 'create policy insert_any on tasks for insert to @app with check (true);',
    fix: `drop policy insert_any on tasks;\ncreate policy insert_own on tasks for insert to @app with check (${tenantPredicate});`,
  },

  {
    rule: 'policy-write-not-tenant-checked',
    title: 'a FOR ALL policy USING (true) with no WITH CHECK (the check defaults to USING)',
    setup: 'drop policy tenant_isolation on tasks;\ncreate policy anything on tasks to @app using (true);',
    fix: `drop policy anything on tasks;${reinstatePolicy}`,
    alsoFires: ['policy-read-not-tenant-scoped'],
  },
  {
    rule: 'policy-write-not-tenant-checked',
    title: 'an UPDATE policy that checks the old row but not the new one',
    setup: `drop policy tenant_isolation on tasks;
create policy tenant_read on tasks for select to @app using (${tenantPredicate});
create policy tenant_update on tasks for update to @app using (${tenantPredicate}) with check (true);`,
    fix: `drop policy tenant_update on tasks;\ncreate policy tenant_update on tasks for update to @app using (${tenantPredicate}) with check (${tenantPredicate});`,
  },
  {
    rule: 'policy-or-widens',
    title: 'the tenant predicate ORed with a public flag',
    setup: `alter table tasks add column is_public boolean not null default false;
drop policy tenant_isolation on tasks;
create policy tenant_isolation on tasks to @app using (${tenantPredicate} or is_public) with check (${tenantPredicate});`,
    fix: `drop policy tenant_isolation on tasks;
create policy tenant_isolation on tasks to @app using (${tenantPredicate} and (is_public or true)) with check (${tenantPredicate});`,
  },
  {
    rule: 'policy-fails-open',
    title: 'COALESCE falls back to the row\'s own tenant when the setting is missing',
    setup: `drop policy tenant_isolation on tasks;
create policy tenant_isolation on tasks to @app
  using (tenant_id = coalesce(nullif(current_setting('app.current_tenant', true), '')::uuid, tenant_id))
  with check (${tenantPredicate});`,
    fix: reinstatePolicy,
  },
  {
    rule: 'policy-fails-open',
    title: 'LIKE against the setting matches every tenant when it is empty',
    setup: `drop policy tenant_isolation on tasks;
create policy tenant_isolation on tasks to @app
  using (tenant_id::text like current_setting('app.current_tenant', true) || '%')
  with check (${tenantPredicate});`,
    fix: reinstatePolicy,
  },
  {
    rule: 'policy-fails-open',
    title: "an OR branch lets everything through when the setting is ''",
    setup: `drop policy tenant_isolation on tasks;
create policy tenant_isolation on tasks to @app
  using (current_setting('app.current_tenant', true) = '' or ${tenantPredicate})
  with check (${tenantPredicate});`,
    fix: `drop policy tenant_isolation on tasks;
create policy tenant_isolation on tasks to @app
  using (current_setting('app.current_tenant', true) <> '' and ${tenantPredicate})
  with check (${tenantPredicate});`,
  },
  {
    rule: 'policy-untrusted-setting',
    title: 'a policy reads a session-settable flag (ANDed: no widening)',
    setup: `drop policy tenant_isolation on tasks;
create policy tenant_isolation on tasks to @app
  using (${tenantPredicate} and current_setting('app.plan', true) <> 'suspended')
  with check (${tenantPredicate});`,
    fix: reinstatePolicy,
  },
  {
    rule: 'policy-untrusted-setting',
    title: 'a helper function in the policy reads a session-settable setting',
    setup: `create function is_suspended() returns boolean language sql stable set search_path = pg_catalog as $$ select current_setting('app.suspended', true) = 'on' $$;
drop policy tenant_isolation on tasks;
create policy tenant_isolation on tasks to @app using (${tenantPredicate} and not is_suspended()) with check (${tenantPredicate});`,
    fix: reinstatePolicy,
  },
  {
    rule: 'policy-untrusted-setting',
    title: 'an admin flag any session can set ORed with the tenant predicate',
    setup: `drop policy tenant_isolation on tasks;
create policy tenant_isolation on tasks to @app
  using (${tenantPredicate} or current_setting('app.is_admin', true) = 'on')
  with check (${tenantPredicate});`,
    fix: reinstatePolicy,
    alsoFires: ['policy-or-widens'],
  },
  // ---------- objects ----------
  {
    rule: 'view-bypasses-rls',
    title: 'a view owned by a superuser, without security_invoker',
    setup: 'create view task_titles as select id, tenant_id, title from tasks;\ngrant select on task_titles to @app;',
    expect: { object: 'public.task_titles', observed: { readers: ['@app'], securityInvoker: false } },
    fix: 'alter view task_titles set (security_invoker = true);',
    minVersion: 150000,
  },
  {
    rule: 'view-bypasses-rls',
    title: 'a view over a view, owned by a BYPASSRLS role',
    setup: `create role @reporting bypassrls nologin;
grant select on tasks to @reporting;
create view open_tasks as select * from tasks;
create view open_task_titles as select title from open_tasks;
alter view open_tasks owner to @reporting;
alter view open_task_titles owner to @reporting;
grant select on open_task_titles to @app;`,
    fix: 'revoke select on open_task_titles from @app;',
  },
  {
    rule: 'materialized-view-exposes-tenant-data',
    title: 'a materialized view of per-tenant counts readable by the app role',
    setup: 'create materialized view task_counts as select tenant_id, count(*) as n from tasks group by tenant_id;\ngrant select on task_counts to @app;',
    fix: 'revoke select on task_counts from @app;',
  },
  {
    rule: 'foreign-table-exposes-tenant-data',
    title: 'a foreign table with a tenant column readable by the app role',
    setup: `create foreign data wrapper @fdw;
create server @remote foreign data wrapper @fdw;
create foreign table remote_tasks (id uuid, tenant_id uuid, title text) server @remote;
grant select on remote_tasks to @app;`,
    fix: 'revoke select on remote_tasks from @app;',
  },
  {
    rule: 'security-definer-reads-tenant-data',
    title: 'a SQL SECURITY DEFINER function (EXECUTE to PUBLIC by default) returns all tasks',
    setup: 'create function all_tasks() returns setof tasks language sql security definer set search_path = public as $$ select * from tasks $$;',
    fix: 'alter function all_tasks() security invoker;',
    expect: { object: 'function public.all_tasks()', observed: { publicExecute: true, executableBy: ['@app'] } },
  },
  {
    rule: 'security-definer-reads-tenant-data',
    title: 'a PL/pgSQL SECURITY DEFINER function counts every tenant\'s projects',
    setup: `create function project_count() returns bigint language plpgsql security definer set search_path = public as $$
begin
  return (select count(*) from public.projects);
end
$$;`,
    fix: 'revoke execute on function project_count() from public;',
  },
  {
    rule: 'security-definer-search-path-mutable',
    title: 'a SECURITY DEFINER function without SET search_path',
    setup: 'create function whoami() returns text language sql security definer as $$ select current_user::text $$;',
    fix: 'alter function whoami() set search_path = pg_catalog, pg_temp;',
  },
  {
    rule: 'function-search-path-mutable',
    title: 'an ordinary function without SET search_path',
    setup: 'create function add_one(i int) returns int language sql as $$ select i + 1 $$;',
    fix: 'alter function add_one(int) set search_path = pg_catalog;',
  },
  // ---------- grants, keys, columns ----------
  {
    rule: 'dangerous-grant-on-tenant-table',
    title: 'TRUNCATE and TRIGGER granted to the app role',
    setup: 'grant truncate, trigger on tasks to @app;',
    fix: 'revoke truncate, trigger on tasks from @app;',
  },
  {
    rule: 'dangerous-grant-on-tenant-table',
    title: 'column REFERENCES granted to PUBLIC',
    setup: 'grant references (project_id) on tasks to public;',
    fix: 'revoke references (project_id) on tasks from public;',
  },
  {
    rule: 'default-privileges-too-broad',
    title: 'future tables will be readable by PUBLIC',
    setup: 'alter default privileges in schema public grant select on tables to public;',
    fix: 'alter default privileges in schema public revoke select on tables from public;',
  },
  {
    rule: 'default-privileges-too-broad',
    title: 'future tables will grant TRUNCATE to the app role',
    setup: 'alter default privileges grant select, insert, update, delete, truncate on tables to @app;',
    fix: 'alter default privileges revoke truncate on tables from @app;',
  },
  {
    rule: 'unique-without-tenant-column',
    title: 'a unique constraint on a natural key without tenant_id',
    setup: 'alter table tasks add column code text;\nalter table tasks add constraint tasks_code_key unique (code);',
    fix: 'alter table tasks drop constraint tasks_code_key;\nalter table tasks add constraint tasks_code_key unique (tenant_id, code);',
  },
  {
    rule: 'unique-without-tenant-column',
    title: 'a unique expression index without tenant_id',
    setup: 'create unique index tasks_title_lower on tasks (lower(title));',
    fix: 'drop index tasks_title_lower;\ncreate unique index tasks_title_lower on tasks (tenant_id, lower(title));',
  },
  {
    rule: 'foreign-key-without-tenant-column',
    title: 'a foreign key to another tenant table by id alone',
    setup: 'alter table tasks add column blocked_by uuid references tasks (id);',
    fix: `alter table tasks drop column blocked_by;
alter table tasks add constraint tasks_tenant_id_id_key unique (tenant_id, id);
alter table tasks add column blocked_by uuid;
alter table tasks add foreign key (tenant_id, blocked_by) references tasks (tenant_id, id);`,
  },
  {
    rule: 'tenant-column-nullable',
    title: 'tenant_id allows NULL',
    setup: 'alter table tasks alter column tenant_id drop not null;',
    fix: 'alter table tasks alter column tenant_id set not null;',
  },
  {
    rule: 'tenant-column-without-foreign-key',
    title: 'tenant_id references nothing',
    setup: isolatedTable('notes', 'body text', { fk: false }),
    fix: 'alter table notes add foreign key (tenant_id) references tenants (id);',
  },
  {
    rule: 'tenant-column-not-indexed',
    title: 'no index starts with tenant_id',
    setup: isolatedTable('notes', 'body text', { index: false }),
    fix: 'create index on notes (tenant_id);',
  },
  {
    rule: 'shared-sequence-on-tenant-table',
    title: 'a bigserial id on a tenant table',
    setup: 'alter table tasks add column number bigserial;',
    fix: 'alter table tasks drop column number;',
  },
  {
    rule: 'shared-sequence-on-tenant-table',
    title: 'an identity column on a tenant table',
    setup: 'alter table projects add column seq int generated always as identity;',
    fix: 'alter table projects drop column seq;',
  },
  {
    rule: 'cross-database-extension-available',
    title: 'dblink installed where the app role can execute it (rls model)',
    setup: 'create extension dblink;',
    fix: 'drop extension dblink;',
  },
  {
    rule: 'schema-create-to-public',
    title: 'PUBLIC may create objects in a shared schema',
    setup: 'create schema shared;\ngrant usage, create on schema shared to public;',
    fix: 'revoke create on schema shared from public;',
  },
  // ---------- schema model ----------
  {
    rule: 'schema-cross-tenant-access',
    title: "tenant a's role has USAGE on tenant b's schema",
    model: 'schema',
    setup: 'grant usage on schema @t_b to @t_a_role;',
    fix: 'revoke usage on schema @t_b from @t_a_role;',
  },
  {
    rule: 'schema-cross-tenant-access',
    title: "tenant a's role inherits CREATE on tenant b's schema from a shared role",
    model: 'schema',
    setup: 'create role @shared nologin;\ngrant create on schema @t_b to @shared;\ngrant @shared to @t_a_role;',
    fix: 'revoke @shared from @t_a_role;',
  },
  {
    rule: 'schema-public-access',
    title: 'PUBLIC has USAGE on a tenant schema',
    model: 'schema',
    setup: 'grant usage on schema @t_b to public;',
    fix: 'revoke usage on schema @t_b from public;',
  },
  {
    rule: 'schema-public-access',
    title: 'PUBLIC has SELECT on a table in a tenant schema',
    model: 'schema',
    setup: 'grant select on @t_b.invoices to public;',
    fix: 'revoke select on @t_b.invoices from public;',
  },
  {
    rule: 'schema-public-access',
    title: 'PUBLIC has column UPDATE on a table in a tenant schema',
    model: 'schema',
    setup: 'grant update (amount) on @t_a.invoices to public;',
    fix: 'revoke update (amount) on @t_a.invoices from public;',
  },
  {
    rule: 'schema-isolation-by-search-path',
    title: 'one shared app role reaches every tenant schema (no tenant roles)',
    model: 'schema',
    setup: 'grant usage on schema @t_a to @app;\ngrant usage on schema @t_b to @app;',
    target: { tenantRole: null },
    fix: 'revoke usage on schema @t_a from @app;\nrevoke usage on schema @t_b from @app;',
    fixTarget: { tenantRole: '{tenant}_role' },
  },
  {
    rule: 'schema-isolation-by-search-path',
    title: 'the app role inherits USAGE on every tenant schema from the tenant roles',
    model: 'schema',
    setup: 'grant @t_a_role to @app;\ngrant @t_b_role to @app;',
    fix: 'revoke @t_a_role from @app;\nrevoke @t_b_role from @app;',
  },
  {
    rule: 'security-definer-reads-tenant-data',
    title: "a SECURITY DEFINER function anyone may execute reads a tenant schema's table (fixed: it reads a shared table of the same name)",
    model: 'schema',
    setup: 'create function public.invoice_count() returns bigint language sql security definer set search_path = pg_catalog as $$ select count(*) from @t_b.invoices $$;',
    fix: `create table public.invoices (id int primary key);
create or replace function public.invoice_count() returns bigint language sql security definer set search_path = pg_catalog as $$ select count(*) from public.invoices $$;`,
    expect: { object: 'function public.invoice_count()', observed: { executableBy: ['@app', '@t_a_role', '@t_b_role'] } },
  },
  // ---------- database model ----------
  {
    rule: 'database-public-connect',
    title: 'a tenant database keeps the default CONNECT/TEMPORARY to PUBLIC',
    model: 'database',
    setup: 'grant connect, temporary on database @t_b to public;',
    fix: 'revoke connect, temporary on database @t_b from public;',
  },
  {
    rule: 'database-cross-tenant-connect',
    title: "tenant a's role may connect to tenant b's database",
    model: 'database',
    setup: 'grant connect on database @t_b to @t_a_role;',
    fix: 'revoke connect on database @t_b from @t_a_role;',
    expect: { object: 'database @t_b', observed: { role: '@t_a_role', owns: false } },
  },
  {
    rule: 'database-cross-tenant-connect',
    title: "tenant a's role inherits ownership of tenant b's database",
    model: 'database',
    setup: 'create role @dbowners nologin;\nalter database @t_b owner to @dbowners;\ngrant @dbowners to @t_a_role;',
    fix: 'revoke @dbowners from @t_a_role;',
  },
  {
    rule: 'security-definer-search-path-mutable',
    title: 'a SECURITY DEFINER function without SET search_path inside a tenant database',
    model: 'database',
    setup: '\\c @t_a\ncreate function whoami() returns text language sql security definer as $$ select current_user::text $$;',
    fix: '\\c @t_a\nalter function whoami() set search_path = pg_catalog, pg_temp;',
  },
  {
    rule: 'cross-database-extension-available',
    title: 'dblink installed in a tenant database (EXECUTE to PUBLIC)',
    model: 'database',
    setup: '\\c @t_a\ncreate extension dblink;',
    fix: '\\c @t_a\ndrop extension dblink;',
  },
  {
    rule: 'cross-database-extension-available',
    title: 'postgres_fdw usable by a tenant role in the schema model',
    model: 'schema',
    setup: 'create extension postgres_fdw;\ngrant usage on foreign data wrapper postgres_fdw to @t_a_role;',
    fix: 'revoke usage on foreign data wrapper postgres_fdw from @t_a_role;',
  },
  // ---------- side channels ----------
  {
    rule: 'rls-planner-statistics-exposed',
    title: "ANALYZE gathered statistics over every tenant's notes (fixed: statistics off, and the gathered ones dropped)",
    setup: `${notesOfTwoTenants}
analyze notes;`,
    fix: `alter table notes alter column id set statistics 0, alter column tenant_id set statistics 0, alter column category set statistics 0;
delete from pg_statistic where starelid = 'public.notes'::regclass;`,
    expect: { object: 'public.notes', observed: { tenantColumn: true, readers: ['@app'], source: 'pg_statistic' } },
  },
  {
    rule: 'rls-planner-statistics-exposed',
    title: 'a multi-column MCV list outlives the column statistics it was built with (fixed: DROP STATISTICS)',
    setup: `${notesOfTwoTenants}
create statistics notes_tenant_category (mcv) on tenant_id, category from notes;
analyze notes;
alter table notes alter column id set statistics 0, alter column tenant_id set statistics 0, alter column category set statistics 0;
delete from pg_statistic where starelid = 'public.notes'::regclass;`,
    fix: 'drop statistics notes_tenant_category;',
    expect: { object: 'public.notes', observed: { columns: [], extendedStatistics: ['public.notes_tenant_category'] } },
  },
  {
    rule: 'exclusion-without-tenant-column',
    title: "room bookings must not overlap across tenants: an insert is refused exactly when another tenant's booking overlaps",
    setup: `create extension btree_gist;
${isolatedTable('bookings', 'room int not null, during tstzrange not null')}
alter table bookings add constraint bookings_no_overlap exclude using gist (room with =, during with &&);`,
    fix: 'alter table bookings drop constraint bookings_no_overlap, add constraint bookings_no_overlap exclude using gist (tenant_id with =, room with =, during with &&);',
    expect: { object: 'public.bookings (bookings_no_overlap)', observed: { columns: ['room', 'during'], operators: ['=', '&&'] } },
  },
  {
    rule: 'notify-from-tenant-table',
    title: "a trigger publishes each new task's title on a channel every session may LISTEN to (fixed: the trigger is dropped; one that notifies only an id still fires, as it still shows other tenants' activity)",
    setup: `create function notify_task() returns trigger language plpgsql set search_path = pg_catalog as $$
begin
  perform pg_notify('tasks', new.title);
  return new;
end
$$;
create trigger notify_task after insert on tasks for each row execute function notify_task();`,
    fix: `drop trigger notify_task on tasks;
drop function notify_task();`,
    expect: { object: 'trigger notify_task on public.tasks', observed: { function: 'notify_task()' } },
  },
  {
    rule: 'stat-activity-visible-to-app-role',
    title: "the pooled app role may execute the activity functions (PostgreSQL's default)",
    setup: 'grant execute on function pg_catalog.pg_stat_get_activity(integer), pg_catalog.pg_stat_get_backend_activity(integer) to public;',
    fix: 'revoke execute on function pg_catalog.pg_stat_get_activity(integer), pg_catalog.pg_stat_get_backend_activity(integer) from public;',
    expect: { object: 'role @app', observed: { executable: ['pg_stat_get_activity(integer)', 'pg_stat_get_backend_activity(integer)'], readAllStats: false } },
  },
  {
    rule: 'stat-activity-visible-to-app-role',
    title: 'only SELECT on the view is revoked: pg_stat_get_backend_activity still answers',
    setup: 'revoke select on pg_catalog.pg_stat_activity from public;\ngrant execute on function pg_catalog.pg_stat_get_backend_activity(integer) to public;',
    fix: 'revoke execute on function pg_catalog.pg_stat_get_backend_activity(integer) from public;',
    expect: { object: 'role @app', observed: { executable: ['pg_stat_get_backend_activity(integer)'] } },
  },
  {
    rule: 'stat-activity-visible-to-app-role',
    title: "a tenant role holds pg_read_all_stats: it reads every role's statements (schema model)",
    model: 'schema',
    setup: 'grant pg_read_all_stats to @t_a_role;',
    fix: 'revoke pg_read_all_stats from @t_a_role;',
    expect: { object: 'role @t_a_role', observed: { readAllStats: true } },
  },
];
