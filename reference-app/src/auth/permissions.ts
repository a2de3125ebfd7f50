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

/** Plans and the limits a tenant gets when it signs up on one. */
export const plans = {
  free: { max_projects: 3, max_members: 5 },
  pro: { max_projects: 50, max_members: 100 },
  enterprise: { max_projects: 1000, max_members: 1000 },
} as const;

export type PlanName = keyof typeof plans;
