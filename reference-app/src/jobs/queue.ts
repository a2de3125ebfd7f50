/**
 * Background jobs that keep their tenant context.
 *
 * Vocabulary: a **job** is one unit of background work of one tenant; a **task** names what it
 * does (`export-projects`); the **worker** claims due jobs and runs each in the tenant context
 * it was enqueued in.
 *
 * - `enqueue` takes the tenant (and principal) from the current tenant context — never from an
 *   argument a route could mix up — and writes the job with that context set, so forced RLS
 *   refuses a job for any other tenant (`migrations/1763900000004_job-queue.ts`).
 * - The worker re-enters exactly the job's tenant: its model is read from the registry at run
 *   time (a tenant moved meanwhile runs where it now lives), and the task runs inside
 *   `runInTenantContext`, reaching data only through the same `Tenancy` dispatch as the routes —
 *   so the rls, schema and database models all confine it.
 *
 * Why not graphile-worker or pg-boss: pg-boss 12 requires Node 22 (we support Node 20), and both
 * install and migrate their own schema at start-up, which needs a login role with CREATE and
 * ownership — the app's login role deliberately owns nothing and has DML grants only — and their
 * job tables are global, without a tenant column under row security. This queue is one table in
 * the app schema, created by a migration as the owner, tenant-scoped like every tenant table,
 * and claimed with `FOR UPDATE SKIP LOCKED` through narrow definer functions.
 *
 * The `job-context-lost` vulnerability: the worker keeps the tenant context of the last job it
 * ran and runs the next job in it, so a job reads and writes another tenant's data.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import pg from 'pg';
import { currentTenantContext, runInTenantContext, type IsolationModel, type TenantContext } from '../tenancy/context.ts';
import { withGlobalSide } from '../tenancy/global-side.ts';

export type JobTask = 'export-projects';

/** What a task handler is given besides its tenant context (which it reads from AsyncLocalStorage). */
export interface JobRun {
  readonly jobId: string;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly attempt: number;
}

export type JobHandler = (job: JobRun) => Promise<void>;

export interface JobQueueOptions {
  /** How often the worker looks for due jobs when it was not woken up (ms). */
  readonly pollIntervalMs: number;
  /** `false`: enqueue only (another process works the queue). */
  readonly runWorker: boolean;
  /** The `job-context-lost` vulnerability. */
  readonly contextLost?: boolean;
}

export interface JobQueueStats {
  readonly completed: number;
  readonly failed: number;
}

interface ClaimedJob {
  tenant_id: string;
  id: string;
  task: JobTask;
  payload: Record<string, unknown> & { tenant?: { slug?: string }; principal?: { userId?: string; role?: string; at?: number } };
  attempts: number;
}

/** A job that cannot run: its tenant no longer exists (the row is then gone too, by cascade). */
export class JobTenantGoneError extends Error {
  override readonly name = 'JobTenantGoneError';
  constructor(readonly tenantId: string) {
    super(`tenant ${tenantId} of the job no longer exists`);
  }
}

export class JobQueue {
  private readonly handlers = new Map<JobTask, JobHandler>();
  private readonly worker = `worker-${randomUUID()}`;
  /** The queue's own connection: polling never takes a connection a request is waiting for. */
  private readonly queuePool: pg.Pool;
  private running: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  private lastContext: TenantContext | undefined;
  private completed = 0;
  private failed = 0;

  constructor(
    /** The app role's pool (enqueue, in the tenant context) and its URL (the worker's own connection). */
    private readonly appPool: pg.Pool,
    appUrl: string,
    private readonly modelOf: (tenantId: string) => Promise<IsolationModel | undefined>,
    private readonly options: JobQueueOptions,
    private log?: FastifyBaseLogger,
  ) {
    this.queuePool = new pg.Pool({ connectionString: appUrl, max: 1, application_name: 'tenantproof-reference-jobs' });
    this.queuePool.on('error', (error) => this.log?.warn({ err: error }, 'idle job queue connection failed'));
  }

  register(task: JobTask, handler: JobHandler): void {
    this.handlers.set(task, handler);
  }

  /** Enqueues `task` for the tenant of the current tenant context; returns the job id. */
  async enqueue(task: JobTask, payload: Readonly<Record<string, unknown>>): Promise<string> {
    const { tenant, principal } = currentTenantContext();
    const body = { ...payload, tenant: { slug: tenant.slug }, principal: { userId: principal.userId, role: principal.role, at: Date.now() } };
    const { rows } = await withGlobalSide(this.appPool, tenant, (tx) =>
      tx.query<{ id: string }>('insert into jobs (task, payload) values ($1, $2) returning id', [task, JSON.stringify(body)]),
    );
    this.wake?.();
    return rows[0]!.id;
  }

  /** Starts the worker loop (once); `log` replaces the logger given at construction. */
  start(log?: FastifyBaseLogger): void {
    if (log) this.log = log;
    if (!this.options.runWorker || this.running) return;
    this.running = this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      let worked = false;
      try {
        worked = await this.runNext();
      } catch (error) {
        this.log?.error({ err: error }, 'job worker: claiming a job failed');
      }
      if (worked || this.stopping) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.options.pollIntervalMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** Claims and runs one due job; false when none was due. */
  async runNext(): Promise<boolean> {
    const { rows } = await this.queuePool.query<ClaimedJob>('select * from app.claim_job($1)', [this.worker]);
    const job = rows[0];
    if (!job) return false;
    try {
      const handler = this.handlers.get(job.task);
      if (!handler) throw new Error(`no handler for task ${job.task}`);
      const context = await this.contextOf(job);
      await runInTenantContext(context, () => handler({ jobId: job.id, payload: job.payload, attempt: job.attempts }));
      await this.queuePool.query('select app.complete_job($1, $2, $3)', [job.tenant_id, job.id, this.worker]);
      this.completed++;
      this.log?.info({ jobId: job.id, task: job.task, tenantId: job.tenant_id }, 'job completed');
    } catch (error) {
      this.failed++;
      this.log?.warn({ err: error, jobId: job.id, task: job.task, tenantId: job.tenant_id, attempt: job.attempts }, 'job failed');
      await this.queuePool.query('select app.fail_job($1, $2, $3, $4)', [job.tenant_id, job.id, this.worker, (error as Error).message]);
    }
    return true;
  }

  /** The tenant context a job runs in: the tenant it was enqueued by, in the model it lives in now. */
  private async contextOf(job: ClaimedJob): Promise<TenantContext> {
    if (this.options.contextLost && this.lastContext) return this.lastContext; // the `job-context-lost` vulnerability
    const model = await this.modelOf(job.tenant_id);
    if (!model) throw new JobTenantGoneError(job.tenant_id);
    const principal = job.payload.principal ?? {};
    const context: TenantContext = {
      tenant: { id: job.tenant_id, slug: job.payload.tenant?.slug ?? job.tenant_id, model },
      principal: { userId: principal.userId ?? '', role: principal.role ?? '', tokenIssuedAtMs: principal.at ?? 0, via: 'job' },
    };
    this.lastContext = context;
    return context;
  }

  stats(): JobQueueStats {
    return { completed: this.completed, failed: this.failed };
  }

  /** Stops the worker after the job it is running, then closes the queue's connection. */
  async close(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.running;
    await this.queuePool.end();
  }
}
