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
  app.get('/metrics', async (request, reply) => {
    const match = /^Bearer (.+)$/.exec(request.headers.authorization ?? '');
    if (!match?.[1] || !sameSecret(match[1], metricsToken)) throw new HttpError(401, 'metrics need the deployment metrics token');
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
