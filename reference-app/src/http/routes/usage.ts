/** GET /usage: the caller's tenant's metered usage this month, its limits and the plan to upgrade to. */
import type { FastifyInstance } from 'fastify';
import { currentTenantContext } from '../../tenancy/context.ts';
import { authorize } from '../authorize.ts';
import type { Services } from '../services.ts';

export function usageRoutes(app: FastifyInstance, services: Services): void {
  app.get('/usage', async () => {
    await services.tenancy.inCurrentTenant((tx) => authorize(tx, 'billing:read'));
    return services.meter.report(currentTenantContext().tenant);
  });
}
