/**
 * A tenant's plan as the routes enforce it: features (403 naming the feature and the plan that
 * has it) and the per-plan statement timeout of heavy routes. Read from the tenant's registry row
 * inside its own tenant transaction (every model has that row at hand: a database tenant keeps a
 * local copy), so the answer is about this tenant and nobody else.
 */
import { planFeatures, upgradeOf, type Feature, type PlanName } from '../auth/permissions.ts';
import type { Queryable } from '../tenancy/queryable.ts';
import { HttpError } from './errors.ts';

export interface TenantPlan {
  readonly plan: PlanName;
  /** Per-tenant overrides of the plan's features (`features` jsonb of the registry row). */
  readonly overrides: Readonly<Record<string, unknown>>;
}

export async function tenantPlan(tx: Queryable): Promise<TenantPlan> {
  const { rows } = await tx.query<{ plan: PlanName; features: Record<string, unknown> }>(
    'select plan, features from app.tenants where id = app.current_tenant_id()',
  );
  if (!rows[0]) throw new HttpError(401, 'the tenant of this token no longer exists');
  return { plan: rows[0].plan, overrides: rows[0].features ?? {} };
}

export function hasFeature(plan: TenantPlan, feature: Feature): boolean {
  const override = plan.overrides[feature];
  return typeof override === 'boolean' ? override : planFeatures[plan.plan].includes(feature);
}

/** The plan that first includes `feature` above `plan`, for the upgrade hint. */
function planWith(plan: PlanName, feature: Feature): PlanName | undefined {
  for (let next = upgradeOf[plan]; next; next = upgradeOf[next]) if (planFeatures[next].includes(feature)) return next;
  return undefined;
}

/** 403 naming the feature when the tenant's plan (and overrides) do not include it. */
export function requireFeature(plan: TenantPlan, feature: Feature): void {
  if (hasFeature(plan, feature)) return;
  const upgrade = planWith(plan.plan, feature);
  throw new HttpError(403, `the ${feature} feature is not included in the ${plan.plan} plan${upgrade ? `: upgrade to ${upgrade}` : ''}`, {
    feature,
    plan: plan.plan,
    ...(upgrade ? { upgrade } : {}),
  });
}
