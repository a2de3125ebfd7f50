/**
 * The background job queue (`jobs/`): one global table in the shared database, whatever model a
 * job's tenant is in, because the worker must find every tenant's jobs.
 *
 * - `jobs` is tenant-scoped like every tenant table: `tenant_id` defaults to the tenant context
 *   and forced RLS keeps the app role to the current tenant's jobs — so a job is enqueued with
 *   the tenant context set and can carry no other tenant's id (WITH CHECK).
 * - The worker claims, completes and fails jobs through three SECURITY DEFINER functions
 *   (EXECUTE for the app role only, fixed search_path), each answering one narrow question.
 *   They run as the owner, which forced RLS also confines: the `job_worker` policy (owner only)
 *   shows the queue only while one of these functions has set the transaction-local
 *   `app.job_worker` flag. A claimed job names its tenant; the worker then enters that tenant's
 *   context through the same dispatch as a request, never through this table.
 * - A claim locks one due job with `FOR UPDATE SKIP LOCKED`, so workers never wait on each
 *   other nor take the same job; a claim older than five minutes (a crashed worker) is taken
 *   again, up to `max_attempts`.
 */
import { quoteIdent as q } from '../sql.ts';
import type { Migration } from '../migration-context.ts';

export const up: Migration = (pgm, { schema, appRole, ownerRole }) => {
  const s = q(schema);
  const app = q(appRole);
  const owner = q(ownerRole);
  const definer = `security definer set search_path = pg_catalog, pg_temp`;
  const flagged = `current_setting('app.job_worker', true) = 'on'`;
  pgm.sql(`
create table ${s}.jobs (
  tenant_id uuid not null default ${s}.current_tenant_id() references ${s}.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  task text not null check (task in ('export-projects')),
  payload jsonb not null default '{}',
  run_at timestamptz not null default now(),
  attempts integer not null default 0 check (attempts >= 0),
  max_attempts integer not null default 3 check (max_attempts > 0),
  locked_at timestamptz,
  locked_by text,
  last_error text,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id)
);
create index on ${s}.jobs (tenant_id, run_at);
alter table ${s}.jobs enable row level security;
alter table ${s}.jobs force row level security;
create policy tenant_isolation on ${s}.jobs
  using (tenant_id = ${s}.current_tenant_id())
  with check (tenant_id = ${s}.current_tenant_id());
create policy job_worker on ${s}.jobs for all to ${owner}
  using (${flagged})
  with check (${flagged});
grant select, insert on ${s}.jobs to ${app};

-- The next due job, locked for this worker (or no row).
create function ${s}.claim_job(p_worker text)
  returns table (tenant_id uuid, id uuid, task text, payload jsonb, attempts integer)
  language plpgsql volatile ${definer}
  as $$
begin
  perform set_config('app.job_worker', 'on', true);
  return query
    update ${s}.jobs j
       set locked_at = now(), locked_by = p_worker, attempts = j.attempts + 1
     where (j.tenant_id, j.id) = (
             select d.tenant_id, d.id from ${s}.jobs d
              where d.run_at <= now() and d.attempts < d.max_attempts
                and (d.locked_at is null or d.locked_at < now() - interval '5 minutes')
              order by d.run_at, d.id
              limit 1
                for update skip locked)
    returning j.tenant_id, j.id, j.task, j.payload, j.attempts;
  perform set_config('app.job_worker', '', true);
end $$;

-- A job this worker claimed is done: it leaves the queue.
create function ${s}.complete_job(p_tenant uuid, p_id uuid, p_worker text)
  returns boolean
  language plpgsql volatile ${definer}
  as $$
declare
  done boolean;
begin
  perform set_config('app.job_worker', 'on', true);
  delete from ${s}.jobs j where j.tenant_id = p_tenant and j.id = p_id and j.locked_by = p_worker;
  done := found;
  perform set_config('app.job_worker', '', true);
  return done;
end $$;

-- A job this worker claimed failed: unlocked, retried after a backoff while attempts remain.
create function ${s}.fail_job(p_tenant uuid, p_id uuid, p_worker text, p_error text)
  returns boolean
  language plpgsql volatile ${definer}
  as $$
declare
  done boolean;
begin
  perform set_config('app.job_worker', 'on', true);
  update ${s}.jobs j
     set locked_at = null, locked_by = null, last_error = left(p_error, 500),
         run_at = now() + make_interval(secs => power(2, j.attempts))
   where j.tenant_id = p_tenant and j.id = p_id and j.locked_by = p_worker;
  done := found;
  perform set_config('app.job_worker', '', true);
  return done;
end $$;

revoke all on function ${s}.claim_job(text), ${s}.complete_job(uuid, uuid, text), ${s}.fail_job(uuid, uuid, text, text) from public;
grant execute on function ${s}.claim_job(text), ${s}.complete_job(uuid, uuid, text), ${s}.fail_job(uuid, uuid, text, text) to ${app};
`);
};
