/** Starting and stopping the reference app: provision, pools, tokens, the HTTP server. */
import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import pg from 'pg';
import { z } from 'zod';
import { tokenService } from './auth/tokens.ts';
import { migrateReferenceDatabase, type ReferenceDatabase } from './database/provision.ts';
import { buildServer } from './http/server.ts';
import type { Services } from './http/services.ts';
import { Tenancy } from './tenancy/model.ts';
import type { Queryable } from './tenancy/queryable.ts';
import { rlsModel } from './tenancy/rls.ts';
import { parseVulnerabilities, type VulnerabilityName } from './vulnerabilities.ts';
import { schemaModel } from './tenancy/schema.ts';
import { databaseModel } from './tenancy/database.ts';
import { tenantDatabaseSchema } from './database/tenant-databases.ts';
import { TenantControl } from './control/tenants.ts';
import type { IsolationModel } from './tenancy/context.ts';
import type { PlanName } from './auth/permissions.ts';
import { TenantCache, type TenantCacheStats } from './cache/tenant-cache.ts';
import { JobQueue, type JobQueueStats } from './jobs/queue.ts';
import { exportProjects } from './jobs/export-projects.ts';
import { tenantModel } from './http/services.ts';
import { UsageMeter } from './metering/usage-meter.ts';
import { PoolShare, type TenantShareStats } from './tenancy/pool-share.ts';
import { connectRedis, RedisTenantCache } from './cache/redis-store.ts';
import { addSupportAgent } from './control/support.ts';
import type { Redis } from 'ioredis';

const isolationModel = z.enum(['rls', 'schema', 'database']);

/** Default placement by plan: small tenants share tables, enterprise tenants get their own database. */
export const defaultPlanModels: Readonly<Record<PlanName, IsolationModel>> = { free: 'rls', pro: 'rls', enterprise: 'database' };

