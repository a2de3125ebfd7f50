/**
 * Convention corpora: schemas written the way real multi-tenant databases tell PostgreSQL who is
 * asking — Supabase/PostgREST (auth.uid(), memberships, definer helpers, anon), role per tenant
 * (RESTRICTIVE policies over a permissive USING (true)), PostGraphile (jwt.claims.* settings, a
 * sessions table, organisation memberships). Each base is correct: no finding of severity high or
 * critical (false alarms are defects). Each case breaks one thing (red: its rule fires) and puts it
 * right (green: silent, and nothing high or critical anywhere).
 *
 * Same SQL conventions as corpus.ts (`@name` → per-fixture name). Supabase's roles `anon`,
 * `authenticated` and `service_role` are cluster-wide and keep Supabase's names (the convention is
 * recognised by them); they are created once per server if missing and own nothing.
 */
import type { FixtureBase } from './harness.ts';
import type { CorpusEntry } from './corpus.ts';

export type ConventionName = 'supabase' | 'role-per-tenant' | 'postgraphile';

export interface ConventionEntry extends CorpusEntry {
  readonly convention: ConventionName;
}

/** Supabase: auth schema and uid() as Supabase defines them, its three roles, its default grants. */
const supabaseSql = `
do $$ begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then create role anon nologin noinherit; end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then create role authenticated nologin noinherit; end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then create role service_role nologin noinherit bypassrls; end if;
end $$;
alter role service_role bypassrls;
create schema auth;
create table auth.users (id uuid primary key, email text, raw_user_meta_data jsonb, raw_app_meta_data jsonb);
create function auth.uid() returns uuid language sql stable set search_path = '' as $$
  select coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''), (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid
$$;
create function auth.jwt() returns jsonb language sql stable set search_path = '' as $$
  select coalesce(nullif(current_setting('request.jwt.claim', true), ''), nullif(current_setting('request.jwt.claims', true), ''))::jsonb
$$;
grant usage on schema auth to anon, authenticated, service_role;
grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public grant select, insert, update, delete on tables to anon, authenticated, service_role;
alter default privileges in schema public grant usage, select on sequences to anon, authenticated, service_role;
create table accounts (id uuid primary key default gen_random_uuid(), name text not null);
create table account_members (
  account_id uuid not null references accounts (id),
  user_id uuid not null references auth.users (id),
  role text not null default 'member' check (role in ('owner', 'member')),
  primary key (account_id, user_id)
);
create index on account_members (user_id);
create table profiles (id uuid primary key references auth.users (id), display_name text);
create table documents (id uuid primary key default gen_random_uuid(), account_id uuid not null references accounts (id), created_by uuid references auth.users (id), title text not null);
create index on documents (account_id);
create index on documents (created_by);
create table document_comments (id uuid primary key default gen_random_uuid(), document_id uuid not null references documents (id), body text not null);
create index on document_comments (document_id);
create table price_list (id serial primary key, product text not null, price_cents int not null);
create function public.is_member(p_account_id uuid) returns boolean language sql stable security definer set search_path = '' as $$
  select exists (select 1 from public.account_members m where m.account_id = p_account_id and m.user_id = auth.uid())
$$;
create function private_accounts_with_role(p_role text default null) returns setof uuid language sql stable security definer set search_path = '' as $$
  select m.account_id from public.account_members m where m.user_id = auth.uid() and (p_role is null or m.role = p_role)
$$;
alter table accounts enable row level security;
alter table account_members enable row level security;
alter table profiles enable row level security;
alter table documents enable row level security;
alter table document_comments enable row level security;
alter table price_list enable row level security;
create policy members_read_accounts on accounts for select to authenticated using (public.is_member(id));
create policy read_memberships on account_members for select to authenticated using (user_id = (select auth.uid()) or public.is_member(account_id));
create policy owners_add_members on account_members for insert to authenticated with check (account_id in (select private_accounts_with_role('owner')));
create policy read_own_profile on profiles for select to authenticated using (id = (select auth.uid()));
create policy update_own_profile on profiles for update to authenticated using (id = (select auth.uid())) with check (id = (select auth.uid()));
create policy members_read_documents on documents for select to authenticated using (account_id in (select private_accounts_with_role()));
create policy members_add_documents on documents for insert to authenticated with check (public.is_member(account_id) and created_by = (select auth.uid()));
create policy members_update_documents on documents for update to authenticated using (public.is_member(account_id)) with check (public.is_member(account_id));
create policy members_delete_documents on documents for delete to authenticated
  using (exists (select 1 from public.account_members m where m.account_id = documents.account_id and m.user_id = auth.uid()));
create policy via_document on document_comments for all to authenticated
  using (exists (select 1 from documents d where d.id = document_id))
  with check (exists (select 1 from documents d where d.id = document_id));
create policy anyone_reads_prices on price_list for select to anon, authenticated using (true);
revoke insert, update, delete on price_list from anon, authenticated;`;

