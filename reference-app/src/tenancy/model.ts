/**
 * The isolation-model strategy. The data layer asks `tenancy.withTenant(fn)`; which model confines
 * the tenant is decided in exactly one place, `Tenancy.modelFor`, from the tenant's `model`.
 */
import type { Queryable } from './queryable.ts';
import type { EnterTenant } from './transaction.ts';
import { currentTenantContext, type IsolationModel, type TenantRef } from './context.ts';

export interface TenancyModel {
  readonly name: IsolationModel;
  /** Runs `fn` in one transaction confined to `tenant`; commits when it resolves, rolls back when it throws. */
  withTenant<T>(tenant: TenantRef, fn: (tx: Queryable) => Promise<T>, also?: EnterTenant): Promise<T>;
}

export class UnsupportedIsolationModelError extends Error {
  override readonly name = 'UnsupportedIsolationModelError';
  constructor(readonly model: IsolationModel) {
    super(`isolation model "${model}" is not available in this reference app build`);
  }
}

/** The tenant was moved to another model while this request was on its way: retry it. */
export class TenantMovedError extends Error {
  override readonly name = 'TenantMovedError';
  constructor(
    readonly tenantId: string,
    readonly model: IsolationModel,
  ) {
    super(`tenant ${tenantId} now lives in the ${model} model; retry the request`);
  }
}

/** Key of the advisory lock a move holds exclusively and every rls tenant transaction shares. */
export const tenantMoveLockClass = 1952411;

export class Tenancy {
  constructor(private readonly models: Partial<Record<IsolationModel, TenancyModel>>) {}

  /** The one tenant → model dispatch. */
  modelFor(tenant: TenantRef): TenancyModel {
    const model = this.models[tenant.model];
    if (!model) throw new UnsupportedIsolationModelError(tenant.model);
    return model;
  }

  /** Runs `fn` in the given tenant (used where the context is being established: signup). */
  withTenant<T>(tenant: TenantRef, fn: (tx: Queryable) => Promise<T>, also?: EnterTenant): Promise<T> {
    return this.modelFor(tenant).withTenant(tenant, fn, also);
  }

  /**
   * Runs `fn` in the tenant of the current tenant context (AsyncLocalStorage). `also`: statements
   * sent with BEGIN and the tenant context in one round trip, after them (the route's authorization).
   */
  async inCurrentTenant<T>(fn: (tx: Queryable) => Promise<T>, also?: EnterTenant): Promise<T> {
    const { tenant } = currentTenantContext();
    return this.withTenant(tenant, fn, also);
  }
}
