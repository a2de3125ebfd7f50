/**
 * More than one app instance: with the shared store (Redis), a tenant's rate-limit budget and
 * cached answers are the same on every instance — a tenant cannot multiply its limit by the
 * number of instances, and a write on one instance retires the answers every instance cached —
 * while tenants stay apart in the shared store. Red case: `shared-store-key-unscoped`.
 *
 * Needs Debian's redis-server (started here on a free 127.0.0.1 port); skipped with the reason
 * when it is not installed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { redisAvailable, redisServerBin, startRedis, type TestRedis } from '../../fixtures/index.ts';
import { startReferenceApp, type ReferenceApp, type ReferenceAppOptions } from '../../reference-app/src/index.ts';
import { ApiClient, createProjects, jwtSecret, signUp, startTestApp, type SignedUpTenant, type TestApp } from './harness.ts';
import { checkResponseCache } from './side-channels.ts';

/** A load balancer in front of the instances: each request goes to the next one (round robin). */
class RoundRobinClient extends ApiClient {
  private next = 0;
  constructor(private readonly urls: readonly string[]) {
    super(urls[0]!);
  }
  override request: ApiClient['request'] = (method, path, options) => {
    const url = this.urls[this.next++ % this.urls.length]!;
    return new ApiClient(url).request(method, path, options);
  };
}

interface Deployment {
  readonly first: TestApp;
  readonly second: ReferenceApp;
  readonly balanced: RoundRobinClient;
  close(): Promise<void>;
}

async function twoInstances(redis: TestRedis, options: Omit<ReferenceAppOptions, 'databaseUrl'> = {}): Promise<Deployment> {
  const shared = { ...options, store: { redisUrl: redis.url } };
  const first = await startTestApp(shared);
  const second = await startReferenceApp({ ...shared, jwtSecret, databaseUrl: first.databaseUrl });
  return {
    first,
    second,
    balanced: new RoundRobinClient([first.app.url, second.url]),
    close: async () => {
      await second.close();
      await first.close();
    },
  };
}

describe.skipIf(!redisAvailable())(`shared store across instances (redis-server at ${redisServerBin})`, () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => redis?.stop());

  describe('shipped build, two instances', () => {
    let d: Deployment;
    let a: SignedUpTenant;
    let b: SignedUpTenant;
    beforeAll(async () => {
      d = await twoInstances(redis, { rateLimit: { max: 20, timeWindowMs: 60_000 } });
      a = await signUp(d.balanced, 'acme', 'pro');
      b = await signUp(d.balanced, 'globex', 'pro');
    });
    afterEach(() => {
      expect(d.first.app.poolStats().checkedOut).toBe(0);
      expect(d.second.poolStats().checkedOut).toBe(0);
    });
    afterAll(async () => d?.close());

    test('a tenant has one rate-limit budget, not one per instance; the other tenant keeps its own', async () => {
      let allowed = 0;
      for (let i = 0; i < 40; i += 1) {
        const response = await d.balanced.get('/me', { token: a.token });
        if (response.status === 429) break;
        expect(response.status).toBe(200);
        allowed += 1;
      }
      expect(allowed).toBe(20); // two instances with in-process buckets would have allowed 40
      const other = await d.balanced.get('/me', { token: b.token });
      expect(other.status).toBe(200);
      expect(Number(other.headers.get('x-ratelimit-remaining'))).toBe(19);
    });

    test("a write on one instance retires the answer another instance cached; tenants never get each other's", async () => {
      const one = new ApiClient(d.first.app.url);
      const two = new ApiClient(d.second.url);
      const token = (await signUp(one, 'cache', 'pro')).token;
      await createProjects(one, token, ['first']);
      expect((await one.get('/stats', { token })).body.projects).toBe(1);
      expect((await two.get('/stats', { token })).body.projects).toBe(1); // served from Redis
      expect(d.first.app.cacheStats().misses + d.second.cacheStats().misses).toBeGreaterThan(0);
      expect(d.second.cacheStats().hits).toBeGreaterThan(0);
      await createProjects(two, token, ['second']);
      expect((await one.get('/stats', { token })).body.projects).toBe(2);
    });

    test('the response cache check holds across instances (both directions)', async () => {
      const c = await signUp(d.balanced, 'initech', 'pro');
      const e = await signUp(d.balanced, 'umbrella', 'pro');
      expect(await checkResponseCache(d.balanced, c, e)).toEqual([]);
      expect(await checkResponseCache(d.balanced, e, c)).toEqual([]);
    });
  });

  describe('red case: shared-store-key-unscoped', () => {
    let d: Deployment;
    beforeAll(async () => {
      d = await twoInstances(redis, { vulnerabilities: ['shared-store-key-unscoped'] });
    });
    afterAll(async () => d?.close());

    test("the victim's cached counts are served to another tenant from the other instance", async () => {
      const one = new ApiClient(d.first.app.url);
      const two = new ApiClient(d.second.url);
      const victim = await signUp(one, 'victim', 'pro');
      const acting = await signUp(one, 'acting', 'pro');
      await createProjects(one, victim.token, ['v1', 'v2', 'v3'], 777);
      const victimStats = (await one.get('/stats', { token: victim.token })).body;
      expect(victimStats).toMatchObject({ projects: 3, budgetCents: 2331 });
      const actingStats = await two.get('/stats', { token: acting.token });
      expect(actingStats.status).toBe(200);
      expect(actingStats.body).toEqual(victimStats); // acting owns no project at all
      const leaks = await checkResponseCache(d.balanced, acting, victim);
      expect(leaks.map((l) => l.via)).toContainEqual(expect.stringMatching(/^GET \/stats \(first ask/));
    });
  });
});

test.skipIf(redisAvailable())('shared store: skipped: redis-server not installed — apt-get install redis-server', () => {
  expect(redisAvailable()).toBe(false);
});
