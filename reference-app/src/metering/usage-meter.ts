/**
 * Usage metering: what a tenant consumes, recorded as events (tenant, metric, quantity, time) in
 * the hash-partitioned `app.usage_events`, with the monthly aggregate `app.usage_monthly` kept in
 * the same transaction. Both live in the shared database for tenants of every model and are
 * written on the global side with the tenant context set (forced RLS: a tenant can only meter
 * itself).
 *
 * Limits are enforced at admission, before the work runs ("close to the edge"): the month's row
 * is locked, and a request that would go over `limits.monthly_<metric>` of the tenant's registry
 * row is refused with 429 naming the limit, the current usage and the plan to upgrade to. An
 * admitted request is charged even if its work then fails (it was attempted).
 */
import type pg from 'pg';
import { meteredMetrics, upgradeOf, type MeteredMetric, type PlanName } from '../auth/permissions.ts';
import type { TenantRef } from '../tenancy/context.ts';
import { withGlobalSide } from '../tenancy/global-side.ts';
import { HttpError } from '../http/errors.ts';

export interface MetricUsage {
  readonly used: number;
  /** `null`: unlimited. */
  readonly limit: number | null;
}

export interface UsageReport {
  /** The calendar month (UTC), `YYYY-MM`. */
  readonly month: string;
  readonly plan: PlanName;
  readonly upgrade: PlanName | null;
  readonly metrics: Readonly<Record<MeteredMetric, MetricUsage>>;
}

// The calendar month as `YYYY-MM` text: a form the column's CHECK states plainly (a verifier can fill it).
const month = `to_char(now() at time zone 'utc', 'YYYY-MM')`;

export class UsageLimitError extends HttpError {
  constructor(
    readonly metric: MeteredMetric,
    readonly usage: MetricUsage & { limit: number },
    readonly plan: PlanName,
  ) {
    const upgrade = upgradeOf[plan];
    super(
      429,
      `monthly ${metric} limit reached: ${usage.used} of ${usage.limit} used on the ${plan} plan${upgrade ? `; upgrade to ${upgrade} for more` : ''}`,
      { metric, limit: usage.limit, used: usage.used, plan, ...(upgrade ? { upgrade } : {}) },
    );
  }
}

export class UsageMeter {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Admits `quantity` of `metric` for `tenant` (records the event and adds it to the month), or
   * throws `UsageLimitError` (429) when that would exceed the tenant's monthly limit.
   */
  async admit(tenant: Pick<TenantRef, 'id'>, metric: MeteredMetric, quantity = 1): Promise<MetricUsage> {
    return withGlobalSide(this.pool, tenant, async (tx) => {
      await tx.query(`insert into usage_monthly (metric, month, quantity) values ($1, ${month}, 0) on conflict do nothing`, [metric]);
      const { rows } = await tx.query<{ used: string; limit: string | null; plan: PlanName }>(
        `select m.quantity::text as used, t.limits ->> ('monthly_' || $1) as limit, t.plan
           from usage_monthly m join tenants t on t.id = m.tenant_id
          where m.metric = $1 and m.month = ${month}
            for update of m`,
        [metric],
      );
      const row = rows[0];
      if (!row) throw new Error(`usage row of ${metric} missing for tenant ${tenant.id}`);
      const used = Number(row.used);
      const limit = row.limit === null ? null : Number(row.limit);
      if (limit !== null && used + quantity > limit) throw new UsageLimitError(metric, { used, limit }, row.plan);
      await tx.query('insert into usage_events (metric, quantity) values ($1, $2)', [metric, quantity]);
      await tx.query(`update usage_monthly set quantity = quantity + $2 where metric = $1 and month = ${month}`, [metric, quantity]);
      return { used: used + quantity, limit };
    });
  }

  /** This month's usage of `tenant`, every metered metric, with its limits and plan. */
  async report(tenant: Pick<TenantRef, 'id'>): Promise<UsageReport> {
    return withGlobalSide(this.pool, tenant, async (tx) => {
      const { rows: registry } = await tx.query<{ plan: PlanName; limits: Record<string, unknown>; month: string }>(
        `select plan, limits, ${month} as month from tenants where id = app.current_tenant_id()`,
      );
      const tenantRow = registry[0];
      if (!tenantRow) throw new HttpError(401, 'the tenant of this token no longer exists');
      const { rows } = await tx.query<{ metric: MeteredMetric; used: string }>(`select metric, quantity::text as used from usage_monthly where month = ${month}`);
      const used = new Map(rows.map((r) => [r.metric, Number(r.used)]));
      const metrics = Object.fromEntries(
        meteredMetrics.map((m) => {
          const limit = tenantRow.limits[`monthly_${m}`];
          return [m, { used: used.get(m) ?? 0, limit: typeof limit === 'number' ? limit : null }];
        }),
      ) as Record<MeteredMetric, MetricUsage>;
      return { month: tenantRow.month, plan: tenantRow.plan, upgrade: upgradeOf[tenantRow.plan] ?? null, metrics };
    });
  }
}
