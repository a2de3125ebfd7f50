import { describe, expect, test } from 'vitest';
import { testServer } from '../../fixtures/index.ts';
import { withClient } from '../../src/index.ts';
import { introspectSecurity, PUBLIC } from '../../src/index.ts';
import { fixtureDatabase } from './harness.ts';

describe('introspectSecurity', () => {
  test('reads roles, memberships, policies, grants (defaults included), views, functions and databases', async () => {
    await using db = await fixtureDatabase('rls');
    const p = db.prefix;
    await db.apply(`
create role @group nologin bypassrls;
grant @group to @app;
create policy read_own on tasks as restrictive for select to @app using (true);
create view v as select id from tasks;
grant select on v to @app;
create function f() returns int language sql security definer set search_path = pg_catalog, public as $$ select 1 $$;
create function g() returns bigint language sql begin atomic; select count(*) from public.tasks; end;
revoke execute on function g() from public;
grant select (title) on tasks to @group;`);
    if (testServer().versionNum >= 150000) await db.apply('alter view v set (security_invoker = on);');
    const s = await withClient(db.url, (c) => introspectSecurity(c, { subjects: [`${p}_app`, 'nobody_by_that_name'] }));

    expect(s.serverVersionNum).toBe(testServer().versionNum);
    expect(s.database).toBe(`${p}_main`);
    expect(s.roles.find((r) => r.name === `${p}_group`)).toMatchObject({ bypassRls: true, superuser: false, canLogin: false });
    expect(s.memberships).toContainEqual(expect.objectContaining({ member: `${p}_app`, role: `${p}_group`, inherit: true, set: true }));
    expect(s.subjects.find((x) => x.name === 'nobody_by_that_name')).toEqual({ name: 'nobody_by_that_name', exists: false, roles: [] });
    expect(s.subjects.find((x) => x.name === `${p}_app`)?.roles).toContainEqual({ role: `${p}_group`, usage: true, set: true });

    const policy = s.policies.find((x) => x.name === 'read_own')!;
    expect(policy).toMatchObject({ table: 'tasks', permissive: false, command: 'SELECT', using: 'true', withCheck: null });
    expect(policy.roles).toEqual([`${p}_app`]);
    expect(s.policies.find((x) => x.name === 'tenant_isolation' && x.table === 'tasks')?.command).toBe('ALL');

    const tasks = s.relationAccess.find((a) => a.subject === `${p}_app` && a.name === 'tasks')!;
    expect([...tasks.privileges].sort()).toEqual(['DELETE', 'INSERT', 'SELECT', 'UPDATE']);
    expect(tasks.columnPrivileges).toEqual(expect.arrayContaining(['SELECT', 'INSERT', 'UPDATE']));
    const tasksGrants = s.relationGrants.find((r) => r.name === 'tasks')!;
    expect(tasksGrants.grants).toContainEqual(expect.objectContaining({ grantee: `${p}_app`, privilege: 'SELECT' }));
    expect(tasksGrants.columnGrants).toEqual([expect.objectContaining({ column: 'title', grantee: `${p}_group`, privilege: 'SELECT' })]);

    const view = s.views.find((v) => v.name === 'v')!;
    expect(view.reads).toEqual([{ schema: 'public', name: 'tasks' }]);
    expect(view.securityInvoker).toBe(testServer().versionNum >= 150000);

    const f = s.functions.find((x) => x.name === 'f')!;
    expect(f).toMatchObject({ securityDefiner: true, searchPath: 'pg_catalog, public', executableBy: [`${p}_app`] });
    expect(f.grants).toContainEqual(expect.objectContaining({ grantee: PUBLIC, privilege: 'EXECUTE' }));
    const g = s.functions.find((x) => x.name === 'g')!;
    expect(g).toMatchObject({ securityDefiner: false, searchPath: null, executableBy: [] });
    expect(g.dependsOn).toContainEqual({ schema: 'public', name: 'tasks' });

    const main = s.databases.find((d) => d.name === `${p}_main`)!;
    expect(main.grants).toEqual(expect.arrayContaining([expect.objectContaining({ grantee: PUBLIC, privilege: 'CONNECT' }), expect.objectContaining({ grantee: PUBLIC, privilege: 'TEMPORARY' })]));
    expect(s.databaseAccess.find((d) => d.subject === `${p}_app` && d.database === `${p}_main`)).toMatchObject({ connect: true, temporary: true, create: false });
    expect(s.schemaAccess.find((x) => x.subject === `${p}_app` && x.schema === 'public')).toMatchObject({ usage: true, create: false });
  });
});
