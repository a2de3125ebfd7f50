/**
 * The shared store for several app instances: Redis (ioredis). Each instance alone would give a
 * tenant its own rate-limit budget and cache per instance — N instances, N budgets, and a write
 * on one instance leaving stale answers on the others. With `store.redisUrl` the rate-limit
 * buckets (`@fastify/rate-limit`'s Redis store) and the response cache live in one Redis, under
 * keys that carry the tenant of the tenant context (never anything the request says) and the
 * deployment's prefix. The in-process store stays the default for one instance.
 *
 * The cache keeps the in-process cache's guarantees across instances: every write of a tenant
 * bumps the tenant's version (INCR) and drops the entries this instance knows of; an entry
 * carries the version it was computed under and is served only while that version is current
 * (so a write on one instance retires the answers every instance stored), and an answer is
 * stored only if its version is still current (checked and set atomically in one Lua script).
 *
 * The `shared-store-key-unscoped` vulnerability leaves the tenant out of the cache key: the first
 * tenant's answer is served to every tenant, from every instance.
 */
import { Redis } from 'ioredis';
import { currentTenantContext } from '../tenancy/context.ts';
import type { ResponseCache, TenantCacheStats } from './tenant-cache.ts';

export interface RedisCacheOptions {
  /** How long an entry may be served, ms. */
  readonly ttlMs: number;
  /** Namespaces this deployment's keys (several deployments may share one Redis). */
  readonly prefix: string;
  /** The `shared-store-key-unscoped` vulnerability. */
  readonly unscopedKeys?: boolean;
}

const storeIfCurrent = `
local current = redis.call('GET', KEYS[2]) or '0'
if current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;

/** A connected ioredis client that fails fast (no offline queue, one retry per command). */
export async function connectRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 });
  redis.on('error', () => undefined); // reported by the failing command; reconnects on its own
  await redis.connect();
  return redis;
}

export class RedisTenantCache implements ResponseCache {
  private readonly names = new Set<string>();
  private hits = 0;
  private misses = 0;
  private discarded = 0;

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisCacheOptions,
  ) {}

  private key(tenantId: string, name: string): string {
    // `shared-store-key-unscoped`: the tenant is left out of the key.
    return this.options.unscopedKeys ? `${this.options.prefix}cache:*:${name}` : `${this.options.prefix}cache:${tenantId}:${name}`;
  }

  private versionKey(tenantId: string): string {
    return `${this.options.prefix}cache-version:${this.options.unscopedKeys ? '*' : tenantId}`;
  }

  async remember<T>(name: string, compute: () => Promise<T>): Promise<T> {
    const tenantId = currentTenantContext().tenant.id;
    this.names.add(name);
    const key = this.key(tenantId, name);
    const [hit, version] = await this.redis.mget(key, this.versionKey(tenantId));
    // An entry stored under an older version is stale (a write on any instance bumped it).
    const entry = hit == null ? undefined : (JSON.parse(hit) as { v: string; value: T });
    if (entry && entry.v === (version ?? '0')) {
      this.hits++;
      return entry.value;
    }
    this.misses++;
    const value = await compute();
    const stored = await this.redis.eval(storeIfCurrent, 2, key, this.versionKey(tenantId), version ?? '0', JSON.stringify({ v: version ?? '0', value }), String(this.options.ttlMs));
    if (stored !== 1) this.discarded++;
    return value;
  }

  async invalidateTenant(tenantId: string): Promise<void> {
    const batch = this.redis.multi().incr(this.versionKey(tenantId)).pexpire(this.versionKey(tenantId), 86_400_000);
    for (const name of this.names) batch.del(this.key(tenantId, name));
    await batch.exec();
  }

  stats(): TenantCacheStats {
    return { entries: -1, hits: this.hits, misses: this.misses, discarded: this.discarded };
  }
}
