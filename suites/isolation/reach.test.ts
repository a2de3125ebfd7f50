/**
 * Reach probes leave no trace: with every reach flaw of the schema and database corpora planted at
 * once (and rows already in the tenant tables, so a TRUNCATE that outlived its savepoint would
 * show), each database's catalog, every table's rows and every sequence are the same after verify,
 * and no scratch login is left holding a tenant role.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { scratchDatabase, testServer } from '../../fixtures/index.ts';
import { quoteIdent, targetDefaults, urlFor, verify, verifyTarget, withClient, type TargetConfig } from '../../src/index.ts';
import { databaseCases, schemaCases, tenantTables } from './model-corpus.ts';

const seed = Number(process.env.TENANTPROOF_SEED ?? 20260403);

/** Catalog objects with their ACLs, function sources, and a digest of every table's rows and every sequence. */
async function snapshot(url: string): Promise<Record<string, string>> {
  return withClient(url, async (c) => {
    const out: Record<string, string> = {};
    const user = `n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp_)'`;
    const { rows: rels } = await c.query<{ name: string; kind: string; acl: string | null; rls: boolean }>(
      `select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as name, c.relkind::text as kind, c.relacl::text as acl, c.relrowsecurity as rls
         from pg_class c join pg_namespace n on n.oid = c.relnamespace where ${user} order by 1`,
    );
    for (const r of rels) {
      out[`rel ${r.name}`] = `${r.kind} ${r.acl} ${r.rls}`;
      if (r.kind === 'r' || r.kind === 'm') {
        const { rows } = await c.query<{ h: string }>(`select count(*) || ':' || md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) as h from ${r.name} t`);
        out[`rows ${r.name}`] = rows[0]!.h;
      }
      if (r.kind === 'S') out[`seq ${r.name}`] = JSON.stringify((await c.query(`select last_value, is_called from ${r.name}`)).rows[0]);
    }
    const { rows: fns } = await c.query<{ name: string; acl: string | null; src: string }>(
      `select p.oid::regprocedure::text as name, p.proacl::text as acl, md5(p.prosrc) as src from pg_proc p join pg_namespace n on n.oid = p.pronamespace where ${user} order by 1`,
    );
    for (const f of fns) out[`fn ${f.name}`] = `${f.acl} ${f.src}`;
    const { rows: other } = await c.query<{ k: string }>(
      `select 'schema ' || nspname || ' ' || coalesce(nspacl::text, '') as k from pg_namespace
       union all select 'server ' || srvname || ' ' || coalesce(srvacl::text, '') from pg_foreign_server
       union all select 'mapping ' || srvname || ' ' || usename from pg_user_mappings
       union all select 'database ' || datname || ' ' || coalesce(datacl::text, '') from pg_database where datname = current_database()
       order by 1`,
    );
    out.other = other.map((r) => r.k).join('\n');
    return out;
  });
}

/** The tenant roles, their attributes, and every role holding one of them. */
async function roleSnapshot(adminUrl: string, roles: readonly string[]): Promise<string[]> {
  return withClient(adminUrl, async (c) => {
    const { rows } = await c.query<{ k: string }>(
      `select r.rolname || ' login=' || r.rolcanlogin || ' inherit=' || r.rolinherit as k from pg_roles r where r.rolname = any($1::text[])
       union all
       select m.member::regrole::text || ' in ' || m.roleid::regrole::text from pg_auth_members m
        where m.roleid in (select oid from pg_roles where rolname = any($1::text[]))
       order by 1`,
      [roles],
    );
    return rows.map((r) => r.k);
  });
}

const seedRows = (s: string) => `insert into ${s}.customers (email, name) values ('first@${s.replaceAll('_', '-')}.test', 'First');
  insert into ${s}.orders (customer_id, total_cents, note) select id, 100, 'existing' from ${s}.customers;`;

