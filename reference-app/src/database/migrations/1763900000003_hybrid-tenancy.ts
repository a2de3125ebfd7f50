/**
 * Hybrid tenancy: a tenant's isolation model is a property of its registry row, and the global
 * side of the schema and database models.
 *
 * - `tenants.model` (`rls` | `schema` | `database`) and the `enterprise` plan.
 * - `tenant_members`: the global directory of memberships of tenants whose memberships live in
 *   their own schema or database, so login and tenant switching (`principal_memberships`) find
 *   them. Forced RLS keyed by the tenant context, like every tenant table. Schema tenants keep it
 *   current through a trigger on their `memberships` (`sync_member_directory`, definer); database
 *   tenants through the app (no cross-database reach).
 * - `tenant_model(id)`: which model a tenant is in — the one question asked before entering it.
 * - The tenant base role gets what every schema tenant needs outside its schema.
 */
import { quoteIdent as q } from '../sql.ts';
import type { Migration } from '../migration-context.ts';

export const up: Migration = (pgm, { schema, appRole, ownerRole, tenantBaseRole }) => {
  const s = q(schema);
  const app = q(appRole);
  const owner = q(ownerRole);
  const base = q(tenantBaseRole);
  const definer = `security definer set search_path = pg_catalog, pg_temp`;
  pgm.sql(`
alter table ${s}.tenants add column model text not null default 'rls' check (model in ('rls', 'schema', 'database'));
alter table ${s}.tenants drop constraint tenants_plan_check;
alter table ${s}.tenants add constraint tenants_plan_check check (plan in ('free', 'pro', 'enterprise'));

create table ${s}.tenant_members (
  tenant_id uuid not null default ${s}.current_tenant_id() references ${s}.tenants (id) on delete cascade,
  user_id uuid not null references ${s}.users (id) on delete cascade,
  role text not null check (role ~ '^[a-z][a-z0-9_-]{0,31}$'),
  created_at timestamptz not null default now(),
  primary key (tenant_id, user_id)
);
alter table ${s}.tenant_members enable row level security;
alter table ${s}.tenant_members force row level security;
create policy tenant_isolation on ${s}.tenant_members
  using (tenant_id = ${s}.current_tenant_id())
  with check (tenant_id = ${s}.current_tenant_id());
create policy principal_directory on ${s}.tenant_members for select to ${owner}
  using (user_id = ${s}.current_principal_id());
create policy principal_directory_tenants on ${s}.tenants for select to ${owner}
  using (exists (select 1 from ${s}.tenant_members d where d.tenant_id = tenants.id));
grant select, insert, update, delete on ${s}.tenant_members to ${app};
grant select on ${s}.tenant_members to ${base};

create policy directory_members_of_current_tenant on ${s}.users for select to ${app}, ${base}
  using (exists (select 1 from ${s}.tenant_members d where d.user_id = users.id));

grant usage on schema ${s} to ${base};
grant select, insert, delete on ${s}.tenants to ${base};
grant update (name) on ${s}.tenants to ${base};
grant select (id, email) on ${s}.users to ${base};
grant execute on function ${s}.create_user(text, text), ${s}.ensure_user(text, text) to ${base};

-- Memberships of a schema tenant, mirrored into the directory (runs as the owner; reads the
-- role name from the same tenant schema, named by the trigger, never by input).
create function ${s}.sync_member_directory() returns trigger
  language plpgsql ${definer}
  as $$
declare
  role_name text;
begin
  if tg_op = 'DELETE' then
    delete from ${s}.tenant_members where tenant_id = old.tenant_id and user_id = old.user_id;
    return old;
  end if;
  execute format('select name from %I.roles where tenant_id = $1 and id = $2', tg_table_schema) into role_name using new.tenant_id, new.role_id;
  insert into ${s}.tenant_members (tenant_id, user_id, role, created_at) values (new.tenant_id, new.user_id, role_name, new.created_at)
    on conflict (tenant_id, user_id) do update set role = excluded.role;
  return new;
end $$;
revoke all on function ${s}.sync_member_directory() from public;

-- The model a tenant is in (asked before entering it). Sees only that one registry row.
create function ${s}.tenant_model(p_tenant uuid) returns text
  language plpgsql volatile ${definer}
  as $$
declare
  found text;
begin
  perform set_config('app.current_tenant', p_tenant::text, true);
  select t.model into found from ${s}.tenants t where t.id = p_tenant;
  perform set_config('app.current_tenant', '', true);
  return found;
end $$;
revoke all on function ${s}.tenant_model(uuid) from public;
grant execute on function ${s}.tenant_model(uuid) to ${app};

create or replace function ${s}.principal_memberships(p_user uuid)
  returns table (tenant_id uuid, slug text, tenant_name text, status text, role text, joined_at timestamptz)
  language plpgsql volatile ${definer}
  as $$
begin
  perform set_config('app.principal', p_user::text, true);
  return query
    select x.* from (
      select t.id, t.slug, t.name, t.status, r.name, m.created_at
        from ${s}.memberships m
        join ${s}.tenants t on t.id = m.tenant_id
        join ${s}.roles r on r.tenant_id = m.tenant_id and r.id = m.role_id
       where m.user_id = p_user
      union all
      select t.id, t.slug, t.name, t.status, d.role, d.created_at
        from ${s}.tenant_members d
        join ${s}.tenants t on t.id = d.tenant_id
       where d.user_id = p_user
    ) x (tenant_id, slug, tenant_name, status, role, joined_at)
    order by x.joined_at, x.slug;
  perform set_config('app.principal', '', true);
end $$;
`);
};
