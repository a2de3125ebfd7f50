/**
 * The data layer directly, as the app's login role: the rls model confines a transaction to its
 * tenant (USING and WITH CHECK), fails closed without a context, leaves nothing behind on the
 * pooled connection, and the tenant → model dispatch refuses models it does not have.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import {
  NoTenantContextError,
  rlsModel,
  runInTenantContext,
  Tenancy,
  UnsupportedIsolationModelError,
  type TenantRef,
} from '../../reference-app/src/index.ts';
import { signUp, startTestApp, type SignedUpTenant, type TestApp } from './harness.ts';

let t: TestApp;
let pool: pg.Pool;
let tenancy: Tenancy;
let a: SignedUpTenant;
let b: SignedUpTenant;
const ref = (s: SignedUpTenant): TenantRef => ({ id: s.tenantId, slug: s.slug, model: 'rls' });

beforeAll(async () => {
  t = await startTestApp();
  a = await signUp(t.client, 'acme');
  b = await signUp(t.client, 'globex');
  pool = new pg.Pool({ connectionString: t.app.database.appUrl, max: 1 });
  tenancy = new Tenancy({ rls: rlsModel(pool) });
});
afterEach(() => {
  expect(pool.totalCount - pool.idleCount).toBe(0);
});
afterAll(async () => {
  await pool?.end();
  await t?.close();
});

const userOf = (s: SignedUpTenant) => JSON.parse(Buffer.from(s.token.split('.')[1]!, 'base64url').toString()).sub as string;

describe('the rls model', () => {
  test('a tenant transaction sees and writes only its tenant', async () => {
    const id = await tenancy.withTenant(ref(a), async (tx) => {
      const { rows } = await tx.query<{ id: string }>('insert into app.projects (name, created_by) values ($1, $2) returning id', ['dl', userOf(a)]);
      return rows[0]!.id;
    });
    const seenByB = await tenancy.withTenant(ref(b), (tx) => tx.query('select 1 from app.projects where id = $1', [id]));
    expect(seenByB.rows).toHaveLength(0);
    const updatedByB = await tenancy.withTenant(ref(b), (tx) => tx.query(`update app.projects set name = 'x' where id = $1`, [id]));
    expect(updatedByB.rowCount).toBe(0);
    const seenByA = await tenancy.withTenant(ref(a), (tx) => tx.query<{ name: string }>('select name from app.projects where id = $1', [id]));
    expect(seenByA.rows).toEqual([{ name: 'dl' }]);
  });

  test('WITH CHECK: a row for another tenant cannot be inserted, nor moved there', async () => {
    const insert = tenancy.withTenant(ref(a), (tx) =>
      tx.query('insert into app.projects (tenant_id, name, created_by) values ($1, $2, $3)', [b.tenantId, 'planted', userOf(a)]),
    );
    await expect(insert).rejects.toMatchObject({ code: '42501' });
    const move = tenancy.withTenant(ref(a), (tx) => tx.query('update app.projects set tenant_id = $1', [b.tenantId]));
    await expect(move).rejects.toMatchObject({ code: '42501' });
  });

  test('without a tenant context: no rows, and inserts fail (fail closed)', async () => {
    const client = await pool.connect();
    try {
      expect((await client.query('select count(*)::int as n from app.projects')).rows[0]).toEqual({ n: 0 });
      expect((await client.query('select count(*)::int as n from app.tenants')).rows[0]).toEqual({ n: 0 });
      // tenant_id defaults to the (absent) context: the policy's WITH CHECK refuses the row.
      await expect(client.query('insert into app.projects (name, created_by) values ($1, $2)', ['orphan', userOf(a)])).rejects.toMatchObject({ code: '42501' });
    } finally {
      client.release();
    }
  });

  test('a malformed tenant id is an error, not a wider view', async () => {
    await expect(tenancy.withTenant({ id: "x' or 1=1 --", slug: 'x', model: 'rls' }, (tx) => tx.query('select * from app.projects'))).rejects.toMatchObject({ code: '22P02' });
  });

  test('the context ends with the transaction: commit and rollback alike', async () => {
    await tenancy.withTenant(ref(a), (tx) => tx.query('select 1'));
    await expect(tenancy.withTenant(ref(a), async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    const { rows } = await pool.query<{ tenant: string | null; timeout: string }>(
      `select current_setting('app.current_tenant', true) as tenant, current_setting('statement_timeout') as timeout`,
    );
    expect(rows[0]!.tenant ?? '').toBe('');
    expect(rows[0]!.timeout).toBe('0');
  });

  test('red case: session-level context survives on the pooled connection', async () => {
    const leaky = new Tenancy({ rls: rlsModel(pool, { sessionLevelContext: true }) });
    await leaky.withTenant(ref(a), (tx) => tx.query('select 1'));
    const { rows } = await pool.query<{ tenant: string; n: number }>(
      `select current_setting('app.current_tenant', true) as tenant, (select count(*)::int from app.projects) as n`,
    );
    expect(rows[0]!.tenant).toBe(a.tenantId);
    expect(rows[0]!.n).toBeGreaterThan(0);
    await pool.query(`select set_config('app.current_tenant', '', false)`);
  });

  test('a write that fails rolls back everything in its transaction', async () => {
    const count = () => tenancy.withTenant(ref(a), (tx) => tx.query<{ n: number }>('select count(*)::int as n from app.projects')).then((r) => r.rows[0]!.n);
    const before = await count();
    const failing = tenancy.withTenant(ref(a), async (tx) => {
      await tx.query('insert into app.projects (name, created_by) values ($1, $2)', ['kept?', userOf(a)]);
      await tx.query('insert into app.projects (name, created_by) values ($1, $2)', ['', userOf(a)]); // check violation
    });
    await expect(failing).rejects.toMatchObject({ code: '23514' });
    expect(await count()).toBe(before);
  });
});

describe('tenant context and model dispatch', () => {
  test('data access outside a tenant context throws instead of guessing', async () => {
    await expect(tenancy.inCurrentTenant((tx) => tx.query('select 1'))).rejects.toBeInstanceOf(NoTenantContextError);
  });

  test('the context flows through awaits to the data layer (AsyncLocalStorage)', async () => {
    const seen = await runInTenantContext({ tenant: ref(b), principal: { userId: userOf(b), role: 'admin', tokenIssuedAtMs: Date.now(), via: 'token' } }, async () => {
      await new Promise((r) => setTimeout(r, 5));
      return tenancy.inCurrentTenant((tx) => tx.query<{ id: string }>('select id from app.tenants'));
    });
    expect(seen.rows).toEqual([{ id: b.tenantId }]);
  });

  test('a tenant on a model this build does not have is refused', () => {
    expect(() => tenancy.modelFor({ id: a.tenantId, slug: a.slug, model: 'schema' })).toThrow(UnsupportedIsolationModelError);
    expect(() => tenancy.modelFor({ id: a.tenantId, slug: a.slug, model: 'database' })).toThrow(/isolation model "database"/);
  });
});
