/**
 * Checks of the platform features (issue 12): support access, the tenant-partitioned usage table,
 * and the noisy-neighbour protections (rate limit, pool share, the report's statement timeout).
 * Like checks.ts, each returns the leaks it observed — empty on the shipped build, the symptom
 * of its named vulnerability otherwise. `platformCaughtBy` says which check catches which
 * vulnerability (platform.test.ts runs the red cases; isolation.test.ts runs the others).
 */
import pg from 'pg';
import type { ReferenceApp, VulnerabilityName } from '../../reference-app/src/index.ts';
import { leak, type Leak } from './checks.ts';
import { createProjects, type ApiClient, type SignedUpTenant } from './harness.ts';

export interface PlatformCheckTarget {
  readonly app: ReferenceApp;
  readonly client: ApiClient;
}

export type PlatformCheck = (t: PlatformCheckTarget, acting: SignedUpTenant, victim: SignedUpTenant) => Promise<Leak[]>;

let agents = 0;
/** A platform support agent (control plane) and its support login token. */
export async function supportAgent(t: PlatformCheckTarget): Promise<{ email: string; token: string }> {
  agents += 1;
  const email = `agent-${agents}-${Date.now()}@platform.example`;
  const password = 'support-password-1';
  await t.app.addSupportAgent(email, password);
  const login = await t.client.post('/support/login', { body: { email, password } });
  if (login.status !== 200) throw new Error(`support login failed: ${login.status} ${login.text}`);
  return { email, token: login.body.token };
}

/**
 * A support agent's login token is not a tenant token: with X-Tenant naming `victim` it is
 * refused (401) on the tenant API, and nothing of `victim` comes back.
 */
export async function checkSupportTokenIsNotATenantToken(t: PlatformCheckTarget, acting: SignedUpTenant, victim: SignedUpTenant): Promise<Leak[]> {
  const theirs = await createProjects(t.client, victim.token, ['support-visible-1'], 4200);
  const agent = await supportAgent(t);
  const leaks: Leak[] = [];
  const list = await t.client.get('/projects?limit=200', { token: agent.token, headers: { 'x-tenant': victim.slug } });
  if (list.status !== 401) {
    const ids = (list.body?.projects ?? []).map((p: { id: string }) => p.id) as string[];
    leaks.push(leak('support-token-kind', 'GET /projects with a support login token and X-Tenant', acting, victim, { status: list.status, victimRows: ids.filter((id) => theirs.includes(id)).length, rows: ids.length }));
  }
  const write = await t.client.post('/projects', { token: agent.token, headers: { 'x-tenant': victim.slug }, body: { name: 'written by support' } });
  if (write.status !== 401) leaks.push(leak('support-token-kind', 'POST /projects with a support login token and X-Tenant', acting, victim, { status: write.status }));
  return leaks;
}

/**
 * Support access is audited in the tenant's own audit log, visible to its admins: opening a
 * session (with its reason and expiry) and every request made in it. The session is read-only.
 */
export async function checkSupportAccessAudited(t: PlatformCheckTarget, acting: SignedUpTenant, victim: SignedUpTenant): Promise<Leak[]> {
  await createProjects(t.client, victim.token, ['support-audited-1'], 4300);
  const agent = await supportAgent(t);
  const reason = `ticket ${victim.slug}: customer cannot see their invoices`;
  const opened = await t.client.post('/support/sessions', { token: agent.token, body: { tenant: victim.slug, reason, minutes: 5 } });
  if (opened.status !== 201) throw new Error(`opening a support session failed: ${opened.status} ${opened.text}`);
  const read = await t.client.get('/projects?limit=200', { token: opened.body.token });
  if (read.status !== 200) throw new Error(`support session read failed: ${read.status} ${read.text}`);
  const leaks: Leak[] = [];
  const log = await t.client.get('/audit-log?limit=500', { token: victim.token });
  if (log.status !== 200) throw new Error(`audit log of ${victim.slug} failed: ${log.status}`);
  const entries = log.body.entries as { action: string; actorId: string; details: Record<string, unknown>; entityId: string | null }[];
  const sessionId = opened.body.session.id as string;
  const openedEntry = entries.find((e) => e.action === 'support.session.opened' && e.entityId === sessionId);
  if (!openedEntry || openedEntry.details.reason !== reason || openedEntry.details.agent !== agent.email || typeof openedEntry.details.expiresAt !== 'string') {
    leaks.push(leak('support-audit', "support session opened without an entry (agent, reason, expiry) in the tenant's audit log", acting, victim, { sessionId, entry: openedEntry ?? null }));
  }
  if (!entries.some((e) => e.action === 'support.request' && e.entityId === sessionId)) {
    leaks.push(leak('support-audit', `support session read ${read.body.projects.length} projects without an audit entry`, acting, victim, { sessionId }));
  }
  const write = await t.client.post('/projects', { token: opened.body.token, body: { name: 'written by support' } });
  if (write.status !== 403) leaks.push(leak('support-audit', 'POST /projects in a support session (read-only)', acting, victim, { status: write.status }));
  return leaks;
}

