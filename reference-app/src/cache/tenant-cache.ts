/**
 * The tenant-aware response cache: answers of read-heavy routes (GET /stats) kept in memory
 * (`lru-cache`: bounded entry count and a TTL), keyed by the tenant of the current tenant context
 * (AsyncLocalStorage) and the name of what is cached — never by anything the request says.
 *
 * Invalidation: every write of a tenant (any non-GET request in its tenant scope) drops that
 * tenant's entries before the handler runs and again after it answered. A read that was computing
 * while a write ran may not store its (possibly stale) answer: each tenant has a version, bumped
 * on every invalidation, and an answer is stored only if the version it started under is still
 * current. The versions are an LRU too (bounded): a forgotten version reads as 0, which never
 * equals a version an earlier read saw after an invalidation, so forgetting can only skip a store.
 *
 * The `cache-key-unscoped` vulnerability leaves the tenant out of the key: one tenant's cached
 * answer is served to the next tenant that asks.
 */
import { LRUCache } from 'lru-cache';
import { currentTenantContext } from '../tenancy/context.ts';

export interface TenantCacheOptions {
  /** Entries kept at most (all tenants together). */
  readonly maxEntries: number;
  /** How long an entry may be served, ms. */
  readonly ttlMs: number;
  /** The `cache-key-unscoped` vulnerability: keys without the tenant. */
  readonly unscopedKeys?: boolean;
}

export interface TenantCacheStats {
  readonly entries: number;
  readonly hits: number;
  readonly misses: number;
  /** Answers computed but not stored because the tenant wrote meanwhile. */
  readonly discarded: number;
}

/** What routes use: the in-process `TenantCache` (one instance) or `RedisTenantCache` (shared by instances). */
export interface ResponseCache {
  remember<T>(name: string, compute: () => Promise<T>): Promise<T>;
  invalidateTenant(tenantId: string): void | Promise<void>;
  stats(): TenantCacheStats;
}

export class TenantCache implements ResponseCache {
  private readonly entries: LRUCache<string, { value: unknown }>;
  private readonly versions: LRUCache<string, number>;
  private readonly names = new Set<string>();
  private clock = 0;
  private hits = 0;
  private misses = 0;
  private discarded = 0;

  constructor(private readonly options: TenantCacheOptions) {
    this.entries = new LRUCache({ max: options.maxEntries, ttl: options.ttlMs });
    this.versions = new LRUCache({ max: Math.max(options.maxEntries, 1000) });
  }

  private key(tenantId: string, name: string): string {
    // `cache-key-unscoped`: the tenant is left out of the key.
    return this.options.unscopedKeys ? `*:${name}` : `${tenantId}:${name}`;
  }

  /**
   * The cached answer `name` of the current tenant, or `compute()`'s (stored unless the tenant
   * wrote while it ran). Throws `NoTenantContextError` outside a tenant context.
   */
  async remember<T>(name: string, compute: () => Promise<T>): Promise<T> {
    const tenantId = currentTenantContext().tenant.id;
    this.names.add(name);
    const key = this.key(tenantId, name);
    const hit = this.entries.get(key);
    if (hit) {
      this.hits++;
      return hit.value as T;
    }
    this.misses++;
    const version = this.versions.get(tenantId) ?? 0;
    const value = await compute();
    if ((this.versions.get(tenantId) ?? 0) === version) this.entries.set(key, { value });
    else this.discarded++;
    return value;
  }

  /** Drops every entry of `tenantId` and makes answers being computed for it unstorable. */
  invalidateTenant(tenantId: string): void {
    this.versions.set(tenantId, ++this.clock);
    for (const name of this.names) this.entries.delete(this.key(tenantId, name));
  }

  stats(): TenantCacheStats {
    return { entries: this.entries.size, hits: this.hits, misses: this.misses, discarded: this.discarded };
  }

  clear(): void {
    this.entries.clear();
  }
}
