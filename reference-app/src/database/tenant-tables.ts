/**
 * DDL of the tenant tables — every table whose rows belong to one tenant. One module, so the same
 * tables can be created in the shared `app` schema (rls model: tenant column + forced RLS) and,
 * in a later issue, in one schema per tenant (schema model) or one database per tenant.
 *
 * Rules every tenant table follows (suites/app checks them in the catalog):
 * - a non-null `tenant_id` column defaulting to the transaction's tenant context;
 * - primary and unique keys, and every index, lead with `tenant_id`;
 * - foreign keys between tenant tables include `tenant_id`, so a row can never point into
 *   another tenant (a foreign id is simply "not found");
 * - with `rls`: RLS enabled and FORCED, one policy with USING and WITH CHECK.
 */
import { quoteIdent as q } from './sql.ts';
import { permissions } from '../auth/permissions.ts';

/** In creation order (parents first). */
export const tenantTableNames = [
  'roles',
  'role_permissions',
  'memberships',
  'projects',
  'tasks',
  'invoice_counters',
  'invoices',
  'comments',
  'audit_log',
  'token_revocations',
  'exports',
] as const;

export interface TenantTablesOptions {
  /** Schema the tables are created in. */
  readonly schema: string;
  /** Schema holding the global tables (tenants, users) and the tenant-context functions. */
  readonly globalSchema: string;
  /** Role the application connects as: gets DML grants (never ownership). */
  readonly appRole: string;
  /** Enable and force RLS with a tenant_isolation policy on every table. */
  readonly rls: boolean;
  /** Grant DML to `appRole` (default true; a template database grants per tenant database instead). */
  readonly grants?: boolean;
  /**
   * Schema model: the one tenant whose rows these tables hold. `tenant_id` is then pinned to it by
   * a CHECK instead of a foreign key to the global `tenants`: a foreign key from every table of
   * every tenant schema would hang ten RI triggers per tenant on `tenants`, so each new tenant
   * would lock it against writes while it is provisioned and rebuild its ever-growing trigger list
   * (quadratic provisioning: 180 ms per tenant at first, 600 ms at 500), and deleting one tenant
   * would fire triggers into every other tenant's schema. Teardown drops the schema, so nothing
   * needs the cascade. Nor do they reference the global `users` (two more triggers per tenant: with
   * them, provisioning still slowed from 29 to 60 ms per tenant over 1,000 tenants; without, flat).
   */
  readonly pinnedTenant?: string;
}

/** DML on every tenant table for `role` (the audit log is append-only). */
export function tenantTableGrants(schema: string, role: string): string {
  const s = q(schema);
  const app = q(role);
  return tenantTableNames
    .map((t) =>
      t === 'audit_log'
        ? `grant select, insert on ${s}.${q(t)} to ${app};` // the audit log is append-only for the app
        : `grant select, insert, update, delete on ${s}.${q(t)} to ${app};`,
    )
    .join('\n');
}