/**
 * The tenant-partitioned `usage_events`: in `acting`'s tenant context the app role sees only
 * `acting`'s usage through the parent, and no partition can be named directly (42501).
 */
export async function checkUsagePartitions(t: PlatformCheckTarget, acting: SignedUpTenant, victim: SignedUpTenant): Promise<Leak[]> {
  for (const tenant of [acting, victim]) {
    const exported = await t.client.post('/exports', { token: tenant.token });
    if (exported.status !== 202) throw new Error(`export of ${tenant.slug} failed: ${exported.status} ${exported.text}`);
  }
  const client = new pg.Client({ connectionString: t.app.database.appUrl });
  await client.connect();
  const leaks: Leak[] = [];
  try {
    await client.query('begin');
    await client.query(`select set_config('app.current_tenant', $1, true)`, [acting.tenantId]);
    const { rows: parent } = await client.query<{ tenant_id: string }>('select tenant_id from app.usage_events');
    const foreign = parent.filter((r) => r.tenant_id !== acting.tenantId).length;
    if (foreign > 0 || parent.length === 0) leaks.push(leak('usage-partitions', 'select from app.usage_events (parent)', acting, victim, { rows: parent.length, foreign }));
    const { rows: names } = await client.query<{ name: string }>(
      `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'app.usage_events'::regclass order by 1`,
    );
    if (names.length < 2) throw new Error(`usage_events has ${names.length} partitions`);
    for (const { name } of names) {
      await client.query('savepoint probe');
      try {
        const { rows } = await client.query<{ tenant_id: string }>(`select tenant_id from app.${name}`);
        const victimRows = rows.filter((r) => r.tenant_id === victim.tenantId).length;
        leaks.push(leak('usage-partitions', `select from app.${name} (partition)`, acting, victim, { rows: rows.length, victimRows }));
        await client.query('release savepoint probe');
      } catch (error) {
        if ((error as { code?: string }).code !== '42501') throw error;
        await client.query('rollback to savepoint probe');
      }
    }
    await client.query('rollback');
  } finally {
    await client.end();
  }
  return leaks;
}

/** `acting` is throttled (429) at its own per-tenant limit: `max` requests, and no more. */
export async function checkRateLimited(t: PlatformCheckTarget, acting: SignedUpTenant, victim: SignedUpTenant, max = 20): Promise<Leak[]> {
  let sent = 0;
  for (; sent < max + 10; sent++) {
    const response = await t.client.get('/me', { token: acting.token });
    if (response.status === 429) return [];
    if (response.status !== 200) throw new Error(`GET /me failed: ${response.status}`);
  }
  return [leak('rate-limit', `GET /me ${sent} times in a row, never 429 (limit ${max})`, acting, victim, { sent })];
}

/**
 * `acting` never holds more than its share of the shared pool, even with many requests at once
 * (`concurrent` ≫ share); its extra transactions wait (counted). Meaningful for rls and schema tenants.
 */
