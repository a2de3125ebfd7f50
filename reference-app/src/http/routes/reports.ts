/**
 * GET /reports/portfolio: a genuinely heavy report — aggregations over all of the tenant's
 * projects, tasks, comments and invoices (distinct counts and a median over every comment, a
 * running weekly total) — so there is something to protect the other tenants from. Guarded three
 * ways: the `reports` feature of the plan (403 naming it), the monthly `reports` quota (429 with
 * limit, usage and upgrade hint, `metering/usage-meter.ts`), and the plan's `statement_timeout`
 * on the report statement (503 naming the timeout; the `no-statement-timeout` protection switch
 * removes it). `Server-Timing: db;dur=…` says how long the statement itself ran.
 */
import type { FastifyInstance } from 'fastify';
import { upgradeOf } from '../../auth/permissions.ts';
import { currentTenantContext } from '../../tenancy/context.ts';
import { authorize } from '../authorize.ts';
import { HttpError } from '../errors.ts';
import { requireFeature, tenantPlan } from '../plan.ts';
import type { Services } from '../services.ts';

export const portfolioReportSql = `
with task_stats as (
  select project_id, count(*)::int as tasks, (count(*) filter (where done))::int as done, count(distinct assignee_id)::int as assignees
    from tasks group by project_id),
comment_stats as (
  select project_id, count(*)::int as comments, count(distinct author_id)::int as authors,
         percentile_cont(0.5) within group (order by char_length(body)) as median_length,
         count(distinct md5(body))::int as distinct_bodies, max(created_at) as last_comment_at
    from comments group by project_id),
weekly as (
  select project_id, sum(count(*)) over (partition by project_id order by date_trunc('week', created_at)) as running
    from comments group by project_id, date_trunc('week', created_at)),
invoice_stats as (
  select project_id, count(*)::int as invoices, coalesce(sum(amount_cents), 0)::text as invoiced_cents
    from invoices where project_id is not null group by project_id)
select p.id, p.name, p.status, p.budget_cents::text as budget_cents,
       coalesce(ts.tasks, 0) as tasks, coalesce(ts.done, 0) as tasks_done, coalesce(ts.assignees, 0) as assignees,
       coalesce(cs.comments, 0) as comments, coalesce(cs.authors, 0) as comment_authors,
       coalesce(cs.median_length, 0)::float8 as median_comment_length, coalesce(cs.distinct_bodies, 0) as distinct_comments,
       cs.last_comment_at, coalesce((select max(w.running) from weekly w where w.project_id = p.id), 0)::int as peak_running_comments,
       coalesce(i.invoices, 0) as invoices, coalesce(i.invoiced_cents, '0') as invoiced_cents
  from projects p
  left join task_stats ts on ts.project_id = p.id
  left join comment_stats cs on cs.project_id = p.id
  left join invoice_stats i on i.project_id = p.id
 order by p.created_at, p.id`;

interface ReportRow {
  id: string;
  name: string;
  status: string;
  budget_cents: string;
  tasks: number;
  tasks_done: number;
  assignees: number;
  comments: number;
  comment_authors: number;
  median_comment_length: number;
  distinct_comments: number;
  last_comment_at: Date | null;
  peak_running_comments: number;
  invoices: number;
  invoiced_cents: string;
}

export function reportRoutes(app: FastifyInstance, services: Services): void {
  const { tenancy } = services;
  app.get('/reports/portfolio', async (_request, reply) => {
    const { tenant } = currentTenantContext();
    const plan = await tenancy.inCurrentTenant(async (tx) => {
      await authorize(tx, 'projects:read');
      const current = await tenantPlan(tx);
      requireFeature(current, 'reports');
      return current;
    });
    await services.meter.admit(tenant, 'reports');
    // `no-statement-timeout`: 0 = no limit at all for the report statement.
    const timeoutMs = services.vulnerable.has('no-statement-timeout') ? 0 : services.reportTimeoutsMs[plan.plan];
    let statementMs = 0;
    let rows: ReportRow[];
    try {
      rows = await tenancy.inCurrentTenant(async (tx) => {
        await tx.query(`select set_config('statement_timeout', $1, true)`, [`${timeoutMs}ms`]);
        const started = performance.now();
        try {
          return (await tx.query<ReportRow>(portfolioReportSql)).rows;
        } finally {
          statementMs = performance.now() - started;
        }
      });
    } catch (error) {
      if ((error as { code?: string }).code !== '57014') throw error;
      const upgrade = upgradeOf[plan.plan];
      void reply.header('server-timing', `db;dur=${statementMs.toFixed(1)}`);
      throw new HttpError(503, `the report ran longer than the ${plan.plan} plan's statement timeout of ${timeoutMs} ms and was cancelled`, {
        timeoutMs,
        plan: plan.plan,
        ...(upgrade ? { upgrade } : {}),
      });
    }
    void reply.header('server-timing', `db;dur=${statementMs.toFixed(1)}`);
    return {
      projects: rows.map((r) => ({
        id: r.id,
        name: r.name,
        status: r.status,
        budgetCents: Number(r.budget_cents),
        tasks: r.tasks,
        tasksDone: r.tasks_done,
        assignees: r.assignees,
        comments: r.comments,
        commentAuthors: r.comment_authors,
        medianCommentLength: r.median_comment_length,
        distinctComments: r.distinct_comments,
        lastCommentAt: r.last_comment_at,
        peakRunningComments: r.peak_running_comments,
        invoices: r.invoices,
        invoicedCents: Number(r.invoiced_cents),
      })),
    };
  });
}
