/**
 * The `export-projects` task: a summary of the tenant's projects (count, budget, by status, the
 * names), written into the tenant's `exports` row. It runs in the job's tenant context and
 * reaches data only through `tenancy.inCurrentTenant`, like a route; it is authorised as the
 * principal who asked (a member removed or re-roled since is refused).
 */
import { authorize } from '../http/authorize.ts';
import type { Tenancy } from '../tenancy/model.ts';
import type { JobHandler } from './queue.ts';

export interface ProjectsSummary {
  readonly projects: number;
  readonly budgetCents: number;
  readonly byStatus: Readonly<Record<string, number>>;
  /** Project names, oldest first (at most 1,000). */
  readonly names: readonly string[];
}

export function exportProjects(tenancy: Tenancy): JobHandler {
  return async ({ payload }) => {
    const exportId = String(payload.exportId);
    try {
      await tenancy.inCurrentTenant(async (tx) => {
        await authorize(tx, 'projects:read');
        const { rows } = await tx.query<{ projects: number; budget: string; by_status: Record<string, number> | null; names: string[] | null }>(
          `select count(*)::int as projects, coalesce(sum(budget_cents), 0)::text as budget,
                  (select jsonb_object_agg(status, n) from (select status, count(*)::int as n from projects group by status) s) as by_status,
                  (select array_agg(name order by created_at, id) from (select name, created_at, id from projects order by created_at, id limit 1000) p) as names
             from projects`,
        );
        const row = rows[0]!;
        const summary: ProjectsSummary = { projects: row.projects, budgetCents: Number(row.budget), byStatus: row.by_status ?? {}, names: row.names ?? [] };
        // Idempotent: a job that runs again after a crash rewrites the same row.
        await tx.query(
          `insert into exports (id, requested_by, status, result, finished_at) values ($1, $2, 'done', $3, now())
           on conflict (tenant_id, id) do update set status = 'done', result = excluded.result, error = null, finished_at = excluded.finished_at`,
          [exportId, payload.principal && typeof payload.principal === 'object' ? (payload.principal as { userId: string }).userId : null, JSON.stringify(summary)],
        );
      });
    } catch (error) {
      await tenancy.inCurrentTenant((tx) =>
        tx.query(`update exports set status = 'failed', error = $2, finished_at = now() where id = $1 and status = 'queued'`, [exportId, (error as Error).message.slice(0, 500)]),
      );
      throw error;
    }
  };
}
