/**
 * Checks of what the reference app keeps per tenant besides its rows — its response cache and
 * its background jobs — and of HTTP side channels: what a tenant can learn about another tenant
 * without reading its rows (whether an id exists, how active the other tenant is). Like
 * `checks.ts`, each returns the leaks it observed (empty = the rule holds).
 */
import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { createProjects, type ApiClient, type SignedUpTenant } from './harness.ts';
import { leak, UnexpectedAnswerError, type Leak } from './checks.ts';

interface Truth {
  readonly projects: number;
  readonly budgetCents: number;
  readonly names: string[];
}

/** What a tenant owns, from its own project list (the ground truth the other answers must match). */
async function ownProjects(client: ApiClient, tenant: SignedUpTenant): Promise<Truth> {
  const response = await client.get('/projects?limit=200', { token: tenant.token });
  if (response.status !== 200) throw new Error(`listing ${tenant.slug}'s projects failed: ${response.status} ${response.text}`);
  const projects = response.body.projects as { name: string; budgetCents: number }[];
  return { projects: projects.length, budgetCents: projects.reduce((sum, p) => sum + p.budgetCents, 0), names: projects.map((p) => p.name) };
}

/**
 * Response cache: once `victim`'s GET /stats is cached, `acting`'s GET /stats still answers
 * `acting`'s own counts (the cache key holds the tenant of the tenant context). Both tenants own
 * projects with different budgets, so a shared entry cannot pass for the right answer.
 */
export async function checkResponseCache(client: ApiClient, acting: SignedUpTenant, victim: SignedUpTenant): Promise<Leak[]> {
  await createProjects(client, acting.token, ['cache-mine'], 11);
  await createProjects(client, victim.token, ['cache-theirs-1', 'cache-theirs-2'], 4321);
  const stats = async (tenant: SignedUpTenant) => {
    const response = await client.get('/stats', { token: tenant.token });
    if (response.status !== 200) throw new Error(`GET /stats for ${tenant.slug} failed: ${response.status} ${response.text}`);
    return response.body as { projects: number; budgetCents: number };
  };
  // The victim's answer is computed, then served from the cache.
  await stats(victim);
  await stats(victim);
  const truth = await ownProjects(client, acting);
  const leaks: Leak[] = [];
  for (const ask of ['first', 'second']) {
    const got = await stats(acting);
    if (got.projects !== truth.projects || got.budgetCents !== truth.budgetCents) {
      leaks.push(leak('response-cache', `GET /stats (${ask} ask after the victim's was cached)`, acting, victim, { got, expected: { projects: truth.projects, budgetCents: truth.budgetCents } }));
    }
  }
  return leaks;
}