const supabaseTarget = { appRole: 'authenticated', tenantTable: 'public.accounts', tenantColumn: 'account_id', tenantSetting: 'request.jwt.claims' };

/** Role per tenant: each tenant is a database role; a RESTRICTIVE policy over a permissive USING (true). */
const restrictiveTenant = '(tenant_id = (select t.id from tenants t where t.db_user = current_user))';
const rolePerTenantSql = `
create role @tenant nologin;
create role @t_a login in role @tenant;
create role @t_b login in role @tenant;
grant usage on schema public to @tenant;
create table tenants (id uuid primary key default gen_random_uuid(), name text not null, db_user name not null unique);
alter table tenants enable row level security;
alter table tenants force row level security;
create policy own_tenant on tenants for select to @tenant using (db_user = current_user);
grant select on tenants to @tenant;
create table clients (id uuid primary key default gen_random_uuid(), tenant_id uuid not null references tenants (id), name text not null, unique (tenant_id, id));
create table grants_log (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenants (id),
  client_id uuid not null,
  scope text not null,
  foreign key (tenant_id, client_id) references clients (tenant_id, id)
);
create index on grants_log (tenant_id, client_id);
alter table clients enable row level security;
alter table clients force row level security;
alter table grants_log enable row level security;
alter table grants_log force row level security;
create policy allow_all on clients to @tenant using (true) with check (true);
create policy tenant_only on clients as restrictive to @tenant using ${restrictiveTenant} with check ${restrictiveTenant};
create policy allow_all on grants_log to @tenant using (true) with check (true);
create policy tenant_only on grants_log as restrictive to @tenant using ${restrictiveTenant} with check ${restrictiveTenant};
grant select, insert, update, delete on clients, grants_log to @tenant;`;

