/**
 * GET /metrics (Prometheus text): the shared pool and each tenant's share of it — in use, peak,
 * waiting, waits and refusals — so an operator (and the k6 noisy-neighbour scenario) can see that
 * no tenant held more than its share. Not a tenant route: it names tenant ids, so it needs the
 * deployment's metrics token (`metricsToken` option), never a tenant token.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { HttpError } from '../errors.ts';
import type { Services } from '../services.ts';

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function metricsRoutes(app: FastifyInstance, services: Services, metricsToken: string): void {
  const operator = (authorization: string | undefined) => {
    const match = /^Bearer (.+)$/.exec(authorization ?? '');
    if (!match?.[1] || !sameSecret(match[1], metricsToken)) throw new HttpError(401, 'metrics need the deployment metrics token');
  };

  /**
   * GET /health/isolation: the isolation canary. On a connection of the shared pool, outside any
   * tenant context — where code that forgot to enter a tenant would run — PostgreSQL must see the
   * app's login role, no tenant setting, no tenant schema on the search_path, and no tenant rows
   * (qualified or not). Whatever it does see is returned (row names included), so a context that
   * outlived its transaction shows as another tenant's data in this answer.
   */
  app.get('/health/isolation', async (request) => {
    operator(request.headers.authorization);
    const client = await services.pool.connect();
    try {
      const { rows } = await client.query<{ role: string; tenant: string | null; search_path: string }>(
        `select current_user as role, nullif(current_setting('app.current_tenant', true), '') as tenant, current_setting('search_path') as search_path`,
      );
      const seen: string[] = [];
      for (const table of ['app.projects', 'projects']) {
        try {
          const { rows: names } = await client.query<{ name: string }>(`select name from ${table} order by name limit 20`);
          seen.push(...names.map((r) => r.name));
        } catch (error) {
          const code = (error as { code?: string }).code;
          if (code !== '42501' && code !== '42P01') throw error; // refused or not on the path: nothing seen
        }
      }
      const role = rows[0]?.role ?? '';
      const tenant = rows[0]?.tenant ?? null;
      const searchPath = rows[0]?.search_path ?? '';
      const ok = role === services.appRole && tenant === null && !/tenant_/.test(searchPath) && seen.length === 0;
      return { ok, role, tenant, searchPath, visibleProjects: seen };
    } finally {
      client.release();
    }
  });

  app.get('/metrics', async (request, reply) => {
    operator(request.headers.authorization);
    const { pool, poolShare } = services;
    const lines = [
      '# HELP tenantproof_pool_connections Connections of the shared pool (rls and schema tenants).',
      '# TYPE tenantproof_pool_connections gauge',
      `tenantproof_pool_connections{state="total"} ${pool.totalCount}`,
      `tenantproof_pool_connections{state="idle"} ${pool.idleCount}`,
      `tenantproof_pool_connections{state="waiting"} ${pool.waitingCount}`,
      '# HELP tenantproof_pool_share_max_per_tenant Connections one tenant may hold at once.',
      '# TYPE tenantproof_pool_share_max_per_tenant gauge',
      `tenantproof_pool_share_max_per_tenant ${poolShare.options.maxPerTenant}`,
      `tenantproof_pool_share_enforced ${poolShare.options.enforce ? 1 : 0}`,
      '# TYPE tenantproof_tenant_connections_in_use gauge',
      '# TYPE tenantproof_tenant_connections_peak gauge',
      '# TYPE tenantproof_tenant_connections_waiting gauge',
      '# TYPE tenantproof_tenant_connection_waits_total counter',
      '# TYPE tenantproof_tenant_connection_refusals_total counter',
    ];
    for (const s of poolShare.stats()) {
      const label = `{tenant="${s.tenantId}"}`;
      lines.push(
        `tenantproof_tenant_connections_in_use${label} ${s.inUse}`,
        `tenantproof_tenant_connections_peak${label} ${s.peak}`,
        `tenantproof_tenant_connections_waiting${label} ${s.waiting}`,
        `tenantproof_tenant_connection_waits_total${label} ${s.waited}`,
        `tenantproof_tenant_connection_refusals_total${label} ${s.refused}`,
      );
    }
    const cache = services.cache.stats();
    lines.push(`tenantproof_cache_hits_total ${cache.hits}`, `tenantproof_cache_misses_total ${cache.misses}`);
    return reply.type('text/plain; version=0.0.4').send(`${lines.join('\n')}\n`);
  });
}
