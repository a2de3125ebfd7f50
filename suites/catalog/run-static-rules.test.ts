import { describe, expect, test } from 'vitest';
import { CannotRunError, urlFor, withClient } from '../../src/index.ts';
import { rules, runStaticRules } from '../../src/index.ts';
import { fixtureDatabase } from './harness.ts';

describe('runStaticRules', () => {
  test('a missing app role cannot run: one-line CannotRunError naming the role', async () => {
    await using db = await fixtureDatabase('rls');
    const attempt = withClient(db.url, (c) => runStaticRules(c, { ...db.target(), appRole: 'no_such_role_here' }));
    await expect(attempt).rejects.toBeInstanceOf(CannotRunError);
    await expect(attempt).rejects.toThrow(/^app role no_such_role_here does not exist in database [^\n]+$/);
  });

  test.each(['rls', 'schema', 'database'] as const)('%s model runs exactly the rules declared for it', async (model) => {
    await using db = await fixtureDatabase(model);
    const { rulesRun } = await db.run();
    expect(rulesRun).toEqual(rules.filter((r) => r.models.includes(model)).map((r) => r.id));
  });

  test('--schemas: the rules look only where the target says tenant tables are (rls)', async () => {
    await using db = await fixtureDatabase('rls');
    // A table with a tenant column and no RLS, in a schema outside --schemas (another app's, say).
    await db.apply('create schema @other;\ncreate table @other.ledger (id int primary key, tenant_id uuid not null, amount int);\ngrant usage on schema @other to @app;\ngrant select on @other.ledger to @app;');
    const everywhere = await db.run();
    expect(everywhere.findings.filter((f) => f.checkId === 'rls-disabled').map((f) => f.object)).toEqual([`${db.prefix}_other.ledger`]);
    const publicOnly = await db.run({ schemas: ['public'] });
    expect(publicOnly.findings.filter((f) => f.object.includes('ledger'))).toEqual([]);
    const otherOnly = await db.run({ schemas: [`${db.prefix}_other`, 'public'] });
    expect(otherOnly.findings.filter((f) => f.checkId === 'rls-disabled').map((f) => f.object)).toEqual([`${db.prefix}_other.ledger`]);
  });

  test('only/skip narrow the rules', async () => {
    await using db = await fixtureDatabase('rls');
    await db.apply('alter role @app bypassrls;\ngrant truncate on tasks to @app;');
    const only = await db.run(undefined, { only: ['app-role-bypassrls'] });
    expect(only.rulesRun).toEqual(['app-role-bypassrls']);
    expect(only.findings.map((f) => f.checkId)).toEqual(['app-role-bypassrls']);
    const skipped = await db.run(undefined, { skip: ['app-role-bypassrls'] });
    expect(skipped.rulesRun).not.toContain('app-role-bypassrls');
    expect(skipped.findings.map((f) => f.checkId)).toEqual(['dangerous-grant-on-tenant-table']);
  });

  test('findings are sorted by severity, then rule, then object, and every one names its model', async () => {
    await using db = await fixtureDatabase('rls');
    await db.apply('alter table tasks alter column tenant_id drop not null;\nalter table projects disable row level security;\ncreate function f() returns int language sql as $$ select 1 $$;');
    const { findings } = await db.run();
    expect(findings.map((f) => f.severity)).toEqual(['critical', 'medium', 'low']);
    expect(findings.map((f) => f.checkId)).toEqual(['policy-exists-rls-disabled', 'tenant-column-nullable', 'function-search-path-mutable']);
    for (const f of findings) expect(f.model).toBe('rls');
  });
});

describe('policies without an expression fail closed, and the rules agree', () => {
  test('an INSERT policy without WITH CHECK rejects rows (checked on this server) and no policy rule fires', async () => {
    await using db = await fixtureDatabase('rls');
    await db.apply('create policy insert_unchecked on tasks for insert to @app;\ncreate policy select_unqualified on tasks for select to @app;');
    const outcome = await withClient(db.url, async (c) => {
      await c.query('begin');
      try {
        const tenant = (await c.query<{ id: string }>("insert into tenants (name) values ('t') returning id::text")).rows[0]!.id;
        const project = (await c.query<{ id: string }>('insert into projects (tenant_id, name) values ($1, $2) returning id::text', [tenant, 'p'])).rows[0]!.id;
        await c.query(`set local role ${db.prefix}_app`);
        await c.query("select set_config('app.current_tenant', gen_random_uuid()::text, true)");
        return await c.query('insert into tasks (tenant_id, project_id, title) values ($1, $2, $3)', [tenant, project, 'x']).then(
          () => 'accepted',
          (e: Error) => e.message,
        );
      } finally {
        await c.query('rollback');
      }
    });
    expect(outcome).toMatch(/violates row-level security policy/);
    const { findings } = await db.run();
    expect(findings.filter((f) => f.checkId.startsWith('policy-'))).toEqual([]);
  });
});

describe('database model: tenant databases', () => {
  test('are read through the connect option, and one that cannot be reached stops the run with a one-line error', async () => {
    await using db = await fixtureDatabase('database');
    const reached: string[] = [];
    await withClient(db.url, async (c) => {
      const ok = await runStaticRules(c, db.target(), {
        connect: async (database) => {
          reached.push(database);
          const { default: pg } = await import('pg');
          const { testServer } = await import('../../fixtures/index.ts');
          const client = new pg.Client({ connectionString: urlFor(testServer().adminUrl, database) });
          await client.connect();
          return { query: (text: string, values?: readonly unknown[]) => client.query(text, values as unknown[]) as never, close: () => client.end() };
        },
      });
      expect(ok.findings).toEqual([]);
      const failing = runStaticRules(c, db.target(), { connect: () => Promise.reject(new Error('password authentication failed\nsecond line')) });
      await expect(failing).rejects.toBeInstanceOf(CannotRunError);
      await expect(failing).rejects.toThrow(/^cannot connect to tenant database c[0-9a-f]+_t_a: password authentication failed$/);
    });
    expect(reached.sort()).toEqual([`${db.prefix}_t_a`, `${db.prefix}_t_b`]);
  });
});
