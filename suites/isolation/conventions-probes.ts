/**
 * Probe corpora of the conventions (suites/catalog/conventions.ts holds the schemas): each case is
 * the convention's correct base plus SQL that breaks one thing (red: the probes must find it) or
 * writes it another correct way (green: nothing high or critical). The context each case is
 * entered with is the convention's preset or templates, as a user would pass them on the CLI.
 */
import type { ContextTemplateOptions, ProbeId } from '../../src/index.ts';
import type { ConventionName } from '../catalog/conventions.ts';

export interface ProbeConventionCase {
  readonly convention: ConventionName;
  readonly title: string;
  /** SQL after the base (`@name` placeholders as in the catalog corpora). */
  readonly sql: string;
  /** Red: the checks that must fire on `object`; absent for a green case. */
  readonly expect?: { readonly checkIds: readonly ProbeId[]; readonly object: string };
  /** Other objects the flaw rightly reaches (a child whose policy goes through the flawed table). */
  readonly alsoFound?: readonly string[];
}

/** How each convention's principal enters: what a user passes as --preset / --context-* flags. */
export const conventionContexts: Record<ConventionName, { readonly context: ContextTemplateOptions; readonly setup?: string }> = {
  supabase: { context: { preset: 'supabase', membershipTable: 'public.account_members' } },
  // The tenants the deployment already has, each with its own login role.
  'role-per-tenant': { context: { role: '{tenant.db_user}' }, setup: "insert into tenants (name, db_user) values ('a', '@t_a'), ('b', '@t_b');" },
  postgraphile: { context: { preset: 'postgraphile', usersTable: '@app_public.users', membershipTable: '@app_public.organization_memberships' } },
};

