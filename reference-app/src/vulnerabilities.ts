/**
 * Named vulnerabilities: deliberate, switchable defects of the reference app. Each exists so that a
 * check has a red case it must catch (tests with teeth). They are switched on by name with
 * `VULNERABILITIES=a,b` (main.ts) or the `vulnerabilities` option of `startReferenceApp`.
 *
 * This is the one place they are documented. Later issues append to this list.
 *
 * Some variants change the database itself (`rls-not-forced`) or need a role that bypasses RLS
 * (the `ops` role: `idor-by-id`, `stats-unscoped`, `header-tenant-trusted`,
 * `switch-tenant-unchecked`, `existence-oracle`) or a shared sequence (`invoice-number-global`). Start a vulnerable variant on its own scratch database.
 */
export const vulnerabilities = {
  'rls-not-forced': {
    description:
      'The app connects as the role that owns the tenant tables, and RLS is enabled but not forced on them: ' +
      'the owner bypasses every policy, so listing routes return every tenant\'s rows.',
    leakClass: 'read',
  },
  'session-level-context': {
    description:
      "The tenant context is set with set_config('app.current_tenant', $1, false) — session-level instead of " +
      'transaction-local — so it outlives the transaction and leaks to the next user of the pooled connection.',
    leakClass: 'context',
  },
  'header-tenant-trusted': {
    description:
      'The X-Tenant header and the acme.localhost subdomain select any tenant by slug, resolved through the ' +
      "RLS-bypassing ops role, without checking that the token's principal is a member; the token's role is kept.",
    leakClass: 'read',
  },
  'switch-tenant-unchecked': {
    description:
      'POST /switch-tenant re-issues the token for any tenant slug without the server-side membership check, ' +
      "copying the caller's current role into the new tenant.",
    leakClass: 'privilege',
  },
  'jwt-unverified': {
    description:
      'Bearer tokens are decoded, not verified: alg "none", a wrong key, tampered claims and expired tokens are all ' +
      'accepted, so anyone can mint a token for any tenant.',
    leakClass: 'privilege',
  },
  'idor-by-id': {
    description:
      'GET/PATCH/DELETE /projects/:id look the project up by id alone through the ops role (which bypasses RLS) ' +
      "instead of inside the caller's tenant context: any tenant can read, change or delete another's project by id.",
    leakClass: 'read',
  },
  'stats-unscoped': {
    description:
      "GET /stats aggregates through the ops role without a tenant filter: counts and sums cover every tenant.",
    leakClass: 'aggregate',
  },
  'rate-limit-global': {
    description:
      'The per-tenant API rate limit is keyed globally — one bucket shared by every tenant — so a noisy tenant ' +
      "that uses up the budget gets every other tenant's requests refused with 429 (noisy neighbour).",
    leakClass: 'availability',
  },
  'schema-shared-role': {
    description:
      'Schema-model tenants all run as one shared role that has USAGE on every tenant schema, so a fully qualified ' +
      "other_tenant.projects is answered by PostgreSQL instead of refused: only the search_path keeps tenants apart.",
    leakClass: 'read',
  },
  'search-path-session': {
    description:
      'The schema model enters a tenant with session-level SET ROLE / set_config(search_path, ..., false) on pooled ' +
      "connections: both outlive the transaction, so the connection's next user acts as the previous tenant.",
    leakClass: 'context',
  },
  'schema-name-injection': {
    description:
      "Tenant schemas are named by interpolating the tenant's slug (tenant_<slug>, create schema if not exists) " +
      'instead of deriving a validated identifier from the tenant id: client input decides which schema a tenant gets.',
    leakClass: 'privilege',
  },
  'database-public-connect': {
    description:
      'Tenant databases keep the default CONNECT privilege of PUBLIC and their tables are granted SELECT to PUBLIC: ' +
      "any login role of the cluster — another tenant's included — can connect to a tenant database and read it.",
    leakClass: 'read',
  },
  'cache-key-unscoped': {
    description:
      'The response cache (GET /stats) keys entries by route only, without the tenant of the tenant context: ' +
      "the first tenant's answer is served to every other tenant until it expires or is invalidated.",
    leakClass: 'read',
  },
  'job-context-lost': {
    description:
      'The job worker runs each job in the tenant context of the last job it ran instead of the one captured at ' +
      "enqueue time: a tenant's export summarises another tenant's projects and is written into that tenant's exports.",
    leakClass: 'context',
  },
  'existence-oracle': {
    description:
      'Project routes (GET/PATCH/DELETE /projects/:id and their tasks and comments) first look the id up in every ' +
      'tenant through the RLS-bypassing ops role and answer 403 "belongs to another tenant" instead of 404: ' +
      "anyone can tell another tenant's ids from unused ones.",
    leakClass: 'existence',
  },
  'invoice-number-global': {
    description:
      'Invoice numbers come from one sequence shared by every tenant instead of the per-tenant counter: the gap ' +
      "between two of a tenant's invoice numbers is how many invoices the other tenants issued meanwhile.",
    leakClass: 'aggregate',
  },
  'audit-sequence-global': {
    description:
      'GET /audit-log exposes the raw audit_log identity, one sequence shared by all rls tenants, instead of a ' +
      "per-tenant entry number: the gaps count every other tenant's writes (their activity and growth).",
    leakClass: 'aggregate',
  },
  'support-token-as-tenant-token': {
    description:
      "The tenant API accepts a platform support agent's login token as an ordinary tenant token, the tenant taken from " +
      'the X-Tenant header: no support session, no reason, no time bound, no audit entry — and the admin role, so the ' +
      "agent reads and changes any tenant's data unseen.",
    leakClass: 'privilege',
  },
  'support-access-unaudited': {
    description:
      "Support sessions are opened and used without writing the tenant's own audit log: the tenant's admins cannot see " +
      'that, when, why or what platform staff read in their tenant.',
    leakClass: 'privilege',
  },
  'partitions-granted-directly': {
    description:
      'The partitions of the tenant-partitioned usage_events table are granted to the app role directly. Row security ' +
      "is on the parent only, so a statement naming a partition (usage_events_p0 …) reads every tenant's usage rows in it.",
    leakClass: 'read',
  },
  'shared-store-key-unscoped': {
    description:
      'With the shared store (Redis, several app instances), cached answers are keyed without the tenant: the first ' +
      "tenant's GET /stats answer is served from Redis to every other tenant, on every instance.",
    leakClass: 'read',
  },
  'no-rate-limit': {
    description: 'Protection switched off: no per-tenant request rate limit, so one tenant may send as many requests as it likes.',
    leakClass: 'availability',
  },
  'no-pool-share': {
    description:
      'Protection switched off: no per-tenant share of the shared connection pool, so one tenant (a heavy report at a ' +
      'high rate) may hold every pooled connection while the other tenants queue.',
    leakClass: 'availability',
  },
  'no-statement-timeout': {
    description:
      "Protection switched off: the heavy report runs without its plan's statement_timeout, holding a connection and a " +
      'core for as long as it takes.',
    leakClass: 'availability',
  },
} as const satisfies Record<string, { description: string; leakClass: string }>;

export type VulnerabilityName = keyof typeof vulnerabilities;

export const vulnerabilityNames = Object.keys(vulnerabilities) as VulnerabilityName[];

/** Vulnerabilities that need the RLS-bypassing ops role (created on demand, needs a superuser admin URL). */
export const needsOpsRole: readonly VulnerabilityName[] = ['idor-by-id', 'stats-unscoped', 'header-tenant-trusted', 'switch-tenant-unchecked', 'existence-oracle'];

export class UnknownVulnerabilityError extends Error {
  override readonly name = 'UnknownVulnerabilityError';
  constructor(readonly unknown: readonly string[]) {
    super(`unknown vulnerability name(s): ${unknown.join(', ')}; known: ${vulnerabilityNames.join(', ')}`);
  }
}

/** Parses `a,b` (env) or a list (option) into a set of known names; unknown names are an error, never ignored. */
export function parseVulnerabilities(input: string | readonly string[] | undefined): ReadonlySet<VulnerabilityName> {
  const names = (typeof input === 'string' ? input.split(',') : (input ?? [])).map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(vulnerabilityNames as readonly string[]).includes(n));
  if (unknown.length > 0) throw new UnknownVulnerabilityError(unknown);
  return new Set(names as VulnerabilityName[]);
}
