/**
 * Hybrid tenancy end to end: tenants of the three isolation models signed up into one running
 * app — placed by signup or by plan, provisioned (schema / database + role), reachable by login
 * and tenant switching across models, and torn down without a trace.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { testServer } from '../../fixtures/index.ts';
import { createProjects, signUp, startTestApp, type SignedUpTenant, type TestApp } from '../app/harness.ts';

let t: TestApp;

async function admin<T>(database: string | undefined, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const url = new URL(database ? testServer().adminUrl : t.databaseUrl);
  if (database) url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const key = (s: SignedUpTenant) => s.tenantId.replaceAll('-', '');
const likeToRegExp = (like: string) => new RegExp(`^${like.replace(/\\_/g, '_').replace(/%/g, '.*')}$`);

beforeAll(async () => {
  t = await startTestApp({ poolSize: 2, tenantPools: { maxPools: 2, connectionsPerPool: 1, idleTimeoutMs: 5_000 } });
});
afterEach(() => {
  expect(t.app.poolStats().checkedOut).toBe(0);
});
afterAll(async () => {
  await t?.close();
});

describe('placement', () => {
  test('signup places by tenant.model, else by plan (free → rls, pro → rls, enterprise → database)', async () => {
    expect((await signUp(t.client, 'free', 'free')).model).toBe('rls');
    expect((await signUp(t.client, 'pro', 'pro')).model).toBe('rls');
    expect((await signUp(t.client, 'ent', 'enterprise')).model).toBe('database');
    expect((await signUp(t.client, 'sch', 'free', 'schema')).model).toBe('schema');
    const bad = await t.client.post('/signup', { body: { tenant: { slug: 'bad-model', name: 'x', model: 'cluster' }, email: 'x@bad.example', password: 'password-123' } });
    expect(bad.status).toBe(400);
  });

  test('a schema tenant gets tenant_<hex of its id>, no PUBLIC privilege, and a role with USAGE there only', async () => {
    const s = await signUp(t.client, 'sch', 'pro', 'schema');
    const { schemas, roleName, usage } = await admin(undefined, async (c) => {
      const schemaName = `tenant_${key(s)}`;
      const { rows } = await c.query<{ nspname: string; acl: string | null }>('select nspname, nspacl::text as acl from pg_namespace where nspname = $1', [schemaName]);
      const roleName = t.app.database.tenantObjects.schemaRoleTemplate.replace('{tenant}', schemaName);
      const { rows: usage } = await c.query<{ nspname: string }>(
        `select nspname from pg_namespace where nspname like 'tenant\\_%' and has_schema_privilege($1, oid, 'USAGE') order by 1`,
        [roleName],
      );
      return { schemas: rows, roleName, usage: usage.map((r) => r.nspname) };
    });
    expect(schemas).toHaveLength(1);
    expect(schemas[0]!.acl).not.toMatch(/(^|[{,])=/); // no PUBLIC entry
    expect(schemas[0]!.nspname).toMatch(likeToRegExp(t.app.database.tenantObjects.schemaPattern));
    expect(usage).toEqual([`tenant_${key(s)}`]);
    expect(roleName.length).toBeLessThanOrEqual(63);
  });

  test('a schema tenant pins its rows to its own id and hangs no trigger on the shared registry', async () => {
    const triggersOnRegistry = () =>
      admin(undefined, async (c) => Number((await c.query<{ n: string }>(`select count(*) as n from pg_trigger where tgrelid = 'app.tenants'::regclass`)).rows[0]!.n));
    const before = await triggersOnRegistry();
    const s = await signUp(t.client, 'pin', 'pro', 'schema');
    expect(await triggersOnRegistry()).toBe(before);
    await admin(undefined, async (c) => {
      const schema = `tenant_${key(s)}`;
      const { rows } = await c.query<{ table: string; pins: string[] }>(
        `select c.relname as table, array(select pg_get_constraintdef(k.oid) from pg_constraint k where k.conrelid = c.oid and k.contype = 'c' and pg_get_constraintdef(k.oid) like '%tenant_id =%') as pins
           from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relkind = 'r' order by 1`,
        [schema],
      );
      expect(rows.length).toBeGreaterThanOrEqual(10);
      for (const row of rows) expect(row.pins, row.table).toEqual([`CHECK ((tenant_id = '${s.tenantId}'::uuid))`]);
      // Another tenant's id cannot be written into this schema, whatever the role.
      await expect(c.query(`insert into ${schema}.projects (tenant_id, name, created_by) values (gen_random_uuid(), 'x', gen_random_uuid())`)).rejects.toThrow(/check constraint/);
    });
  });

  test('a database tenant gets <db>_t_<hex> from the template, CONNECT for its own login role only, no cross-database extension', async () => {
    const d = await signUp(t.client, 'db', 'pro', 'database');
    const name = t.app.control.databasePlacement({ id: d.tenantId }).database;
    expect(name).toMatch(likeToRegExp(t.app.database.tenantObjects.databasePattern));
    expect(name.endsWith(`_t_${key(d)}`)).toBe(true);
    const { rows } = await admin(undefined, (c) =>
      c.query<{ public_connect: boolean; own_connect: boolean; app_connect: boolean; rolcanlogin: boolean; rolsuper: boolean }>(
        `select has_database_privilege('public', d.oid, 'CONNECT') as public_connect,
                has_database_privilege($2, d.oid, 'CONNECT') as own_connect,
                has_database_privilege($3, d.oid, 'CONNECT') as app_connect,
                r.rolcanlogin, r.rolsuper
           from pg_database d join pg_roles r on r.rolname = $2 where d.datname = $1`,
        [name, name, t.app.database.roles.app],
      ),
    );
    expect(rows).toEqual([{ public_connect: false, own_connect: true, app_connect: false, rolcanlogin: true, rolsuper: false }]);
    const extensions = await admin(name, (c) => c.query(`select extname from pg_extension where extname in ('dblink', 'postgres_fdw')`));
    expect(extensions.rows).toEqual([]);
  });
});

describe('one principal across models', () => {
  test('a user who belongs to an rls, a schema and a database tenant logs into and switches between all three', async () => {
    const tenants = [await signUp(t.client, 'r', 'pro', 'rls'), await signUp(t.client, 's', 'pro', 'schema'), await signUp(t.client, 'd', 'pro', 'database')];
    const email = `roamer-${key(tenants[0]!).slice(0, 6)}@example.test`;
    const password = 'roamer-password-1';
    for (const tenant of tenants) {
      expect((await t.client.post('/members', { token: tenant.token, body: { email, role: 'member', password } })).status).toBe(201);
      await createProjects(t.client, tenant.token, [`only-in-${tenant.model}`]);
    }
    const login = await t.client.post('/login', { body: { email, password, tenant: tenants[2]!.slug } });
    expect(login.status).toBe(200);
    let token: string = login.body.token;
    for (const tenant of [tenants[2]!, tenants[0]!, tenants[1]!]) {
      const switched = await t.client.post('/switch-tenant', { token, body: { tenant: tenant.slug } });
      expect(switched.status, `switch to ${tenant.model}`).toBe(200);
      token = switched.body.token;
      const list = await t.client.get('/projects', { token });
      expect(list.body.projects.map((p: { name: string }) => p.name)).toEqual([`only-in-${tenant.model}`]);
      const me = await t.client.get('/me', { token });
      expect(me.body.tenant.slug).toBe(tenant.slug);
      const header = await t.client.get('/projects', { token: login.body.token, headers: { 'x-tenant': tenant.slug } });
      expect(header.body.projects.map((p: { name: string }) => p.name)).toEqual([`only-in-${tenant.model}`]);
    }
    // Removed from the database tenant: it disappears from the directory (login cannot pick it).
    const roamerId: string = (await t.client.get('/me', { token: login.body.token })).body.userId;
    const removed = await t.client.delete(`/members/${roamerId}`, { token: tenants[2]!.token });
    expect(removed.status).toBe(204);
    expect((await t.client.post('/login', { body: { email, password, tenant: tenants[2]!.slug } })).status).toBe(403);
    expect((await t.client.post('/login', { body: { email, password, tenant: tenants[1]!.slug } })).status).toBe(200);
  });
});

describe('teardown', () => {
  test.each(['schema', 'database'] as const)('DELETE /tenant of a %s tenant drops its home and role; the other tenants are untouched', async (model) => {
    const gone = await signUp(t.client, 'gone', 'pro', model);
    const stays = await signUp(t.client, 'stays', 'pro', model);
    await createProjects(t.client, gone.token, ['p']);
    await createProjects(t.client, stays.token, ['q']);
    const home = model === 'schema' ? `tenant_${key(gone)}` : t.app.control.databasePlacement({ id: gone.tenantId }).database;
    const role = model === 'schema' ? t.app.database.tenantObjects.schemaRoleTemplate.replace('{tenant}', home) : home;
    const exists = () =>
      admin(undefined, async (c) => ({
        home: (await c.query(model === 'schema' ? 'select 1 from pg_namespace where nspname = $1' : 'select 1 from pg_database where datname = $1', [home])).rowCount,
        role: (await c.query('select 1 from pg_roles where rolname = $1', [role])).rowCount,
        registry: (await c.query('select 1 from app.tenants where id = $1', [gone.tenantId])).rowCount,
        directory: (await c.query('select 1 from app.tenant_members where tenant_id = $1', [gone.tenantId])).rowCount,
      }));
    expect(await exists()).toEqual({ home: 1, role: 1, registry: 1, directory: 1 });
    expect((await t.client.delete('/tenant', { token: gone.token })).status).toBe(204);
    expect(await exists()).toEqual({ home: 0, role: 0, registry: 0, directory: 0 });
    expect((await t.client.get('/projects', { token: gone.token })).status).toBe(401);
    expect((await t.client.get('/projects', { token: stays.token })).body.projects.map((p: { name: string }) => p.name)).toEqual(['q']);
  });

  test('a failed signup (slug taken) leaves no schema, database or role behind', async () => {
    const first = await signUp(t.client, 'taken', 'pro', 'rls');
    const count = () =>
      admin(undefined, async (c) => {
        const { rows } = await c.query<{ n: number }>(
          `select (select count(*) from pg_namespace where nspname like 'tenant\\_%')::int + (select count(*) from pg_database where datname like $1)::int
                + (select count(*) from pg_roles where rolname like $1 or rolname like $2)::int as n`,
          [t.app.database.tenantObjects.databasePattern, t.app.database.tenantObjects.schemaRoleTemplate.replace('_{tenant}', '\\_tenant\\_%')],
        );
        return rows[0]!.n;
      });
    const before = await count();
    for (const model of ['schema', 'database']) {
      const again = await t.client.post('/signup', { body: { tenant: { slug: first.slug, name: 'dup', model }, email: `dup-${model}@${first.slug}.example`, password: 'password-123' } });
      expect(again.status).toBe(409);
    }
    expect(await count()).toBe(before);
  });
});

describe('pools of tenant databases', () => {
  test('at most maxPools tenant pools stay open (least recently used closed); every tenant is still served', async () => {
    const tenants: SignedUpTenant[] = [];
    for (let i = 0; i < 4; i++) tenants.push(await signUp(t.client, `pool${i}`, 'pro', 'database'));
    for (const round of [1, 2]) {
      for (const tenant of tenants) {
        const list = await t.client.get('/projects', { token: tenant.token });
        expect(list.status, `round ${round}`).toBe(200);
        expect(t.app.poolStats().tenantPools).toBeLessThanOrEqual(2);
      }
    }
    const { rows } = await admin(undefined, (c) =>
      c.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where datname like $1 and application_name = 'tenantproof-reference-tenant'`, [
        t.app.database.tenantObjects.databasePattern,
      ]),
    );
    expect(rows[0]!.n).toBeLessThanOrEqual(2);
  });
});
