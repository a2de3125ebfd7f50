/**
 * The platform side of the app (issue 12): usage metering and platform support access. Both are
 * global tables of the shared database, whatever model a tenant lives in — like the job queue,
 * because the edge (the limit check, the support login) must find them without entering a
 * tenant's schema or database.
 *
 * - `usage_events` (tenant, metric, quantity, time): **hash-partitioned on `tenant_id`** (four
 *   partitions), row security enabled and forced **on the parent only**, and the app role granted
 *   the parent only. A query through the parent is filtered by the parent's policy; a partition
 *   has no policy of its own, so it must never be granted to the app role (the
 *   `partitions-granted-directly` vulnerability does exactly that).
 * - `usage_monthly`: the monthly aggregate, one row per tenant, metric and month, maintained in
 *   the same transaction as the event (the row lock serialises concurrent admissions, so two
 *   requests cannot both slip under a limit). Tenant-scoped under forced RLS.
 * - `support_agents`: platform staff (not members of any tenant). No grant to the app role at
 *   all: `find_support_agent(email)` (definer) answers the login question, and
 *   `support_tenant(slug)` which tenant an agent asks to enter — nothing else.
 */
import { quoteIdent as q } from '../sql.ts';
import type { Migration } from '../migration-context.ts';

export const usagePartitions = 4;

export const up: Migration = (pgm, { schema, appRole, ownerRole }) => {
  const s = q(schema);
  const app = q(appRole);
  const owner = q(ownerRole);
  const definer = `security definer set search_path = pg_catalog, pg_temp`;
  const partitions = Array.from(
    { length: usagePartitions },
    (_, i) => `create table ${s}.usage_events_p${i} partition of ${s}.usage_events for values with (modulus ${usagePartitions}, remainder ${i});`,
  ).join('\n');
  pgm.sql(`
create table ${s}.usage_events (
  tenant_id uuid not null default ${s}.current_tenant_id() references ${s}.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  metric text not null check (metric in ('reports', 'exports')),
  quantity integer not null default 1 check (quantity > 0),
  at timestamptz not null default now(),
  primary key (tenant_id, id)
) partition by hash (tenant_id);
${partitions}
create index on ${s}.usage_events (tenant_id, metric, at);
alter table ${s}.usage_events enable row level security;
alter table ${s}.usage_events force row level security;
create policy tenant_isolation on ${s}.usage_events
  using (tenant_id = ${s}.current_tenant_id())
  with check (tenant_id = ${s}.current_tenant_id());
grant select, insert on ${s}.usage_events to ${app};

create table ${s}.usage_monthly (
  tenant_id uuid not null default ${s}.current_tenant_id() references ${s}.tenants (id) on delete cascade,
  metric text not null check (metric in ('reports', 'exports')),
  month text not null check (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  quantity bigint not null default 0 check (quantity >= 0),
  primary key (tenant_id, metric, month)
);
alter table ${s}.usage_monthly enable row level security;
alter table ${s}.usage_monthly force row level security;
create policy tenant_isolation on ${s}.usage_monthly
  using (tenant_id = ${s}.current_tenant_id())
  with check (tenant_id = ${s}.current_tenant_id());
grant select, insert, update on ${s}.usage_monthly to ${app};

create table ${s}.support_agents (
  id uuid primary key default gen_random_uuid(),
  email text not null check (char_length(email) between 3 and 254),
  password_hash text not null,
  created_at timestamptz not null default now()
);
create unique index support_agents_email_key on ${s}.support_agents (lower(email));

-- An agent's id and password hash, for the support login only.
create function ${s}.find_support_agent(p_email text)
  returns table (id uuid, password_hash text)
  language sql stable ${definer}
  as $$ select a.id, a.password_hash from ${s}.support_agents a where lower(a.email) = lower(p_email) $$;

-- The tenant an agent asks to enter (active tenants only): id, slug and model, nothing else.
create policy support_lookup on ${s}.tenants for select to ${owner}
  using (current_setting('app.support_lookup', true) = 'on');
create function ${s}.support_tenant(p_slug text)
  returns table (id uuid, slug text, model text)
  language plpgsql volatile ${definer}
  as $$
begin
  perform set_config('app.support_lookup', 'on', true);
  return query select t.id, t.slug, t.model from ${s}.tenants t where t.slug = p_slug and t.status = 'active';
  perform set_config('app.support_lookup', '', true);
end $$;

revoke all on function ${s}.find_support_agent(text), ${s}.support_tenant(text) from public;
grant execute on function ${s}.find_support_agent(text), ${s}.support_tenant(text) to ${app};
`);
};
