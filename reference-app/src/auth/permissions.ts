/**
 * Permissions and the roles every new tenant starts with. Roles are per tenant (rows of the
 * tenant's `roles` table); these are only the seed.
 */
export const permissions = [
  'projects:read',
  'projects:write',
  'members:manage',
  'billing:read',
  'billing:write',
  'tenant:delete',
] as const;

export type Permission = (typeof permissions)[number];

export const seedRoles: Readonly<Record<string, readonly Permission[]>> = {
  admin: permissions,
  member: ['projects:read', 'projects:write'],
  viewer: ['projects:read'],
  billing: ['projects:read', 'billing:read', 'billing:write'],
};

/** Plans and the limits a tenant gets when it signs up on one (copied into its registry row, `limits`). */
export const plans = {
  free: { max_projects: 3, max_members: 5, monthly_reports: 0, monthly_exports: 20 },
  pro: { max_projects: 50, max_members: 100, monthly_reports: 5000, monthly_exports: 1000 },
  enterprise: { max_projects: 1000, max_members: 1000, monthly_reports: 100000, monthly_exports: 100000 },
} as const;

export type PlanName = keyof typeof plans;

/** The next plan up, named in refusals (an upgrade hint), or undefined at the top. */
export const upgradeOf: Readonly<Record<PlanName, PlanName | undefined>> = { free: 'pro', pro: 'enterprise', enterprise: undefined };

/**
 * Features a plan includes. A tenant's registry row may override one (`features` jsonb, e.g.
 * `{"reports": true}` for a free tenant on a trial); anything else follows its plan.
 */
export const features = ['reports', 'exports'] as const;
export type Feature = (typeof features)[number];

export const planFeatures: Readonly<Record<PlanName, readonly Feature[]>> = {
  free: ['exports'],
  pro: ['exports', 'reports'],
  enterprise: ['exports', 'reports'],
};

/** Metered usage: what a tenant consumes per calendar month (UTC), against `limits.monthly_<metric>`. */
export const meteredMetrics = ['reports', 'exports'] as const;
export type MeteredMetric = (typeof meteredMetrics)[number];