describe('reach probes leave no trace', () => {
  test(`schema model: views, definer functions, memberships and shared writes, all planted (seed=${seed})`, { timeout: 120_000 }, async () => {
    const { adminUrl } = testServer();
    await using db = await scratchDatabase('rch');
    const p = `tp${randomBytes(3).toString('hex')}`;
    const schemas = ['a', 'b', 'c'].map((t) => `${p}_${t}`);
    const roles = schemas.map((s) => `${s}_role`);
    const flaws = ['shared-definer-view', 'definer-schema-argument', 'role-membership-noinherit', 'shared-writable-table'];
    try {
      await withClient(adminUrl, (cl) => cl.query(roles.map((r) => `create role ${quoteIdent(r)};`).join('')));
      await withClient(db.url, async (cl) => {
        for (const [i, s] of schemas.entries()) {
          await cl.query(`create schema ${s}; ${tenantTables(s)} ${seedRows(s)}
            grant usage on schema ${s} to ${roles[i]}; grant select, insert, update, delete on all tables in schema ${s} to ${roles[i]};`);
        }
        for (const flaw of flaws) await cl.query(schemaCases.find((c) => c.flaw === flaw)!.extra!(schemas, roles));
        await cl.query(`create materialized view public.order_totals as ${schemas.map((s) => `select '${s}' as tenant, sum(total_cents) as total from ${s}.orders`).join(' union all ')};
          grant select on public.order_totals to public;`);
      });
      const before = await snapshot(db.url);
      const rolesBefore = await roleSnapshot(adminUrl, roles);
      const target: TargetConfig = { ...targetDefaults, databaseUrl: db.url, model: 'schema', schemaPattern: `${p}_%`, appRole: roles[0]!, tenantRole: '{tenant}_role' };
      const result = await verifyTarget(target, { runs: 3, seed });
      const found = new Set(result.findings.map((f) => f.checkId));
      for (const id of ['probe-schema-reach-view', 'probe-schema-reach-function', 'probe-schema-set-role', 'probe-schema-shared-write']) expect([...found]).toContain(id);
      // The materialized view is refreshed inside the transaction, so it is judged like a view (and rolled back).
      expect(result.findings.some((f) => f.checkId === 'probe-schema-reach-view' && f.object === 'public.order_totals')).toBe(true);
      expect(await snapshot(db.url)).toEqual(before);
      expect(await roleSnapshot(adminUrl, roles)).toEqual(rolesBefore);
    } finally {
      await db.drop();
      await withClient(adminUrl, (cl) => cl.query(roles.map((r) => `drop role if exists ${quoteIdent(r)};`).join('')));
    }
  });

  test(`database model: real logins, shared databases, memberships and foreign tables, all planted (seed=${seed})`, { timeout: 120_000 }, async () => {
    const { adminUrl } = testServer();
    const p = `tp${randomBytes(3).toString('hex')}`;
    const dbs = ['a', 'b'].map((t) => `${p}_${t}`);
    const roles = dbs.map((d) => `${d}_role`);
    const shared = `sh${p}`;
    const pick = (flaw: string) => databaseCases.find((c) => c.flaw === flaw)!;
    try {
      await withClient(adminUrl, async (cl) => {
        for (const [i, d] of dbs.entries()) {
          await cl.query(`create database ${d}`);
          await cl.query(`create role ${roles[i]}`);
          await cl.query(`grant connect on database ${d} to ${roles[i]}`);
        }
        await cl.query(`create database ${shared}`);
        await cl.query(pick('shared-database-writable').cluster!(dbs, roles, shared));
        await cl.query(pick('role-membership-noinherit').cluster!(dbs, roles, shared));
      });
      for (const [i, d] of dbs.entries()) {
        await withClient(urlFor(adminUrl, d), async (cl) => {
          await cl.query(`${tenantTables('public')} ${seedRows('public')} grant select, insert, update, delete on all tables in schema public to ${roles[i]};`);
          if (i === 0) await cl.query(pick('foreign-server').first!(dbs, roles, new URL(adminUrl)));
        });
      }
      await withClient(urlFor(adminUrl, shared), async (cl) => {
        await cl.query(pick('shared-database-rows').shared!(dbs, roles));
        await cl.query(pick('shared-database-writable').shared!(dbs, roles));
      });
      const all = [...dbs, shared];
      const before = await Promise.all(all.map((d) => snapshot(urlFor(adminUrl, d))));
      const rolesBefore = await roleSnapshot(adminUrl, roles);
      const target: TargetConfig = { ...targetDefaults, databaseUrl: adminUrl, model: 'database', databasePattern: `${p}_%`, tenantRole: '{tenant}_role' };
      const result = await verifyTarget(target, { runs: 3, seed });
      const found = new Set(result.findings.map((f) => f.checkId));
      for (const id of ['probe-database-shared-read', 'probe-database-shared-write', 'probe-database-set-role', 'probe-database-foreign-reach']) expect([...found]).toContain(id);
      expect(await Promise.all(all.map((d) => snapshot(urlFor(adminUrl, d))))).toEqual(before);
      expect(await roleSnapshot(adminUrl, roles)).toEqual(rolesBefore);
    } finally {
      await withClient(adminUrl, async (cl) => {
        for (const d of [...dbs, shared]) await cl.query(`drop database if exists ${d} with (force)`);
        for (const r of roles) await cl.query(`drop role if exists ${r}`);
      });
    }
  });
});

