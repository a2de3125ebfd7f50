/**
 * Global lookups, which run before there is a tenant context (login, signup, token issue).
 *
 * Decision: SECURITY DEFINER functions owned by the owner role, with a fixed search_path and
 * EXECUTE granted to the app role only — not a second, broader login role. The app role keeps
 * no privilege on password hashes and cannot list users or tenants; each function answers one
 * narrow question. Because RLS is FORCED, the functions (running as the owner) are themselves
 * under policies: `principal_*` policies, granted to the owner role only, show exactly the
 * memberships of the principal the function was asked about (the transaction-local
 * `app.principal` setting, which only these functions set) — never another user's.
 *
 * `users` has RLS enabled but not forced: the owner's functions read and create users by
 * email; the app role sees only (id, email) of members of the current tenant.
 */
import { quoteIdent as q } from '../sql.ts';
import type { Migration } from '../migration-context.ts';

export const up: Migration = (pgm, { schema, appRole, ownerRole }) => {
  const s = q(schema);
  const app = q(appRole);
  const owner = q(ownerRole);
  const definer = `security definer set search_path = pg_catalog, pg_temp`;
  pgm.sql(`
alter table ${s}.users enable row level security;
create policy members_of_current_tenant on ${s}.users for select to ${app}
  using (exists (select 1 from ${s}.memberships m where m.user_id = users.id));
grant select (id, email) on ${s}.users to ${app};

create policy principal_memberships on ${s}.memberships for select to ${owner}
  using (user_id = ${s}.current_principal_id());
create policy principal_tenants on ${s}.tenants for select to ${owner}
  using (exists (select 1 from ${s}.memberships m where m.tenant_id = tenants.id));
create policy principal_roles on ${s}.roles for select to ${owner}
  using (exists (select 1 from ${s}.memberships m where m.tenant_id = roles.tenant_id and m.role_id = roles.id));

-- Login: the user id and password hash for an email (case-insensitive), or no row.
create function ${s}.find_login(p_email text)
  returns table (user_id uuid, password_hash text)
  language sql stable ${definer}
  as $$ select u.id, u.password_hash from ${s}.users u where lower(u.email) = lower(p_email) $$;

-- Signup: a new user; a taken email raises unique_violation (users_email_key).
create function ${s}.create_user(p_email text, p_password_hash text)
  returns uuid
  language sql volatile ${definer}
  as $$ insert into ${s}.users (email, password_hash) values (p_email, p_password_hash) returning id $$;

-- Adding a member: the user with this email, created with the given hash if absent.
create function ${s}.ensure_user(p_email text, p_password_hash text)
  returns uuid
  language plpgsql volatile ${definer}
  as $$
declare
  found uuid;
begin
  insert into ${s}.users (email, password_hash) values (p_email, p_password_hash)
    on conflict ((lower(email))) do nothing
    returning id into found;
  if found is null then
    select u.id into found from ${s}.users u where lower(u.email) = lower(p_email);
  end if;
  return found;
end $$;

-- The tenants a principal belongs to, with its role in each (for login, switching, X-Tenant).
create function ${s}.principal_memberships(p_user uuid)
  returns table (tenant_id uuid, slug text, tenant_name text, status text, role text, joined_at timestamptz)
  language plpgsql volatile ${definer}
  as $$
begin
  perform set_config('app.principal', p_user::text, true);
  return query
    select t.id, t.slug, t.name, t.status, r.name, m.created_at
      from ${s}.memberships m
      join ${s}.tenants t on t.id = m.tenant_id
      join ${s}.roles r on r.tenant_id = m.tenant_id and r.id = m.role_id
     where m.user_id = p_user
     order by m.created_at, t.slug;
  perform set_config('app.principal', '', true);
end $$;

revoke all on function ${s}.find_login(text), ${s}.create_user(text, text), ${s}.ensure_user(text, text),
  ${s}.principal_memberships(uuid) from public;
grant execute on function ${s}.find_login(text), ${s}.create_user(text, text), ${s}.ensure_user(text, text),
  ${s}.principal_memberships(uuid) to ${app};
`);
};
