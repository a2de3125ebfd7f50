/**
 * A bounded set of connection pools, one per tenant database, least recently used closed first —
 * so hundreds of database tenants do not exhaust the server's connections. A pool also closes
 * its own idle connections (`idleTimeoutMillis`); an evicted pool ends once its checked-out
 * clients are released. At most `maxPools × connectionsPerPool` connections are open.
 */
import pg from 'pg';

export interface TenantPoolOptions {
  readonly maxPools: number;
  readonly connectionsPerPool: number;
  readonly idleTimeoutMs: number;
}

export interface TenantPoolStats {
  readonly pools: number;
  readonly total: number;
  readonly idle: number;
  readonly waiting: number;
  readonly evicted: number;
}

export class TenantPools {
  private readonly pools = new Map<string, pg.Pool>();
  private evicted = 0;
  private readonly ending = new Set<Promise<void>>();

  constructor(
    private readonly connect: (key: string) => string,
    private readonly options: TenantPoolOptions,
  ) {}

  /** The pool of `key`, created on first use; marks it most recently used. */
  poolFor(key: string): pg.Pool {
    let pool = this.pools.get(key);
    if (pool) {
      this.pools.delete(key);
      this.pools.set(key, pool);
      return pool;
    }
    pool = new pg.Pool({
      connectionString: this.connect(key),
      max: this.options.connectionsPerPool,
      idleTimeoutMillis: this.options.idleTimeoutMs,
      application_name: 'tenantproof-reference-tenant',
    });
    pool.on('error', () => undefined); // an idle connection that dies is replaced on next use
    this.pools.set(key, pool);
    while (this.pools.size > this.options.maxPools) {
      const [oldestKey, oldest] = this.pools.entries().next().value as [string, pg.Pool];
      this.pools.delete(oldestKey);
      this.evicted++;
      this.endLater(oldest);
    }
    return pool;
  }

  /** Closes the pool of `key` (before its database is dropped or moved). */
  async close(key: string): Promise<void> {
    const pool = this.pools.get(key);
    if (!pool) return;
    this.pools.delete(key);
    await pool.end();
  }

  private endLater(pool: pg.Pool): void {
    const ended = pool.end().catch(() => undefined);
    this.ending.add(ended);
    void ended.finally(() => this.ending.delete(ended));
  }

  stats(): TenantPoolStats {
    let total = 0;
    let idle = 0;
    let waiting = 0;
    for (const pool of this.pools.values()) {
      total += pool.totalCount;
      idle += pool.idleCount;
      waiting += pool.waitingCount;
    }
    return { pools: this.pools.size, total, idle, waiting, evicted: this.evicted };
  }

  async end(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all([...pools.map((p) => p.end()), ...this.ending]);
  }
}