/** PostGraphile: jwt.claims.session_id, a private sessions table, organisation memberships through definer helpers. */
const postgraphileSql = `
create role @visitor nologin;
grant usage on schema public to @visitor;
create schema @app_public;
create schema @app_private;
revoke all on schema @app_private from public;
grant usage on schema @app_public to @visitor;
create table @app_public.users (id serial primary key, username text not null unique);
create table @app_private.sessions (uuid uuid primary key default gen_random_uuid(), user_id int not null references @app_public.users (id), created_at timestamptz not null default now());
create index on @app_private.sessions (user_id);
create function @app_public.current_session_id() returns uuid language sql stable set search_path = pg_catalog as $$
  select nullif(current_setting('jwt.claims.session_id', true), '')::uuid
$$;
create function @app_public.current_user_id() returns int language sql stable security definer set search_path = pg_catalog as $$
  select user_id from @app_private.sessions where uuid = @app_public.current_session_id()
$$;
create table @app_public.organizations (id serial primary key, name text not null);
create table @app_public.organization_memberships (
  id serial primary key,
  organization_id int not null references @app_public.organizations (id),
  user_id int not null references @app_public.users (id),
  is_owner boolean not null default false,
  unique (organization_id, user_id)
);
create index on @app_public.organization_memberships (user_id);
create function @app_public.current_user_member_organization_ids() returns setof int language sql stable security definer set search_path = pg_catalog as $$
  select organization_id from @app_public.organization_memberships where user_id = @app_public.current_user_id()
$$;
create table @app_public.projects (id serial primary key, organization_id int not null references @app_public.organizations (id), name text not null);
create index on @app_public.projects (organization_id);
alter table @app_public.users enable row level security;
alter table @app_public.organizations enable row level security;
alter table @app_public.organization_memberships enable row level security;
alter table @app_public.projects enable row level security;
create policy select_all on @app_public.users for select to @visitor using (true);
create policy select_member on @app_public.organizations for select to @visitor using (id in (select @app_public.current_user_member_organization_ids()));
create policy select_member on @app_public.organization_memberships for select to @visitor using (organization_id in (select @app_public.current_user_member_organization_ids()));
create policy select_member on @app_public.projects for select to @visitor using (organization_id in (select @app_public.current_user_member_organization_ids()));
create policy insert_member on @app_public.projects for insert to @visitor with check (organization_id in (select @app_public.current_user_member_organization_ids()));
create policy update_member on @app_public.projects for update to @visitor using (organization_id in (select @app_public.current_user_member_organization_ids()));
grant select on @app_public.users, @app_public.organizations, @app_public.organization_memberships to @visitor;
grant select, insert, update on @app_public.projects to @visitor;
grant usage on sequence @app_public.projects_id_seq to @visitor;`;

export const conventionBases: Record<ConventionName, FixtureBase> = {
  supabase: { sql: supabaseSql, target: supabaseTarget },
  'role-per-tenant': { sql: rolePerTenantSql, target: { appRole: '@tenant', tenantTable: 'public.tenants', tenantColumn: 'tenant_id', tenantSetting: 'app.current_tenant' } },
  postgraphile: { sql: postgraphileSql, target: { appRole: '@visitor', tenantTable: '@app_public.organizations', tenantColumn: 'organization_id', tenantSetting: 'jwt.claims.session_id' } },
};

const restoreOwnersAddMembers = `
create policy owners_add_members on account_members for insert to authenticated with check (account_id in (select private_accounts_with_role('owner')));`;

