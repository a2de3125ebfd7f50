import type pg from 'pg';
import type { TokenService } from '../auth/tokens.ts';
import type { Tenancy } from '../tenancy/model.ts';
import type { TenantControl } from '../control/tenants.ts';
import type { IsolationModel } from '../tenancy/context.ts';
import type { PlanName } from '../auth/permissions.ts';
import type { Queryable } from '../tenancy/queryable.ts';
import type { TenantContext } from '../tenancy/context.ts';
import type { VulnerabilityName } from '../vulnerabilities.ts';
import type { ResponseCache } from '../cache/tenant-cache.ts';
import type { UsageMeter } from '../metering/usage-meter.ts';
import type { PoolShare } from '../tenancy/pool-share.ts';
import type { JobQueue } from '../jobs/queue.ts';

/** What route modules are given: the data layer, tokens and the switched-on vulnerabilities. */
export interface Services {
  readonly tenancy: Tenancy;
  /** The app role's pool, for statements outside any tenant (the definer-function lookups). */
  readonly pool: pg.Pool;
  /** The RLS-bypassing ops pool; exists only when a vulnerability needs it. */
  readonly ops: pg.Pool | undefined;
  readonly tokens: TokenService;
  readonly vulnerable: ReadonlySet<VulnerabilityName>;
  /** `acme.localhost` selects tenant `acme` when the base domain is `localhost`. */
  readonly baseDomain: string;
  /** Creates and removes tenants' schemas and databases (admin connection). */
  readonly control: TenantControl;
  /** The isolation model a new tenant gets when signup does not name one. */
  readonly planModels: Readonly<Record<PlanName, IsolationModel>>;
  /** Answers of read-heavy routes, per tenant of the tenant context (`cache/tenant-cache.ts`). */
  readonly cache: ResponseCache;
  /** Usage metering and monthly limits (`metering/usage-meter.ts`). */
  readonly meter: UsageMeter;
  /** Each tenant's share of the shared pool (`tenancy/pool-share.ts`). */
  readonly poolShare: PoolShare;
  /** The app's login role (what a pooled connection outside any tenant context must be). */
  readonly appRole: string;
  /** The heavy report's statement_timeout per plan, ms. */
  readonly reportTimeoutsMs: Readonly<Record<PlanName, number>>;
  /** The background job queue (`jobs/queue.ts`): jobs carry the tenant of the context they were enqueued in. */
  readonly jobs: JobQueue;
}

/** The model of a tenant, from its registry row (the hybrid's one source of truth). */
export async function tenantModel(services: Services, tenantId: string): Promise<IsolationModel | undefined> {
  const { rows } = await services.pool.query<{ model: IsolationModel | null }>('select app.tenant_model($1) as model', [tenantId]);
  return rows[0]?.model ?? undefined;
}

export function opsPool(services: Services): Queryable {
  if (!services.ops) throw new Error('ops pool requested but no vulnerability needing it is switched on');
  return services.ops as Queryable;
}

declare module 'fastify' {
  interface FastifyRequest {
    tenantContext: TenantContext | null;
    /** Authenticated, not yet placed (its model is looked up after the rate limit: `placeTenant`). */
    pendingTenantContext: TenantContext | null;
  }
}
