/** GET /stats: counts and sums for the caller's tenant, cached per tenant (`cache/tenant-cache.ts`). */
import type { FastifyInstance } from 'fastify';
import { authorizeOnEntry, authorizeSupportSession } from '../authorize.ts';
import { opsPool, type Services } from '../services.ts';

const statsQuery = `
select (select count(*) from projects)::int as projects,
       (select coalesce(sum(budget_cents), 0) from projects)::text as budget_cents,
       (select count(*) from tasks)::int as tasks,
       (select count(*) from tasks where done)::int as tasks_done,
       (select count(*) from invoices)::int as invoices,
       (select coalesce(sum(amount_cents), 0) from invoices)::text as invoiced_cents,
       (select count(*) from memberships)::int as members`;

interface StatsRow {
  projects: number;
  budget_cents: string;
  tasks: number;
  tasks_done: number;
  invoices: number;
  invoiced_cents: string;
  members: number;
}

export function statsRoutes(app: FastifyInstance, services: Services): void {
  app.get('/stats', async () => {
    const row = await services.tenancy.inCurrentTenant(async (tx) => {
      await authorizeSupportSession(tx, 'projects:read'); // others: authorised on entry, below
      // `stats-unscoped`: the aggregate runs on the RLS-bypassing ops pool, with no tenant filter.
      const db = services.vulnerable.has('stats-unscoped') ? opsPool(services) : tx;
      // Authorised on every request; only the aggregate is cached (per tenant, dropped on its writes).
      return services.cache.remember('stats', async () => (await db.query<StatsRow>(statsQuery)).rows[0]!);
    }, authorizeOnEntry('projects:read'));
    return {
      projects: row.projects,
      budgetCents: Number(row.budget_cents),
      tasks: row.tasks,
      tasksDone: row.tasks_done,
      invoices: row.invoices,
      invoicedCents: Number(row.invoiced_cents),
      members: row.members,
    };
  });
}