const optionsSchema = z.object({
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
  port: z.number().int().min(0).max(65535).default(0),
  host: z.string().default('127.0.0.1'),
  vulnerabilities: z.union([z.string(), z.array(z.string())]).optional(),
  jwtSecret: z.string().min(32, 'must be at least 32 characters').optional(),
  tokenTtlSeconds: z.number().int().min(1).max(86_400).default(900),
  bodyLimit: z.number().int().min(1024).max(10 * 1024 * 1024).default(64 * 1024),
  rateLimit: z.object({ max: z.number().int().min(1), timeWindowMs: z.number().int().min(100) }).default({ max: 600, timeWindowMs: 60_000 }),
  publicRateLimit: z.object({ max: z.number().int().min(1), timeWindowMs: z.number().int().min(100) }).default({ max: 300, timeWindowMs: 60_000 }),
  poolSize: z.number().int().min(1).max(100).default(10),
  baseDomain: z.string().default('localhost'),
  statementTimeoutMs: z.number().int().min(10).default(5000),
  /** The isolation model a new tenant gets when signup does not name one (hybrid: by plan tier). */
  planModels: z
    .object({ free: isolationModel, pro: isolationModel, enterprise: isolationModel })
    .partial()
    .default({}),
  /** Database model: pools of tenant databases kept open (least recently used closed first) and their size. */
  tenantPools: z
    .object({ maxPools: z.number().int().min(1).max(1000), connectionsPerPool: z.number().int().min(1).max(20), idleTimeoutMs: z.number().int().min(100) })
    .default({ maxPools: 50, connectionsPerPool: 2, idleTimeoutMs: 10_000 }),
  /** The per-tenant response cache (GET /stats): entries kept at most and how long one is served. */
  cache: z.object({ maxEntries: z.number().int().min(1).max(1_000_000), ttlMs: z.number().int().min(1) }).default({ maxEntries: 10_000, ttlMs: 30_000 }),
  /** Background jobs: how often the worker polls, and whether this process runs a worker at all. */
  jobs: z.object({ pollIntervalMs: z.number().int().min(10).max(60_000), runWorker: z.boolean() }).default({ pollIntervalMs: 1000, runWorker: true }),
  /**
   * Each tenant's share of the shared pool: connections held at once (default half the pool, at
   * least 1), transactions waiting for it, and the longest wait (`tenancy/pool-share.ts`).
   */
  poolShare: z
    .object({ maxPerTenant: z.number().int().min(1).optional(), maxQueuedPerTenant: z.number().int().min(0).default(100), queueTimeoutMs: z.number().int().min(10).default(10_000) })
    .default({ maxQueuedPerTenant: 100, queueTimeoutMs: 10_000 }),
  /** statement_timeout of the heavy report (GET /reports/portfolio) per plan, ms. */
  reportTimeoutsMs: z
    .object({ free: z.number().int().min(1), pro: z.number().int().min(1), enterprise: z.number().int().min(1) })
    .default({ free: 1000, pro: 2000, enterprise: 10_000 }),
  /** The shared store of several instances (rate-limit buckets and the response cache in Redis); absent: in-process. */
  store: z.object({ redisUrl: z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL') }).optional(),
  /** Bearer token of GET /metrics (default: random, see `ReferenceApp.metricsToken`). */
  metricsToken: z.string().min(16, 'must be at least 16 characters').optional(),
});

export interface ReferenceAppOptions extends Omit<z.input<typeof optionsSchema>, 'vulnerabilities'> {
  /** Admin URL of the database to serve from (a scratch database or the server's database). */
  databaseUrl: string;
  /** Named vulnerabilities (see vulnerabilities.ts), as a list or `a,b`. */
  vulnerabilities?: readonly string[] | string;
  /** A pino logger (Fastify's logger), `true` for the default one, `false`/absent for none. */
  logger?: FastifyBaseLogger | boolean;
}

export interface PoolStats {
  readonly total: number;
  readonly idle: number;
  readonly waiting: number;
  /** Connections currently handed out (total - idle): 0 when the app is quiet. */
  readonly checkedOut: number;
  /** Pools of tenant databases currently open (database model); counted in the figures above. */
  readonly tenantPools: number;
}

export interface ReferenceApp extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  readonly database: ReferenceDatabase;
  readonly vulnerabilities: ReadonlySet<VulnerabilityName>;
  /** The app pool's counters, to check that nothing is left checked out. */
  poolStats(): PoolStats;
  /**
   * A statement on one of the app's pooled connections with no tenant context entered — what
   * code that forgot `withTenant` would see. Used to show that a context cannot outlive its
   * transaction.
   */
  readonly unscoped: Queryable;
  /** The data layer (tenant → model dispatch), to run a probe inside one tenant's context. */
  readonly tenancy: Tenancy;
  /** The control plane: provisioning and teardown of schema and database tenants. */
  readonly control: TenantControl;
  /** The per-tenant response cache's counters. */
  cacheStats(): TenantCacheStats;
  /** The background job queue (enqueue inside a tenant context; `runNext` claims and runs one due job). */
  readonly jobs: JobQueue;
  /** Jobs completed and failed by this process's worker. */
  jobStats(): JobQueueStats;
  /** Each tenant's share of the shared pool: in use, peak, waiting, waits, refusals. */
  poolShareStats(): TenantShareStats[];
  /** Bearer token of GET /metrics. */
  readonly metricsToken: string;
  /** Creates a platform support agent (control plane; returns its id). */
  addSupportAgent(email: string, password: string): Promise<string>;
  close(): Promise<void>;
}

export class InvalidOptionsError extends Error {
  override readonly name = 'InvalidOptionsError';
}

export async function startReferenceApp(input: ReferenceAppOptions): Promise<ReferenceApp> {
  const parsed = optionsSchema.safeParse({ ...input, logger: undefined });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidOptionsError(`invalid reference app option ${issue?.path.join('.') || ''}: ${issue?.message ?? 'invalid'}`);
  }
  const options = parsed.data;
  const vulnerable = parseVulnerabilities(input.vulnerabilities);
  const database = await migrateReferenceDatabase(options.databaseUrl, { vulnerabilities: vulnerable });

  // `rls-not-forced`: the app logs in as the owner of the tables.
  const appUrl = vulnerable.has('rls-not-forced') && database.ownerUrl ? database.ownerUrl : database.appUrl;
  const pool = new pg.Pool({ connectionString: appUrl, max: options.poolSize, application_name: 'tenantproof-reference' });
  const ops = database.opsUrl
    ? new pg.Pool({ connectionString: database.opsUrl, max: 2, application_name: 'tenantproof-reference-ops', options: `-c search_path=${database.schema}` })
    : undefined;
  const control = new TenantControl(database, vulnerable, options.tenantPools);

  const secret = options.jwtSecret ? new TextEncoder().encode(options.jwtSecret) : randomBytes(32);
  let redis: Redis | undefined;
  try {
    redis = options.store ? await connectRedis(options.store.redisUrl) : undefined;
  } catch (error) {
    await pool.end().catch(() => undefined);
    await ops?.end().catch(() => undefined);
    await control.close().catch(() => undefined);
    throw new InvalidOptionsError(`the shared store at ${options.store?.redisUrl} cannot be reached: ${(error as Error).message}`, { cause: error });
  }
  // Several instances of one deployment share its keys; other deployments on the same Redis do not.
  const storePrefix = `tenantproof:${database.database}:`;
  const cache = redis
    ? new RedisTenantCache(redis, { ttlMs: options.cache.ttlMs, prefix: storePrefix, unscopedKeys: vulnerable.has('shared-store-key-unscoped') })
    : new TenantCache({ ...options.cache, unscopedKeys: vulnerable.has('cache-key-unscoped') });
  const poolShare = new PoolShare(pool, {
    maxPerTenant: options.poolShare.maxPerTenant ?? Math.max(1, Math.floor(options.poolSize / 2)),
    maxQueuedPerTenant: options.poolShare.maxQueuedPerTenant,
    queueTimeoutMs: options.poolShare.queueTimeoutMs,
    enforce: !vulnerable.has('no-pool-share'),
  });
  const connectionsFor = (tenantId: string) => poolShare.forTenant(tenantId);
  const metricsToken = options.metricsToken ?? randomBytes(24).toString('base64url');
  const jobs = new JobQueue(pool, appUrl, (tenantId) => tenantModel(services, tenantId), { ...options.jobs, contextLost: vulnerable.has('job-context-lost') });
  const services: Services = {
    tenancy: new Tenancy({
      rls: rlsModel(pool, {
        sessionLevelContext: vulnerable.has('session-level-context'),
        statementTimeoutMs: options.statementTimeoutMs,
        schema: database.schema,
        connectionsFor,
      }),
      schema: schemaModel(pool, {
        placementOf: (tenant) => control.schemaPlacement(tenant),
        sessionLevelSearchPath: vulnerable.has('search-path-session'),
        statementTimeoutMs: options.statementTimeoutMs,
        connectionsFor,
      }),
      database: databaseModel(control.pools, {
        databaseOf: (tenant) => control.databasePlacement(tenant).database,
        schema: tenantDatabaseSchema,
        statementTimeoutMs: options.statementTimeoutMs,
      }),
    }),
    control,
    planModels: { ...defaultPlanModels, ...options.planModels },
    pool,
    ops,
    tokens: tokenService(secret, { ttlSeconds: options.tokenTtlSeconds, unverified: vulnerable.has('jwt-unverified') }),
    vulnerable,
    baseDomain: options.baseDomain,
    cache,
    jobs,
    meter: new UsageMeter(pool),
    poolShare,
    reportTimeoutsMs: options.reportTimeoutsMs,
    appRole: vulnerable.has('rls-not-forced') && database.ownerUrl ? database.roles.owner : database.roles.app,
  };
  jobs.register('export-projects', exportProjects(services.tenancy));
  let server;
  try {
    server = await buildServer(services, {
      logger: input.logger ?? false,
      bodyLimit: options.bodyLimit,
      rateLimit: options.rateLimit,
      publicRateLimit: options.publicRateLimit,
      metricsToken,
      redis,
      storePrefix,
    });
    await server.listen({ port: options.port, host: options.host });
  } catch (error) {
    await jobs.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await ops?.end().catch(() => undefined);
    await control.close().catch(() => undefined);
    redis?.disconnect();
    throw error;
  }
  // An idle pooled connection that dies (server restart, admin kill) is logged and replaced, not fatal.
  pool.on('error', (error) => server.log.warn({ err: error }, 'idle app connection failed'));
  ops?.on('error', (error) => server.log.warn({ err: error }, 'idle ops connection failed'));
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  jobs.start(server.log);
  if (vulnerable.size > 0) server.log.warn({ vulnerabilities: [...vulnerable] }, 'started WITH NAMED VULNERABILITIES');

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await server.close();
      await jobs.close();
      await pool.end();
      await ops?.end();
      await control.close();
      await redis?.quit().catch(() => redis?.disconnect());
    })();
    return closing;
  };
  return {
    url: `http://${options.host}:${port}`,
    port,
    database,
    vulnerabilities: vulnerable,
    poolStats: () => {
      const tenants = control.pools.stats();
      const total = pool.totalCount + tenants.total;
      const idle = pool.idleCount + tenants.idle;
      return { total, idle, waiting: pool.waitingCount + tenants.waiting, checkedOut: total - idle, tenantPools: tenants.pools };
    },
    unscoped: { query: (text, values) => pool.query(text, values as unknown[] | undefined) } as Queryable,
    tenancy: services.tenancy,
    control,
    cacheStats: () => cache.stats(),
    jobs,
    jobStats: () => jobs.stats(),
    poolShareStats: () => poolShare.stats(),
    metricsToken,
    addSupportAgent: (email, password) => control.withAdmin((c) => addSupportAgent(c, database.schema, email, password)),
    close,
    [Symbol.asyncDispose]: close,
  };
}
