/**
 * The schema, the tenant-context functions and the two global tables: `tenants` (one row per
 * tenant, itself under RLS keyed by `id`) and `users` (principals, shared by all tenants).
 */
import { quoteIdent as q } from '../sql.ts';
import type { Migration } from '../migration-context.ts';

export const up: Migration = (pgm, { schema, appRole }) => {
  const s = q(schema);
  const app = q(appRole);
  pgm.sql(`
revoke all on schema ${s} from public;
grant usage on schema ${s} to ${app};

-- The tenant context: a transaction-local setting, set with set_config('app.current_tenant', $1, true).
-- Unset or empty means "no tenant": every policy compares with NULL and lets nothing through.
create function ${s}.current_tenant_id() returns uuid
  language sql stable parallel safe
  as $$ select nullif(current_setting('app.current_tenant', true), '')::uuid $$;

-- The principal whose memberships the definer functions may look up (set by them, transaction-local).
create function ${s}.current_principal_id() returns uuid
  language sql stable parallel safe
  as $$ select nullif(current_setting('app.principal', true), '')::uuid $$;

create table ${s}.tenants (
  id uuid primary key,
  slug text not null unique check (slug ~ '^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$'),
  name text not null check (char_length(name) between 1 and 200),
  plan text not null default 'free' check (plan in ('free', 'pro')),
  status text not null default 'active' check (status in ('active', 'suspended')),
  limits jsonb not null default '{}',
  features jsonb not null default '{}',
  created_at timestamptz not null default now()
);
alter table ${s}.tenants enable row level security;
alter table ${s}.tenants force row level security;
create policy tenant_isolation on ${s}.tenants
  using (id = ${s}.current_tenant_id())
  with check (id = ${s}.current_tenant_id());
grant select, insert, delete on ${s}.tenants to ${app};
grant update (name) on ${s}.tenants to ${app};

create table ${s}.users (
  id uuid primary key default gen_random_uuid(),
  email text not null check (char_length(email) between 3 and 254),
  password_hash text not null,
  created_at timestamptz not null default now()
);
create unique index users_email_key on ${s}.users (lower(email));
`);
};
