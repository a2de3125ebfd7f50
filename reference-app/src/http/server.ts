/** The Fastify application: public routes, then the authenticated, tenant-scoped, rate-limited scope. */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { runInTenantContext } from '../tenancy/context.ts';
import { errorHandler, HttpError } from './errors.ts';
import { authenticate, placeTenant } from './principal.ts';
import { authRoutes, switchTenantRoute } from './routes/auth.ts';
import { projectRoutes } from './routes/projects.ts';
import { statsRoutes } from './routes/stats.ts';
import { tenantRoutes } from './routes/tenant.ts';
import { taskRoutes } from './routes/tasks.ts';
import { invoiceRoutes } from './routes/invoices.ts';
import { memberRoutes } from './routes/members.ts';
import { exportRoutes } from './routes/exports.ts';
import type { Services } from './services.ts';
import { supportRoutes } from './routes/support.ts';
import { reportRoutes } from './routes/reports.ts';
import { usageRoutes } from './routes/usage.ts';
import { metricsRoutes } from './routes/metrics.ts';
import type { Redis } from 'ioredis';

export interface ServerOptions {
  readonly logger: FastifyBaseLogger | boolean;
  /** Largest accepted request body, bytes. */
  readonly bodyLimit: number;
  /** Requests per tenant per window. */
  readonly rateLimit: { readonly max: number; readonly timeWindowMs: number };
  /** Requests per client address per window on the public routes (signup, login). */
  readonly publicRateLimit: { readonly max: number; readonly timeWindowMs: number };
  /** The deployment's metrics token (GET /metrics). */
  readonly metricsToken: string;
  /** The shared store: rate-limit buckets in Redis, shared by every instance (else in-process). */
  readonly redis?: Redis | undefined;
  /** Prefix of this deployment's keys in the shared store. */
  readonly storePrefix?: string;
  /** Extra route modules (later issues). */
  readonly extraRoutes?: readonly ((scope: FastifyInstance, services: Services) => void)[];
}

export async function buildServer(services: Services, options: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(typeof options.logger === 'boolean' ? { logger: options.logger } : { loggerInstance: options.logger }),
    bodyLimit: options.bodyLimit,
    // Request lines are written by the hooks below, after the tenant is known, so that every line
    // of a tenant-scoped request carries its tenant id.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: false,
    return503OnClosing: true,
  }) as unknown as FastifyInstance;
  app.decorateRequest('tenantContext', null);
  app.decorateRequest('pendingTenantContext', null);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((_request, reply) => {
    void reply.status(404).send({ error: 'not found' });
  });

  app.addHook('onResponse', async (request, reply) => {
    reply.log.info({ method: request.method, url: request.url, statusCode: reply.statusCode, responseTime: reply.elapsedTime }, 'request completed');
  });

  app.get('/health', async () => ({ ok: true }));
  metricsRoutes(app, services, options.metricsToken);
  const shared = options.redis ? { redis: options.redis, nameSpace: `${options.storePrefix ?? ''}rate-limit:`, skipOnError: false } : {};
  // Public routes are limited per client address: password guessing and signup floods.
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (request) => {
      request.log.info({ method: request.method, url: request.url }, 'incoming request');
    });
    await scope.register(rateLimit, {
      max: options.publicRateLimit.max,
      timeWindow: options.publicRateLimit.timeWindowMs,
      keyGenerator: (request) => `ip:${request.ip}`,
      ...shared,
      errorResponseBuilder: (_request, context) => new HttpError(429, 'too many attempts from this address', { retryAfterMs: context.ttl }),
    });
    authRoutes(scope, services);
    supportRoutes(scope, services);
  });

  await app.register(async (scope) => {
    scope.addHook('onRequest', authenticate(services));
    // Every handler in this scope runs inside the request's tenant context (AsyncLocalStorage).
    scope.addHook('onRoute', (route) => {
      const handler = route.handler;
      // A write of a tenant drops its cached answers before it runs and again once it answered
      // (a read that computed meanwhile cannot store a stale answer: `cache/tenant-cache.ts`).
      const writes = ![route.method].flat().every((m) => m === 'GET' || m === 'HEAD');
      route.handler = async function (this: FastifyInstance, request, reply) {
        const context = request.tenantContext;
        if (!context) throw new HttpError(401, 'no tenant context');
        if (!writes) return runInTenantContext(context, () => handler.call(this, request, reply));
        await services.cache.invalidateTenant(context.tenant.id);
        try {
          return await runInTenantContext(context, () => handler.call(this, request, reply));
        } finally {
          await services.cache.invalidateTenant(context.tenant.id);
        }
      };
    });
    // Per-tenant rate limit: the key is the resolved tenant, so one tenant hammering the API is
    // throttled while the others are not.
    // `no-rate-limit` switches this protection off.
    if (!services.vulnerable.has('no-rate-limit')) await scope.register(rateLimit, {
      ...shared,
      // Before the tenant's placement is read (preHandler, below): a throttled request costs no round trip.
      hook: 'preValidation',
      max: options.rateLimit.max,
      timeWindow: options.rateLimit.timeWindowMs,
      keyGenerator: services.vulnerable.has('rate-limit-global')
        ? () => 'tenant:all' // the `rate-limit-global` vulnerability: one bucket for every tenant
        : (request) => `tenant:${(request.tenantContext ?? request.pendingTenantContext)?.tenant.id ?? request.ip}`,
      errorResponseBuilder: (_request, context) =>
        new HttpError(429, 'rate limit exceeded for this tenant', { retryAfterMs: context.ttl }),
    });
    scope.addHook('preHandler', placeTenant(services));
    switchTenantRoute(scope, services);
    tenantRoutes(scope, services);
    projectRoutes(scope, services);
    statsRoutes(scope, services);
    taskRoutes(scope, services);
    invoiceRoutes(scope, services);
    memberRoutes(scope, services);
    exportRoutes(scope, services);
    reportRoutes(scope, services);
    usageRoutes(scope, services);
    for (const routes of options.extraRoutes ?? []) routes(scope, services);
  });
  return app;
}