/** Polls GET /exports/:id until it is no longer queued, or the deadline passes (then the last answer). */
async function settledExport(client: ApiClient, tenant: SignedUpTenant, id: string, deadlineMs: number) {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const response = await client.get(`/exports/${id}`, { token: tenant.token });
    if (response.status !== 200 || response.body.status !== 'queued' || Date.now() > until) return response;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function requestExport(client: ApiClient, tenant: SignedUpTenant): Promise<string> {
  const response = await client.post('/exports', { token: tenant.token });
  if (response.status !== 202) throw new Error(`POST /exports for ${tenant.slug} failed: ${response.status} ${response.text}`);
  return response.body.id as string;
}

/**
 * Background jobs keep their tenant context: `victim` runs an export first (so a worker that
 * keeps its last context holds `victim`'s), then `acting` does. `acting`'s export must complete,
 * in `acting`'s exports, summarising exactly `acting`'s projects; `victim`'s exports must not
 * hold it; and neither tenant can read the other's export by id.
 */
export async function checkJobContext(client: ApiClient, acting: SignedUpTenant, victim: SignedUpTenant, deadlineMs = 5000): Promise<Leak[]> {
  const check = 'job-context';
  const leaks: Leak[] = [];
  await createProjects(client, acting.token, ['job-mine'], 17);
  await createProjects(client, victim.token, ['job-theirs-1', 'job-theirs-2'], 4242);

  const theirs = await requestExport(client, victim);
  const theirsDone = await settledExport(client, victim, theirs, deadlineMs);
  if (theirsDone.body?.status !== 'done') throw new Error(`${victim.slug}'s export did not complete: ${theirsDone.status} ${theirsDone.text}`);

  const mine = await requestExport(client, acting);
  const truth = await ownProjects(client, acting);
  const victimTruth = await ownProjects(client, victim);
  const done = await settledExport(client, acting, mine, deadlineMs);
  if (done.status !== 200 || done.body.status !== 'done') {
    leaks.push(leak(check, 'GET /exports/:id: the export never completed in its own tenant', acting, victim, { status: done.status, body: done.body }));
  } else {
    const result = done.body.result as Truth;
    const foreign = result.names.filter((n) => victimTruth.names.includes(n) && !truth.names.includes(n));
    if (result.projects !== truth.projects || result.budgetCents !== truth.budgetCents || foreign.length > 0) {
      leaks.push(leak(check, 'GET /exports/:id: the summary is not of the tenant that asked', acting, victim, { result, expected: truth, foreignNames: foreign }));
    }
  }

  const victimList = await client.get('/exports', { token: victim.token });
  const landed = (victimList.body.exports as { id: string; result: Truth | null }[]).filter((e) => e.id === mine);
  if (landed.length > 0) leaks.push(leak(check, "victim GET /exports holds the acting tenant's export (its job ran in the victim's context)", acting, victim, landed));

  const across = await client.get(`/exports/${theirs}`, { token: acting.token });
  // A leak on its symptom only (the victim's export served); anything but that or 404 fails the check.
  if (across.status === 200 && (across.body as { id?: string } | null)?.id === theirs) {
    leaks.push(leak(check, "GET /exports/:id of another tenant's export", acting, victim, { status: across.status, body: across.body }));
  } else if (across.status !== 404) throw new UnexpectedAnswerError('GET /exports/:id', across.status, "not found (404) nor the victim's export", across.body);
  return leaks;
}

interface Probe {
  readonly via: string;
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** The path for one id set (another tenant's, or never used). */
  readonly path: (ids: ProbeIds) => string;
  readonly body?: (ids: ProbeIds) => unknown;
  readonly headers?: (ids: ProbeIds) => Record<string, string>;
  /** Public routes are asked without the acting tenant's token. */
  readonly anonymous?: boolean;
}

interface ProbeIds {
  readonly project: string;
  readonly task: string;
  readonly invoice: string;
  readonly export: string;
  readonly user: string;
  readonly slug: string;
  readonly email: string;
}

const probes: readonly Probe[] = [
  { via: 'GET /projects/:id', method: 'GET', path: (i) => `/projects/${i.project}` },
  { via: 'PATCH /projects/:id', method: 'PATCH', path: (i) => `/projects/${i.project}`, body: () => ({ name: 'probe' }) },
  { via: 'GET /projects/:id/tasks', method: 'GET', path: (i) => `/projects/${i.project}/tasks` },
  { via: 'POST /projects/:id/tasks', method: 'POST', path: (i) => `/projects/${i.project}/tasks`, body: () => ({ title: 'probe' }) },
  { via: 'PATCH /projects/:id/tasks/:taskId', method: 'PATCH', path: (i) => `/projects/${i.project}/tasks/${i.task}`, body: () => ({ done: true }) },
  { via: 'GET /projects/:id/comments', method: 'GET', path: (i) => `/projects/${i.project}/comments` },
  { via: 'POST /projects/:id/comments', method: 'POST', path: (i) => `/projects/${i.project}/comments`, body: () => ({ body: 'probe' }) },
  { via: 'GET /invoices/:id', method: 'GET', path: (i) => `/invoices/${i.invoice}` },
  { via: 'POST /invoices (projectId)', method: 'POST', path: () => '/invoices', body: (i) => ({ amountCents: 1, projectId: i.project }) },
  { via: 'GET /exports/:id', method: 'GET', path: (i) => `/exports/${i.export}` },
  { via: 'PATCH /members/:userId', method: 'PATCH', path: (i) => `/members/${i.user}`, body: () => ({ role: 'viewer' }) },
  { via: 'DELETE /members/:userId', method: 'DELETE', path: (i) => `/members/${i.user}` },
  // Tenants and users: another tenant's slug is refused like an unknown one, a member's email like an unknown one.
  { via: 'GET /me with X-Tenant', method: 'GET', path: () => '/me', headers: (i) => ({ 'x-tenant': i.slug }) },
  { via: 'POST /switch-tenant', method: 'POST', path: () => '/switch-tenant', body: (i) => ({ tenant: i.slug }) },
  { via: 'POST /login (wrong password)', method: 'POST', path: () => '/login', body: (i) => ({ email: i.email, password: 'not-the-password' }), anonymous: true },
  // Last: were it ever honoured, it would delete the victim's project.
  { via: 'DELETE /projects/:id', method: 'DELETE', path: (i) => `/projects/${i.project}` },
];

/**
 * Existence oracle: for every route taking an id, another tenant's id is answered exactly like an
 * id nobody ever used — same status, same body; likewise another tenant's slug (X-Tenant,
 * switch-tenant) and a member's email at login.
 */
export async function checkExistenceOracle(client: ApiClient, acting: SignedUpTenant, victim: SignedUpTenant): Promise<Leak[]> {
  const [project] = await createProjects(client, victim.token, ['oracle-target'], 5);
  const task = await client.post(`/projects/${project}/tasks`, { token: victim.token, body: { title: 'oracle task' } });
  const invoice = await client.post('/invoices', { token: victim.token, body: { amountCents: 5 } });
  const exported = await client.post('/exports', { token: victim.token });
  if (task.status !== 201 || invoice.status !== 201 || exported.status !== 202) {
    throw new Error(`setting up ${victim.slug}'s ids failed: ${task.status} ${invoice.status} ${exported.status}`);
  }
  const foreign: ProbeIds = { project: project!, task: task.body.id, invoice: invoice.body.id, export: exported.body.id, user: decodeJwt(victim.token).sub!, slug: victim.slug, email: victim.email };
  const nobody = `nobody-${randomUUID().slice(0, 8)}`;
  const unused: ProbeIds = { project: randomUUID(), task: randomUUID(), invoice: randomUUID(), export: randomUUID(), user: randomUUID(), slug: nobody, email: `admin@${nobody}.example` };
  const leaks: Leak[] = [];
  for (const probe of probes) {
    const ask = (ids: ProbeIds) =>
      client.request(probe.method, probe.path(ids), {
        ...(probe.anonymous ? {} : { token: acting.token }),
        ...(probe.body ? { body: probe.body(ids) } : {}),
        ...(probe.headers ? { headers: probe.headers(ids) } : {}),
      });
    const [toForeign, toUnused] = [await ask(foreign), await ask(unused)];
    // Not vacuous: an id nobody used must be refused, or the probe is not asking what it claims.
    if (toUnused.status < 400 || toUnused.status >= 500) throw new Error(`${probe.via} answered ${toUnused.status} for an unused id: ${toUnused.text}`);
    if (toForeign.status !== toUnused.status || JSON.stringify(toForeign.body) !== JSON.stringify(toUnused.body)) {
      leaks.push(
        leak('existence-oracle', probe.via, acting, victim, {
          foreignId: { status: toForeign.status, body: toForeign.body },
          unusedId: { status: toUnused.status, body: toUnused.body },
        }),
      );
    }
  }
  return leaks;
}

/**
 * Counters: `acting`'s invoice numbers are consecutive however many invoices `victim` issues in
 * between (`k`), so they say nothing about another tenant's billing activity.
 */
export async function checkInvoiceNumbers(client: ApiClient, acting: SignedUpTenant, victim: SignedUpTenant, k = 3): Promise<Leak[]> {
  const issue = async (tenant: SignedUpTenant) => {
    const response = await client.post('/invoices', { token: tenant.token, body: { amountCents: 100 } });
    if (response.status !== 201) throw new Error(`POST /invoices for ${tenant.slug} failed: ${response.status} ${response.text}`);
    return response.body.number as number;
  };
  const first = await issue(acting);
  const between: number[] = [];
  for (let i = 0; i < k; i++) between.push(await issue(victim));
  const second = await issue(acting);
  if (second !== first + 1) return [leak('invoice-counter', 'POST /invoices numbers', acting, victim, { first, second, victimIssuedBetween: between })];
  return [];
}

/**
 * Counters: the audit log's entry ids of `acting` are consecutive however many writes `victim`
 * makes in between (`k` projects created, one audit entry each).
 */
export async function checkAuditSequence(client: ApiClient, acting: SignedUpTenant, victim: SignedUpTenant, k = 3): Promise<Leak[]> {
  const latest = async () => {
    const response = await client.get('/audit-log?limit=1', { token: acting.token });
    if (response.status !== 200) throw new Error(`GET /audit-log for ${acting.slug} failed: ${response.status} ${response.text}`);
    return response.body.entries[0] as { id: string; action: string };
  };
  await createProjects(client, acting.token, ['audit-seq-1'], 1);
  const first = await latest();
  await createProjects(client, victim.token, Array.from({ length: k }, (_, i) => `audit-theirs-${i}`), 1);
  await createProjects(client, acting.token, ['audit-seq-2'], 1);
  const second = await latest();
  if (Number(second.id) !== Number(first.id) + 1) {
    return [leak('audit-counter', 'GET /audit-log entry ids', acting, victim, { first: first.id, second: second.id, victimWritesBetween: k })];
  }
  return [];
}
