import { describe, expect, test } from 'vitest';
import { findDefinitionClasses, verifyTarget, withClient } from '../../src/index.ts';
import type { CorpusSchema } from './corpus.ts';
import { expectEveryRunSawForeignRows, withCorpusTarget } from './harness.ts';

const seed = Number(process.env.TENANTPROOF_SEED ?? 20261201);
const check = `tenant_id = current_setting('app.current_tenant', true)`;

/** One table of the template every alike table follows (a child references `parent` when given). */
const alike = (name: string, parent?: string) => `
create table ${name} (
  id bigint generated always as identity,
  tenant_id text not null references tenants(id),
  body text not null,
  kind int references kinds(id),
  ${parent ? `parent_id bigint not null, foreign key (tenant_id, parent_id) references ${parent} (tenant_id, id),` : ''}
  primary key (tenant_id, id)
);
alter table ${name} enable row level security; alter table ${name} force row level security;
create policy tenant_isolation on ${name} to {app} using (${check}) with check (${check});
grant select, insert, update, delete on ${name} to {app};`;

/**
 * Six tables and six children built alike, and tables that each differ from them in one way; with
 * `leak`, x_policy's extra policy admits every tenant's rows (else it narrows the tenant's own).
 */
const schema = ({ leak = false, extra = '' } = {}): CorpusSchema => ({
  name: 'alike tables',
  flaw: null,
  base: `create table tenants (id text primary key, name text not null);
    grant select on tenants to {app};
    create table kinds (id int primary key, parent int references kinds(id), label text not null);
    grant select on kinds to {app};
    ${['n1', 'n2', 'n3', 'n4', 'n5', 'n6'].map((n) => alike(n)).join('\n')}
    ${['n1', 'n2', 'n3', 'n4', 'n5', 'n6'].map((n) => alike(`c${n.slice(1)}`, n)).join('\n')}
    ${alike('x_policy')} create policy extra on x_policy for select to {app} using (${leak ? '' : `${check} and `}body <> '');
    ${alike('x_grant')} revoke delete on x_grant from {app};
    ${alike('x_trigger')} create function touch() returns trigger language plpgsql as $$ begin return new; end $$;
      create trigger touch before insert on x_trigger for each row execute function touch();
    ${alike('x_default')} alter table x_default alter column body set default 'untitled';
    ${alike('x_index')} create index x_index_body on x_index (body);
    ${alike('x_restrictive')} create policy only_bodies on x_restrictive as restrictive to {app} using (body is not null);
    ${alike('c_odd', 'x_policy')}
    create schema mirror;
    create table mirror.y1 (tenant_key text primary key); create table mirror.y2 (tenant_key text primary key, note text);
    grant usage on schema mirror to {app}; grant select on mirror.y1, mirror.y2 to {app};
    create function may_read(name text) returns boolean language sql stable as $$ select name <> '' $$;
    ${alike('z1')} create policy named on z1 for select to {app} using (${check} and may_read('z1'));
    ${alike('z2')} create policy named on z2 for select to {app} using (${check} and may_read('z2'));
    ${alike('y1')} create policy mirrored on y1 for select to {app} using (exists (select 1 from mirror.y1 m where m.tenant_key = y1.tenant_id));
    ${alike('y2')} create policy mirrored on y2 for select to {app} using (exists (select 1 from mirror.y2 m where m.tenant_key = y2.tenant_id));
    ${extra}`,
  sql: '',
});

const members = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'].map((n) => `public.${n}`);
const children = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'].map((n) => `public.${n}`);
// y1 and y2 differ only in that each reads its namesake in schema mirror: two other tables; z1 and
// z2 only in the name their policy passes to a function, which may answer per name.
const odd = ['x_policy', 'x_grant', 'x_trigger', 'x_default', 'x_index', 'x_restrictive', 'c_odd', 'y1', 'y2', 'z1', 'z2'].map((n) => `public.${n}`);

describe('definition classes: tables built alike share probes, and nothing that differs is taken for alike', () => {
  test('tables alike but for their names form one class; a policy, grant, trigger, default, index, parent table a policy reads or name it passes that differs splits them off', async () => {
    const classes = await withCorpusTarget(schema(), ({ target }) =>
      withClient(target.databaseUrl, async (c) => {
        const { rows } = await c.query<{ oid: number; schema: string; name: string }>(
          `select c.oid::int as oid, n.nspname as schema, c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'public' and c.relkind = 'r' and c.relname not in ('tenants', 'kinds')`,
        );
        return findDefinitionClasses(c, new Map(rows.map((r) => [r.oid, { label: `${r.schema}.${r.name}`, schema: r.schema, name: r.name }])));
      }),
    );
    const classOf = (label: string) => classes.find((k) => k.members.includes(label))!;
    expect(classOf('public.n1').members).toEqual(members);
    // Children of alike parents are alike; a child of a parent that differs is not.
    expect(classOf('public.c1').members).toEqual(children);
    for (const label of odd) expect(classOf(label).members, `${label} must stand alone`).toEqual([label]);
    expect(classes).toHaveLength(2 + odd.length);
  });

  test(`green: the alike schema verifies, every definition probed in every run, every table in some (seed=${seed})`, async () => {
    const runs = 6;
    const { sampled, exhaustive } = await withCorpusTarget(schema(), async ({ target }) => ({
      sampled: await verifyTarget(target, { runs, seed }),
      exhaustive: await verifyTarget(target, { runs, seed, exhaustive: true }),
    }));
    expect(sampled.findings.filter((f) => f.leak).map((f) => `${f.checkId} ${f.object}`)).toEqual([]);
    expectEveryRunSawForeignRows(sampled, runs);
    expect(sampled.sampling).toMatchObject({ tables: 23, classes: 13, sharedClasses: 2, tablesPerClass: 2, fullRuns: 1 });
    expect(sampled.sampling!.leastRuns).toBeGreaterThanOrEqual(1);
    expect(sampled.skippedTables).toEqual([]);
    // The exhaustive run probes every table in every run: more probes for the same verdict.
    expect(exhaustive.sampling).toBeNull();
    expect(exhaustive.findings.filter((f) => f.leak)).toEqual([]);
    expect(exhaustive.probes).toBeGreaterThan(sampled.probes);
  });

  test(`red: the one table of seven that has an extra permissive policy is its own class and leaks (seed=${seed})`, async () => {
    const result = await withCorpusTarget(schema({ leak: true }), ({ target }) => verifyTarget(target, { runs: 4, seed }));
    const leaks = result.findings.filter((f) => f.leak);
    expect(leaks.some((f) => f.checkId === 'probe-read-scan' && f.object === 'public.x_policy'), leaks.map((f) => `${f.checkId} ${f.object}`).join('\n')).toBe(true);
    // Its child joins to it: the child's own policy holds, the join shows the parent's rows only.
    expect(leaks.filter((f) => members.includes(f.object) || children.includes(f.object))).toEqual([]);
  });

  test(`red: when every table of a class leaks, each of them is found, not only the ones a later run picked (seed=${seed})`, async () => {
    const open = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'].map((n) => `create policy open_read on ${n} for select to {app} using (true);`).join('\n');
    const result = await withCorpusTarget(schema({ extra: open }), ({ target }) => verifyTarget(target, { runs: 4, seed }));
    const scanned = new Set(result.findings.filter((f) => f.leak && f.checkId === 'probe-read-scan').map((f) => f.object));
    for (const m of members) expect(scanned.has(m), `${m} leaks`).toBe(true);
  });
});