export const conventionCorpus: readonly ConventionEntry[] = [
  // ---------- Supabase ----------
  {
    convention: 'supabase',
    rule: 'policy-reads-user-editable-claim',
    title: 'Supabase: a policy takes the account id from user_metadata in the JWT',
    setup: "create policy claim_account on documents for select to authenticated using (account_id = ((auth.jwt() -> 'user_metadata') ->> 'account_id')::uuid);",
    fix: 'drop policy claim_account on documents;',
  },
  {
    convention: 'supabase',
    rule: 'policy-reads-user-editable-claim',
    title: 'Supabase: a definer helper reads raw_user_meta_data from auth.users',
    setup: `create function public.my_account() returns uuid language sql stable security definer set search_path = '' as $$
  select (u.raw_user_meta_data ->> 'account_id')::uuid from auth.users u where u.id = auth.uid()
$$;
create policy meta_account on documents for select to authenticated using (account_id = public.my_account());`,
    fix: 'drop policy meta_account on documents;',
  },
  {
    convention: 'supabase',
    rule: 'anonymous-reads-tenant-data',
    title: 'Supabase: a policy lets anon read every account\'s documents',
    setup: 'create policy anon_reads on documents for select to anon using (true);',
    fix: 'drop policy anon_reads on documents;',
    expect: { object: 'public.documents', observed: { role: 'anon' } },
  },
  {
    convention: 'supabase',
    rule: 'anonymous-reads-tenant-data',
    title: 'Supabase: a tenant table without row level security, readable by anon through the default grants',
    setup: 'create table invoices (id uuid primary key default gen_random_uuid(), account_id uuid not null references accounts (id), amount_cents int not null);\ncreate index on invoices (account_id);',
    fix: `alter table invoices enable row level security;
create policy members_read_invoices on invoices for select to authenticated using (public.is_member(account_id));`,
    alsoFires: ['rls-disabled'],
  },
  {
    convention: 'supabase',
    rule: 'definer-rpc-tenant-argument',
    title: 'Supabase: a definer RPC returns any account\'s documents for the account id it is given',
    setup: `create function public.account_documents(p_account_id uuid) returns setof documents language sql stable security definer set search_path = '' as $$
  select * from public.documents where account_id = p_account_id
$$;`,
    fix: `create or replace function public.account_documents(p_account_id uuid) returns setof documents language sql stable security definer set search_path = '' as $$
  select * from public.documents where account_id = p_account_id and public.is_member(p_account_id)
$$;
revoke execute on function public.account_documents(uuid) from public, anon;`,
    expect: { observed: { tenantArguments: ['p_account_id'] } },
  },
  {
    convention: 'supabase',
    rule: 'membership-self-insert',
    title: 'Supabase: a user can insert itself into any account (WITH CHECK user_id = auth.uid())',
    setup: 'drop policy owners_add_members on account_members;\ncreate policy join_any_account on account_members for insert to authenticated with check (user_id = (select auth.uid()));',
    fix: `drop policy join_any_account on account_members;${restoreOwnersAddMembers}`,
    expect: { object: 'policy join_any_account on public.account_members', observed: { userColumn: 'user_id' } },
  },
  {
    convention: 'supabase',
    rule: 'view-bypasses-rls',
    title: 'Supabase: a view without security_invoker over documents, readable by anon and authenticated',
    setup: 'create view document_titles as select account_id, title from documents;\ngrant select on document_titles to anon, authenticated;',
    fix: 'alter view document_titles set (security_invoker = true);',
    minVersion: 150000,
    expect: { object: 'public.document_titles', observed: { readers: ['authenticated', 'anon'] } },
  },
  {
    convention: 'supabase',
    rule: 'policy-compares-wrong-way',
    title: 'Supabase: a per-user policy compares auth.uid() with itself',
    setup: 'drop policy read_own_profile on profiles;\ncreate policy read_own_profile on profiles for select to authenticated using (auth.uid() = auth.uid());',
    fix: 'drop policy read_own_profile on profiles;\ncreate policy read_own_profile on profiles for select to authenticated using (id = (select auth.uid()));',
    expect: { observed: { alwaysTrue: ['auth.uid() = auth.uid()'] } },
  },
  {
    convention: 'supabase',
    rule: 'policy-compares-wrong-way',
    title: 'Supabase: an unqualified column inside the membership subquery resolves to the membership table',
    setup: `drop policy members_read_documents on documents;
create policy members_read_documents on documents for select to authenticated
  using (exists (select 1 from account_members where account_members.user_id = auth.uid() and account_members.account_id = account_id));`,
    fix: `drop policy members_read_documents on documents;
create policy members_read_documents on documents for select to authenticated
  using (exists (select 1 from account_members where account_members.user_id = auth.uid() and account_members.account_id = documents.account_id));`,
    // The policy is also not tenant-bound (rightly reported), and comments scoped through documents inherit it.
    alsoFires: ['policy-read-not-tenant-scoped', 'policy-write-not-tenant-checked'],
    expect: { observed: { alwaysTrue: ['account_members.account_id = account_members.account_id'] } },
  },
  {
    convention: 'supabase',
    rule: 'policy-compares-wrong-way',
    title: 'Supabase: a policy compares the caller\'s user id with the account column',
    setup: 'create policy own_documents on documents for select to authenticated using (account_id = (select auth.uid()));',
    fix: 'drop policy own_documents on documents;\ncreate policy own_documents on documents for select to authenticated using (created_by = (select auth.uid()));',
    expect: { observed: { callerComparedWith: ['account_id'] } },
  },
  {
    convention: 'supabase',
    rule: 'policy-read-not-tenant-scoped',
    title: 'Supabase: a membership subquery not correlated to the row (any member of any account reads all)',
    setup: 'create policy any_member on documents for select to authenticated using (exists (select 1 from account_members m where m.user_id = auth.uid()));',
    fix: 'drop policy any_member on documents;',
    // Comments are scoped through their document: the open parent lets them be written anywhere too.
    alsoFires: ['policy-write-not-tenant-checked'],
    expect: { object: 'policy any_member on public.documents' },
  },
  // Supabase classics the Python tools are built for (pgrls lints them, rlsgrid fuzzes them, rlsautotest flags them).
  {
    convention: 'supabase',
    rule: 'policy-read-not-tenant-scoped',
    title: 'Supabase: the dashboard template "Enable read access for authenticated users" (USING (true)) on a tenant table',
    setup: 'create policy "Enable read access for authenticated users" on documents for select to authenticated using (true);',
    fix: 'drop policy "Enable read access for authenticated users" on documents;',
    // Comments are scoped through their document: the open parent lets them be written anywhere too.
    alsoFires: ['policy-write-not-tenant-checked'],
    expect: { object: 'policy Enable read access for authenticated users on public.documents' },
  },
  {
    convention: 'supabase',
    rule: 'policy-write-not-tenant-checked',
    title: 'Supabase: an INSERT policy WITH CHECK (true) (any signed-in user writes into any account)',
    setup: 'create policy anyone_adds on documents for insert to authenticated with check (true);',
    fix: 'drop policy anyone_adds on documents;',
    expect: { object: 'policy anyone_adds on public.documents' },
  },
  {
    convention: 'supabase',
    rule: 'policy-write-not-tenant-checked',
    title: 'Supabase: an UPDATE policy checks membership in USING only, WITH CHECK (true) (rows move to another account)',
    setup: `drop policy members_update_documents on documents;
create policy members_update_documents on documents for update to authenticated using (public.is_member(account_id)) with check (true);`,
    fix: `drop policy members_update_documents on documents;
create policy members_update_documents on documents for update to authenticated using (public.is_member(account_id)) with check (public.is_member(account_id));`,
    expect: { object: 'policy members_update_documents on public.documents' },
  },
  {
    convention: 'supabase',
    rule: 'policy-read-not-tenant-scoped',
    title: 'Supabase: a "Service role full access" policy without a TO clause (applies to PUBLIC: anon and authenticated read and write all)',
    setup: 'create policy "Service role full access" on documents using (true) with check (true);',
    fix: 'drop policy "Service role full access" on documents;\ncreate policy "Service role full access" on documents to service_role using (true) with check (true);',
    // Comments are scoped through their document: the open parent opens them too; anon reads through the default grants.
    alsoFires: ['policy-write-not-tenant-checked', 'anonymous-reads-tenant-data'],
    expect: { object: 'policy Service role full access on public.documents' },
  },
  {
    convention: 'supabase',
    rule: 'policy-undecided',
    title: 'Supabase: a helper with a SQL-standard body the analysis cannot read (info, never high)',
    setup: `create function public.can_see(p_account uuid) returns boolean language sql stable begin atomic select exists (select 1 from public.account_members m where m.account_id = p_account and m.user_id = auth.uid()); end;
create policy via_can_see on documents for select to authenticated using (public.can_see(account_id));`,
    fix: 'drop policy via_can_see on documents;\ncreate policy via_can_see on documents for select to authenticated using (public.is_member(account_id));',
  },
  {
    convention: 'supabase',
    rule: 'service-role-bypass-by-design',
    title: 'Supabase: service_role has BYPASSRLS (info: by design)',
    setup: 'alter role service_role bypassrls;',
    fix: 'alter role service_role nobypassrls;',
  },
  // ---------- role per tenant ----------
  {
    convention: 'role-per-tenant',
    rule: 'policy-read-not-tenant-scoped',
    title: 'role per tenant: the RESTRICTIVE tenant policy is dropped, USING (true) is left alone',
    setup: 'drop policy tenant_only on clients;',
    fix: `create policy tenant_only on clients as restrictive to @tenant using ${restrictiveTenant} with check ${restrictiveTenant};`,
    alsoFires: ['policy-write-not-tenant-checked'],
    expect: { object: 'policy allow_all on public.clients' },
  },
  {
    convention: 'role-per-tenant',
    rule: 'policy-write-not-tenant-checked',
    title: 'role per tenant: the RESTRICTIVE policy covers SELECT only, writes go anywhere',
    setup: `drop policy tenant_only on grants_log;
create policy tenant_only on grants_log as restrictive for select to @tenant using ${restrictiveTenant};`,
    fix: `drop policy tenant_only on grants_log;
create policy tenant_only on grants_log as restrictive to @tenant using ${restrictiveTenant} with check ${restrictiveTenant};`,
    alsoFires: ['policy-read-not-tenant-scoped'],
    expect: { object: 'policy allow_all on public.grants_log' },
  },
  // ---------- PostGraphile ----------
  {
    convention: 'postgraphile',
    rule: 'policy-read-not-tenant-scoped',
    title: 'PostGraphile: a membership check not tied to the row\'s organisation',
    setup: `drop policy select_member on @app_public.projects;
create policy select_member on @app_public.projects for select to @visitor
  using (exists (select 1 from @app_public.organization_memberships m where m.user_id = @app_public.current_user_id()));`,
    fix: `drop policy select_member on @app_public.projects;
create policy select_member on @app_public.projects for select to @visitor using (organization_id in (select @app_public.current_user_member_organization_ids()));`,
  },
  {
    convention: 'postgraphile',
    rule: 'membership-self-insert',
    title: 'PostGraphile: a user can join any organisation',
    setup: `grant insert on @app_public.organization_memberships to @visitor;
grant usage on sequence @app_public.organization_memberships_id_seq to @visitor;
create policy insert_self on @app_public.organization_memberships for insert to @visitor with check (user_id = @app_public.current_user_id());`,
    fix: `drop policy insert_self on @app_public.organization_memberships;
create policy insert_self on @app_public.organization_memberships for insert to @visitor
  with check (organization_id in (select m.organization_id from @app_public.organization_memberships m where m.user_id = @app_public.current_user_id() and m.is_owner));`,
  },
];