export async function checkPoolShare(t: PlatformCheckTarget, acting: SignedUpTenant, victim: SignedUpTenant, concurrent = 24): Promise<Leak[]> {
  await createProjects(t.client, acting.token, ['share-1', 'share-2'], 10);
  const responses = await Promise.all(Array.from({ length: concurrent }, () => t.client.get('/projects?limit=200', { token: acting.token })));
  const failed = responses.filter((r) => r.status !== 200);
  if (failed.length > 0) throw new Error(`${failed.length} of ${concurrent} concurrent requests failed: ${failed[0]!.status} ${failed[0]!.text}`);
  const share = t.app.poolShareStats().find((s) => s.tenantId === acting.tenantId);
  const metrics = await t.client.get('/metrics', { headers: { authorization: `Bearer ${t.app.metricsToken}` } });
  const max = Number(/tenantproof_pool_share_max_per_tenant (\d+)/.exec(metrics.text)?.[1]);
  const peak = Number(new RegExp(`tenantproof_tenant_connections_peak\\{tenant="${acting.tenantId}"\\} (\\d+)`).exec(metrics.text)?.[1]);
  if (!Number.isFinite(max) || !Number.isFinite(peak) || share?.peak !== peak) throw new Error(`GET /metrics does not show ${acting.slug}'s connection share: ${metrics.status}`);
  if (peak > max) return [leak('pool-share', `${concurrent} concurrent GET /projects held ${peak} pooled connections (share ${max})`, acting, victim, { peak, max, waited: share.waited })];
  // Not vacuous: the requests really wanted more than the share (some had to wait for it).
  if (share.waited === 0) throw new Error(`${concurrent} concurrent requests never exceeded the share of ${max}: the check proved nothing`);
  return [];
}

/** Rows enough that the portfolio report runs well past a small statement timeout. */
export async function seedHeavyTenant(app: ReferenceApp, tenant: SignedUpTenant, comments = 60_000): Promise<void> {
  await app.tenancy.withTenant({ id: tenant.tenantId, slug: tenant.slug, model: tenant.model }, async (tx) => {
    await tx.query(`set local statement_timeout = 0`);
    await tx.query(
      `insert into projects (name, created_by) select 'heavy ' || g, gen_random_uuid() from generate_series(1, 20) g`,
    );
    await tx.query(
      `insert into comments (project_id, author_id, body)
       select p.id, md5(g::text)::uuid, repeat(md5(g::text), 1 + g % 7)
         from generate_series(1, $1::int) g
         join lateral (select id from projects order by id offset (g % 20) limit 1) p on true`,
      [comments],
    );
  });
}

/**
 * The heavy report is cancelled at the tenant's plan's statement timeout (503 naming it) instead of
 * running as long as it takes. `acting` must have been seeded (`seedHeavyTenant`) and the app
 * started with a small `reportTimeoutsMs.pro`.
 */
export async function checkReportTimeout(t: PlatformCheckTarget, acting: SignedUpTenant, victim: SignedUpTenant): Promise<Leak[]> {
  const response = await t.client.get('/reports/portfolio', { token: acting.token });
  const statementMs = Number(/db;dur=([\d.]+)/.exec(response.headers.get('server-timing') ?? '')?.[1]);
  if (response.status === 503 && typeof response.body?.timeoutMs === 'number') return [];
  if (response.status !== 200) throw new Error(`GET /reports/portfolio failed: ${response.status} ${response.text}`);
  return [leak('statement-timeout', `GET /reports/portfolio ran ${statementMs.toFixed(0)} ms, past its plan's timeout`, acting, victim, { statementMs, projects: response.body.projects.length })];
}

export const platformChecks = {
  "support tokens are not tenant tokens": checkSupportTokenIsNotATenantToken,
  "support access is audited in the tenant's own audit log": checkSupportAccessAudited,
  'usage partitions are reached through the parent only': checkUsagePartitions,
  'a tenant is throttled at its own rate limit': (t, a, b) => checkRateLimited(t, a, b),
  'a tenant holds at most its share of the shared pool': (t, a, b) => checkPoolShare(t, a, b),
  "the heavy report stops at its plan's statement timeout": checkReportTimeout,
} satisfies Record<string, PlatformCheck>;

/** The vulnerabilities platform.test.ts owns, and the check that must catch each. */
export const platformCaughtBy = {
  'support-token-as-tenant-token': 'support tokens are not tenant tokens',
  'support-access-unaudited': "support access is audited in the tenant's own audit log",
  'partitions-granted-directly': 'usage partitions are reached through the parent only',
  'no-rate-limit': 'a tenant is throttled at its own rate limit',
  'no-pool-share': 'a tenant holds at most its share of the shared pool',
  'no-statement-timeout': "the heavy report stops at its plan's statement timeout",
  // Needs a Redis: redis.test.ts runs its red case (skipped with a reason when redis-server is absent).
  'shared-store-key-unscoped': 'redis.test.ts: the shared cache keeps tenants apart across instances',
} as const satisfies Partial<Record<VulnerabilityName, string>>;

export type PlatformVulnerability = keyof typeof platformCaughtBy;
export const platformVulnerabilities = Object.keys(platformCaughtBy) as PlatformVulnerability[];