export function tenantTablesDdl(options: TenantTablesOptions): string {
  const s = q(options.schema);
  const g = q(options.globalSchema);
  const pinned = options.pinnedTenant;
  if (pinned !== undefined && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(pinned)) throw new Error(`not a tenant id: ${pinned}`);
  const tenantId = pinned
    ? `tenant_id uuid not null default ${g}.current_tenant_id() check (tenant_id = '${pinned}'::uuid)`
    : `tenant_id uuid not null default ${g}.current_tenant_id() references ${g}.tenants (id) on delete cascade`;
  // Schema tenants reference no global table either: a member's user must exist, which the
  // directory trigger's insert into the global tenant_members checks (its foreign key to users).
  const userRef = pinned ? '' : ` references ${g}.users (id) on delete cascade`;
  const permissionList = permissions.map((p) => `'${p}'`).join(', ');
  const ddl = `
create table ${s}.roles (
  ${tenantId},
  id uuid not null default gen_random_uuid(),
  name text not null check (name ~ '^[a-z][a-z0-9_-]{0,31}$'),
  primary key (tenant_id, id),
  unique (tenant_id, name)
);
create table ${s}.role_permissions (
  ${tenantId},
  role_id uuid not null,
  permission text not null check (permission in (${permissionList})),
  primary key (tenant_id, role_id, permission),
  foreign key (tenant_id, role_id) references ${s}.roles (tenant_id, id) on delete cascade
);
create table ${s}.memberships (
  ${tenantId},
  user_id uuid not null${userRef},
  role_id uuid not null,
  created_at timestamptz not null default now(),
  primary key (tenant_id, user_id),
  foreign key (tenant_id, role_id) references ${s}.roles (tenant_id, id)
);
create index on ${s}.memberships (tenant_id, role_id);
create table ${s}.projects (
  ${tenantId},
  id uuid not null default gen_random_uuid(),
  name text not null check (char_length(name) between 1 and 200),
  description text not null default '' check (char_length(description) <= 5000),
  status text not null default 'active' check (status in ('active', 'archived')),
  budget_cents bigint not null default 0 check (budget_cents >= 0),
  created_by uuid not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id)
);
create index on ${s}.projects (tenant_id, created_at);
create table ${s}.tasks (
  ${tenantId},
  id uuid not null default gen_random_uuid(),
  project_id uuid not null,
  title text not null check (char_length(title) between 1 and 200),
  done boolean not null default false,
  assignee_id uuid,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, project_id) references ${s}.projects (tenant_id, id) on delete cascade,
  foreign key (tenant_id, assignee_id) references ${s}.memberships (tenant_id, user_id) on delete set null (assignee_id)
);
create index on ${s}.tasks (tenant_id, project_id);
create index on ${s}.tasks (tenant_id, assignee_id);
create table ${s}.invoice_counters (
  ${tenantId},
  last_number integer not null,
  primary key (tenant_id)
);
create table ${s}.invoices (
  ${tenantId},
  id uuid not null default gen_random_uuid(),
  number integer not null check (number > 0),
  project_id uuid,
  amount_cents bigint not null check (amount_cents >= 0),
  status text not null default 'draft' check (status in ('draft', 'sent', 'paid')),
  issued_at timestamptz not null default now(),
  primary key (tenant_id, id),
  unique (tenant_id, number),
  foreign key (tenant_id, project_id) references ${s}.projects (tenant_id, id) on delete set null (project_id)
);
create index on ${s}.invoices (tenant_id, project_id);
create table ${s}.comments (
  ${tenantId},
  id uuid not null default gen_random_uuid(),
  project_id uuid not null,
  task_id uuid,
  author_id uuid not null,
  body text not null check (char_length(body) between 1 and 5000),
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, project_id) references ${s}.projects (tenant_id, id) on delete cascade,
  foreign key (tenant_id, task_id) references ${s}.tasks (tenant_id, id) on delete cascade
);
create index on ${s}.comments (tenant_id, project_id, created_at);
create index on ${s}.comments (tenant_id, task_id);
create table ${s}.audit_log (
  ${tenantId},
  id bigint generated always as identity,
  actor_id uuid,
  action text not null,
  entity text not null,
  entity_id text,
  details jsonb not null default '{}',
  at timestamptz not null default now(),
  primary key (tenant_id, id)
);
-- Tokens of a user in a tenant issued before revoked_at are refused (removed or re-roled members).
create table ${s}.token_revocations (
  ${tenantId},
  user_id uuid not null${userRef},
  revoked_at timestamptz not null,
  primary key (tenant_id, user_id)
);
-- Results of background jobs (jobs/): a summary of the tenant's projects, written by the job
-- worker inside this tenant's context; GET /exports/:id reads it here, so it is tenant-scoped.
create table ${s}.exports (
  ${tenantId},
  id uuid not null default gen_random_uuid(),
  kind text not null default 'projects-summary' check (kind in ('projects-summary')),
  status text not null default 'queued' check (status in ('queued', 'done', 'failed')),
  requested_by uuid not null,
  result jsonb,
  error text,
  created_at timestamptz not null default now(),
  finished_at timestamptz,
  primary key (tenant_id, id)
);
create index on ${s}.exports (tenant_id, created_at);
`;
  const grants = options.grants === false ? '' : tenantTableGrants(options.schema, options.appRole);
  const rls = options.rls
    ? tenantTableNames
        .map(
          (t) => `alter table ${s}.${q(t)} enable row level security;
alter table ${s}.${q(t)} force row level security;
create policy tenant_isolation on ${s}.${q(t)}
  using (tenant_id = ${g}.current_tenant_id())
  with check (tenant_id = ${g}.current_tenant_id());`,
        )
        .join('\n')
    : '';
  return `${ddl}\n${grants}\n${rls}\n`;
}