/**
 * Green variants beyond the bases: conventions a correct schema uses, on which nothing high or
 * critical may fire.
 */
export const conventionGreens: readonly { readonly convention: ConventionName; readonly title: string; readonly sql: string }[] = [
  {
    convention: 'supabase',
    title: 'RESTRICTIVE membership policy over a permissive USING (true)',
    sql: `create table notes (id uuid primary key default gen_random_uuid(), account_id uuid not null references accounts (id), body text);
create index on notes (account_id);
alter table notes enable row level security;
create policy open on notes to authenticated using (true) with check (true);
create policy members_only on notes as restrictive to authenticated using (public.is_member(account_id)) with check (public.is_member(account_id));`,
  },
  {
    convention: 'supabase',
    title: 'current_setting(\'request.jwt.claims\', true)::json ->> \'sub\' instead of auth.uid()',
    sql: `create policy claims_sub on documents for select to authenticated
  using (account_id in (select m.account_id from account_members m where m.user_id = ((current_setting('request.jwt.claims', true)::json ->> 'sub'))::uuid));`,
  },
  {
    convention: 'supabase',
    title: 'a public read-only price list readable by anon',
    sql: 'create policy anon_prices on price_list for select to anon using (true);',
  },
  {
    convention: 'role-per-tenant',
    title: 'session_user instead of current_user in the RESTRICTIVE policy',
    sql: `create table contacts (id uuid primary key default gen_random_uuid(), tenant_id uuid not null references tenants (id), email text);
create index on contacts (tenant_id);
alter table contacts enable row level security;
alter table contacts force row level security;
create policy allow_all on contacts to @tenant using (true) with check (true);
create policy tenant_only on contacts as restrictive to @tenant
  using (tenant_id = (select t.id from tenants t where t.db_user = session_user))
  with check (tenant_id = (select t.id from tenants t where t.db_user = session_user));
grant select, insert, update, delete on contacts to @tenant;`,
  },
];
