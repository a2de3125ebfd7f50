/**
 * Per-tenant connection share of the shared pool (the rls and schema models draw on one pool of
 * the app's login role). A tenant holds at most `maxPerTenant` of its connections at once; its
 * further transactions wait in the tenant's own queue (first come, first served), so one tenant
 * running heavy reports at a high rate cannot take every connection while the others queue
 * behind it. A tenant's queue is bounded too (`maxQueuedPerTenant`, then 503 "retry"), and a wait
 * is bounded in time (`queueTimeoutMs`). Database tenants have pools of their own (`tenant-pools.ts`).
 *
 * Counted per tenant whether or not the share is enforced (`no-pool-share` switches enforcement
 * off, not the figures): in use, peak, waiting, waits and refusals — `GET /metrics` shows them.
 */
import type pg from 'pg';
import { LRUCache } from 'lru-cache';
import { HttpError } from '../http/errors.ts';

export interface PoolShareOptions {
  /** Connections one tenant may hold at once. */
  readonly maxPerTenant: number;
  /** Transactions of one tenant that may wait for its share; more are refused with 503. */
  readonly maxQueuedPerTenant: number;
  /** Longest wait for a share, ms; then 503. */
  readonly queueTimeoutMs: number;
  /** `false`: count only (the `no-pool-share` protection switch). */
  readonly enforce: boolean;
}

export interface TenantShareStats {
  readonly tenantId: string;
  /** Connections held now. */
  readonly inUse: number;
  /** Most connections held at once. */
  readonly peak: number;
  readonly waiting: number;
  /** Transactions that had to wait for the tenant's share. */
  readonly waited: number;
  /** Transactions refused because the tenant's queue was full or the wait too long. */
  readonly refused: number;
}

interface Share {
  /** Transactions admitted (holding a connection or getting one from the pool). */
  inUse: number;
  /** Connections actually held. */
  held: number;
  peak: number;
  waited: number;
  refused: number;
  readonly queue: (() => void)[];
}

export class PoolShare {
  private readonly shares = new LRUCache<string, Share>({ max: 10_000 });

  constructor(
    private readonly pool: pg.Pool,
    readonly options: PoolShareOptions,
  ) {}

  private shareOf(tenantId: string): Share {
    let share = this.shares.get(tenantId);
    if (!share) {
      share = { inUse: 0, held: 0, peak: 0, waited: 0, refused: 0, queue: [] };
      this.shares.set(tenantId, share);
    }
    return share;
  }

  /** What `inPooledTransaction` takes: a `connect()` that waits for the tenant's share first. */
  forTenant(tenantId: string): Pick<pg.Pool, 'connect'> {
    return { connect: (() => this.connect(tenantId)) as pg.Pool['connect'] };
  }

  private async connect(tenantId: string): Promise<pg.PoolClient> {
    const share = this.shareOf(tenantId);
    // A waiter is handed the slot of the transaction that ends (`leave`): it does not count itself in.
    if (this.options.enforce && share.inUse >= this.options.maxPerTenant) await this.wait(share);
    else share.inUse += 1;
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      this.leave(share);
      throw error;
    }
    share.held += 1;
    share.peak = Math.max(share.peak, share.held);
    const release = client.release.bind(client);
    let released = false;
    client.release = (error?: Error | boolean) => {
      if (!released) {
        released = true;
        share.held -= 1;
        this.leave(share);
      }
      return release(error);
    };
    return client;
  }

  private wait(share: Share): Promise<void> {
    if (share.queue.length >= this.options.maxQueuedPerTenant) {
      share.refused += 1;
      throw new HttpError(503, "too many concurrent requests for this tenant: its share of the database connections is in use; retry", { retry: true });
    }
    share.waited += 1;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const at = share.queue.indexOf(go);
        if (at >= 0) share.queue.splice(at, 1);
        share.refused += 1;
        reject(new HttpError(503, "this tenant's share of the database connections stayed busy too long; retry", { retry: true }));
      }, this.options.queueTimeoutMs);
      const go = () => {
        clearTimeout(timer);
        resolve();
      };
      share.queue.push(go);
    });
  }

  /** Hands the slot to the tenant's next waiter, if any; else frees it. */
  private leave(share: Share): void {
    const next = share.queue.shift();
    if (next) next();
    else share.inUse -= 1;
  }

  stats(): TenantShareStats[] {
    return [...this.shares.entries()].map(([tenantId, s]) => ({ tenantId, inUse: s.held, peak: s.peak, waiting: s.queue.length, waited: s.waited, refused: s.refused }));
  }
}
