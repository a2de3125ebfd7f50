/**
 * Vocabulary of the reference app (the same words as tenantproof's):
 * - tenant: one customer organisation (a row of `tenants`).
 * - principal: a user acting inside a tenant, with the role its membership gives it there.
 * - tenant context: which tenant the current request acts as. It flows from the HTTP layer to
 *   the data layer through AsyncLocalStorage, never through function arguments that a route
 *   could forget or mix up.
 * - isolation model: how the data layer confines a tenant context to its tenant (`rls` now;
 *   `schema` and `database` in a later issue).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Permission } from '../auth/permissions.ts';

export type IsolationModel = 'rls' | 'schema' | 'database';

export interface TenantRef {
  readonly id: string;
  readonly slug: string;
  /** Where this tenant's rows live. Every tenant is `rls` for now; a hybrid stores it per tenant. */
  readonly model: IsolationModel;
}

export interface Principal {
  readonly userId: string;
  readonly role: string;
  /** When the principal's token was issued (ms): tokens issued before a revocation are refused. */
  readonly tokenIssuedAtMs: number;
  /**
   * How the tenant was chosen for this request (`job`: a background job, in the context it was
   * enqueued in; `support`: a platform support agent's session, opened with a reason).
   */
  readonly via: 'token' | 'header' | 'subdomain' | 'job' | 'support';
  /**
   * Support sessions: the session id, and whether its requests are written into the tenant's
   * audit log (always, unless the `support-access-unaudited` vulnerability is on).
   */
  readonly supportSession?: { readonly id: string; readonly audited: boolean };
}

export interface TenantContext {
  readonly tenant: TenantRef;
  readonly principal: Principal;
}

const storage = new AsyncLocalStorage<TenantContext>();

/** Runs `fn` with `context` as the tenant context of everything it awaits. */
export function runInTenantContext<T>(context: TenantContext, fn: () => T): T {
  return storage.run(context, fn);
}

export class NoTenantContextError extends Error {
  override readonly name = 'NoTenantContextError';
  constructor() {
    super('no tenant context: tenant-scoped data was used outside runInTenantContext');
  }
}

/** The current tenant context; throws rather than guessing (fails closed). */
export function currentTenantContext(): TenantContext {
  const context = storage.getStore();
  if (!context) throw new NoTenantContextError();
  return context;
}

export type { Permission };