describe('a static finding the probes contradict is downgraded', () => {
  test(`a definer function the catalog suspects but whose result never depends on another tenant; its twin that leaks stays high (seed=${seed})`, { timeout: 120_000 }, async () => {
    const { adminUrl } = testServer();
    await using db = await scratchDatabase('rch');
    const p = `tp${randomBytes(3).toString('hex')}`;
    const schemas = ['a', 'b', 'c'].map((t) => `${p}_${t}`);
    const roles = schemas.map((x) => `${x}_role`);
    try {
      await withClient(adminUrl, (cl) => cl.query(roles.map((r) => `create role ${quoteIdent(r)};`).join('')));
      await withClient(db.url, async (cl) => {
        for (const [i, x] of schemas.entries()) {
          await cl.query(`create schema ${x}; ${tenantTables(x)}
            grant usage on schema ${x} to ${roles[i]}; grant select, insert, update, delete on all tables in schema ${x} to ${roles[i]};`);
        }
        // The static rule reads table names in the source (comments included): it suspects both.
        await cl.query(`
          create function public.plan_names() returns setof text language plpgsql stable security definer set search_path = pg_catalog as $$
            -- plans were once counted from ${schemas[0]}.orders; now a fixed list
            begin return query values ('free'), ('pro'); end $$;`);
      });
      const config = (url: string) => ({
        target: { ...targetDefaults, databaseUrl: url, model: 'schema' as const, schemaPattern: `${p}_%`, appRole: roles[0]!, tenantRole: '{tenant}_role' },
        runs: 3,
        seed,
        reportDir: 'reports/out/reach-downgrade',
        format: 'text' as const,
        failOn: 'high' as const,
        baseline: null,
        updateBaseline: false,
      });
      const clean = await verify(config(db.url));
      const suspected = clean.findings.find((f) => f.checkId === 'security-definer-reads-tenant-data' && f.object === 'function public.plan_names()');
      expect(suspected, `findings: ${clean.findings.map((f) => `${f.checkId} ${f.object} ${f.severity}`).join('; ')}`).toBeDefined();
      expect(suspected!.severity).toBe('info');
      expect((suspected!.observed as { downgradedFrom?: string }).downgradedFrom).toBe('high');
      expect(clean.verdict.exitCode).toBe(0);

      await withClient(db.url, (cl) =>
        cl.query(`create function public.orders_of(s text) returns bigint language plpgsql stable security definer set search_path = pg_catalog as $$
          begin return case s ${schemas.map((x) => `when '${x}' then (select count(*) from ${x}.orders)`).join(' ')} end; end $$;`),
      );
      const leaky = await verify(config(db.url));
      const kept = leaky.findings.find((f) => f.checkId === 'security-definer-reads-tenant-data' && f.object === 'function public.orders_of(s text)');
      expect(kept?.severity).toBe('high');
      expect(leaky.findings.some((f) => f.checkId === 'probe-schema-reach-function' && f.object === 'public.orders_of(text)')).toBe(true);
      expect(leaky.findings.find((f) => f.object === 'function public.plan_names()')?.severity).toBe('info');
      expect(leaky.verdict.exitCode).toBe(1);
    } finally {
      await db.drop();
      await withClient(adminUrl, (cl) => cl.query(roles.map((r) => `drop role if exists ${quoteIdent(r)};`).join('')));
    }
  });
});

describe('a connecting role that cannot open a tenant role\'s session', () => {
  test(`a membership between tenant roles is reported not probed, never verified (seed=${seed})`, { timeout: 120_000 }, async () => {
    const { adminUrl } = testServer();
    await using db = await scratchDatabase('rch');
    const p = `tp${randomBytes(3).toString('hex')}`;
    const schemas = ['a', 'b'].map((t) => `${p}_${t}`);
    const roles = schemas.map((x) => `${x}_role`);
    // Not a superuser: it owns the tenant schemas and may SET ROLE to each tenant role, no more.
    const owner = `${p}_owner`;
    const password = randomBytes(12).toString('hex');
    try {
      await withClient(adminUrl, (cl) =>
        cl.query(`create role ${owner} login password '${password}'; ${roles.map((r) => `create role ${r}; grant ${r} to ${owner};`).join('')}
          grant ${roles[1]} to ${roles[0]};`),
      );
      await withClient(db.url, async (cl) => {
        await cl.query(`grant create on database ${quoteIdent(db.name)} to ${owner}; set role ${owner};`);
        for (const [i, x] of schemas.entries()) {
          await cl.query(`create schema ${x}; ${tenantTables(x)}
            grant usage on schema ${x} to ${roles[i]}; grant select, insert, update, delete on all tables in schema ${x} to ${roles[i]};`);
        }
      });
      const url = urlFor(db.url, db.name, { user: owner, password });
      const target: TargetConfig = { ...targetDefaults, databaseUrl: url, model: 'schema', schemaPattern: `${p}_%`, appRole: roles[0]!, tenantRole: '{tenant}_role' };
      const result = await verifyTarget(target, { runs: 2, seed });
      expect(result.findings.filter((f) => f.checkId === 'probe-schema-set-role')).toEqual([]);
      const notActed = result.probesNotActed.filter((n) => n.checkId === 'probe-schema-set-role');
      expect(notActed.map((n) => n.object)).toEqual([`role ${roles[1]}`]);
      expect(notActed[0]!.reason).toContain(`${roles[0]} → member of ${roles[1]}`);
    } finally {
      await db.drop();
      await withClient(adminUrl, (cl) => cl.query([...roles, owner].map((r) => `drop role if exists ${quoteIdent(r)};`).join('')));
    }
  });
});