export const probeConventionCases: readonly ProbeConventionCase[] = [
  // ---------- Supabase: green ----------
  { convention: 'supabase', title: 'the base (is_member, (select auth.uid()), membership subqueries, a public price list)', sql: '' },
  {
    convention: 'supabase',
    title: 'RESTRICTIVE membership layer over a permissive USING (true)',
    sql: `drop policy members_read_documents on documents;
create policy everyone on documents for select to authenticated using (true);
create policy members_only on documents as restrictive for select to authenticated using (account_id in (select m.account_id from account_members m where m.user_id = (select auth.uid())));`,
  },
  // ---------- Supabase: red ----------
  {
    convention: 'supabase',
    title: 'a policy takes the account id from user_metadata in the JWT',
    sql: "create policy claim_account on documents for select to authenticated using (account_id = ((auth.jwt() -> 'user_metadata') ->> 'account_id')::uuid);",
    expect: { checkIds: ['probe-read-scan'], object: 'public.documents' },
    alsoFound: ['public.document_comments'],
  },
  {
    convention: 'supabase',
    title: "a policy lets anon read every account's documents",
    sql: 'create policy anon_reads on documents for select to anon using (true);',
    expect: { checkIds: ['probe-principal-anonymous-read'], object: 'public.documents' },
  },
  {
    convention: 'supabase',
    title: 'a user can insert itself into any account (WITH CHECK user_id = auth.uid())',
    sql: 'drop policy owners_add_members on account_members;\ncreate policy join_any_account on account_members for insert to authenticated with check (user_id = (select auth.uid()));',
    expect: { checkIds: ['probe-membership-self-add'], object: 'public.account_members' },
  },
  {
    convention: 'supabase',
    title: 'a member may update its own membership (and so its role)',
    sql: 'create policy update_own_membership on account_members for update to authenticated using (user_id = (select auth.uid()));',
    expect: { checkIds: ['probe-membership-role-raise'], object: 'public.account_members' },
  },
  {
    convention: 'supabase',
    title: "every member list is readable (USING (true) on the membership table)",
    sql: 'drop policy read_memberships on account_members;\ncreate policy read_memberships on account_members for select to authenticated using (true);',
    expect: { checkIds: ['probe-read-scan', 'probe-principal-nonmember-read'], object: 'public.account_members' },
  },
  {
    convention: 'supabase',
    title: 'a per-user policy checks only that the caller is signed in',
    sql: 'drop policy read_own_profile on profiles;\ncreate policy read_own_profile on profiles for select to authenticated using ((select auth.uid()) is not null);',
    expect: { checkIds: ['probe-principal-user-row-read'], object: 'public.profiles' },
  },
  {
    convention: 'supabase',
    title: "a profile delete policy without the user check lets a user delete others' profiles",
    sql: 'create policy delete_profiles on profiles for delete to authenticated using (true);',
    expect: { checkIds: ['probe-principal-user-row-write'], object: 'public.profiles' },
  },
  {
    convention: 'supabase',
    title: 'the public price list is writable by signed-in users',
    sql: 'grant insert, update, delete on price_list to authenticated;\ncreate policy anyone_writes_prices on price_list for all to authenticated using (true) with check (true);',
    expect: { checkIds: ['probe-principal-shared-write'], object: 'public.price_list' },
  },
  {
    convention: 'supabase',
    title: 'signed-in users may add to the public price list (INSERT only)',
    sql: 'grant insert on price_list to authenticated;\ngrant usage on sequence price_list_id_seq to authenticated;\ncreate policy anyone_adds_prices on price_list for insert to authenticated with check (true);',
    expect: { checkIds: ['probe-principal-shared-write'], object: 'public.price_list' },
  },
  {
    convention: 'supabase',
    title: 'a missing membership counts as a match (coalesce(…, true))',
    sql: `drop policy members_read_documents on documents;
create policy members_read_documents on documents for select to authenticated
  using (coalesce(account_id = (select m.account_id from account_members m where m.user_id = (select auth.uid()) limit 1), true));`,
    expect: { checkIds: ['probe-principal-nonmember-read', 'probe-context-no-context-set'], object: 'public.documents' },
    alsoFound: ['public.document_comments'],
  },
  {
    convention: 'supabase',
    title: 'a scalar membership subquery: a member of two accounts sees neither (over-restricted, info)',
    sql: `drop policy members_read_documents on documents;
create policy members_read_documents on documents for select to authenticated
  using (account_id = (select m.account_id from account_members m where m.user_id = (select auth.uid())));`,
    expect: { checkIds: ['probe-principal-over-restricted'], object: 'public.documents' },
  },

  // ---------- Role per tenant ----------
  { convention: 'role-per-tenant', title: 'the base (RESTRICTIVE tenant policy over a permissive USING (true), per-tenant roles)', sql: '' },
  {
    convention: 'role-per-tenant',
    title: 'the RESTRICTIVE tenant policy is dropped: USING (true) alone',
    sql: 'drop policy tenant_only on clients;',
    expect: { checkIds: ['probe-read-scan', 'probe-write-update-foreign', 'probe-write-delete-foreign'], object: 'public.clients' },
  },
  {
    convention: 'role-per-tenant',
    title: 'the tenant policy is PERMISSIVE: OR-ed with USING (true)',
    sql: `drop policy tenant_only on grants_log;
create policy tenant_only on grants_log to @tenant using (tenant_id = (select t.id from tenants t where t.db_user = current_user));`,
    expect: { checkIds: ['probe-read-scan'], object: 'public.grants_log' },
  },
  {
    convention: 'role-per-tenant',
    title: "a foreign key without the tenant column: a row may point at another tenant's client",
    sql: `alter table grants_log drop constraint grants_log_tenant_id_client_id_fkey;
alter table grants_log add foreign key (client_id) references clients (id);`,
    expect: { checkIds: ['probe-write-foreign-parent'], object: 'public.grants_log' },
  },
  // ---------- PostGraphile ----------
  { convention: 'postgraphile', title: 'the base (jwt.claims.session_id, sessions, organisation memberships through definer helpers)', sql: '' },
  {
    convention: 'postgraphile',
    title: 'projects readable by every visitor',
    sql: 'drop policy select_member on @app_public.projects;\ncreate policy select_all on @app_public.projects for select to @visitor using (true);',
    expect: { checkIds: ['probe-read-scan', 'probe-principal-nonmember-read'], object: '@app_public.projects' },
  },
  {
    convention: 'postgraphile',
    title: 'a visitor may insert its own membership into any organisation',
    sql: `grant insert on @app_public.organization_memberships to @visitor;
create policy insert_self on @app_public.organization_memberships for insert to @visitor with check (user_id = @app_public.current_user_id());`,
    expect: { checkIds: ['probe-membership-self-add'], object: '@app_public.organization_memberships' },
  },
  {
    convention: 'postgraphile',
    title: 'a member may update its own membership (is_owner)',
    sql: `grant update on @app_public.organization_memberships to @visitor;
create policy update_own on @app_public.organization_memberships for update to @visitor using (user_id = @app_public.current_user_id());`,
    expect: { checkIds: ['probe-membership-role-raise'], object: '@app_public.organization_memberships' },
  },
];
