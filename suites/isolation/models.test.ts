/**
 * Schema-per-tenant and database-per-tenant corpora: correct layouts must verify, and each flaw
 * (a grant to PUBLIC, a grant across tenants, a shared role, CONNECT left to PUBLIC) must be found.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { scratchDatabase, testServer } from '../../fixtures/index.ts';
import { pinnedValue, quoteIdent, targetDefaults, urlFor, verifyTarget, withClient, type TargetConfig } from '../../src/index.ts';
import { expectEveryRunSawForeignRows } from './harness.ts';

const seed = Number(process.env.TENANTPROOF_SEED ?? 20260403);
const runs = Number(process.env.TENANTPROOF_RUNS ?? 4);

const tenantTables = (s: string) => `
create table ${s}.customers (id bigint generated always as identity primary key, email text not null unique, name text not null);
create table ${s}.orders (id serial primary key, customer_id bigint not null references ${s}.customers(id),
  total_cents int not null check (total_cents >= 0), note text);`;

interface SchemaCase {
  name: string;
  flaw: string | null;
  shared?: boolean;
  /** Each schema's tables carry tenant_id pinned by CHECK to that schema's own tenant id. */
  pinned?: boolean;
  extra?: (schemas: string[], roles: string[]) => string;
  expect?: { checkId: string; object: (schemas: string[]) => string };
  /** Other objects the flaw rightly reaches; a finding on any object not named is refused as spurious. */
  alsoFound?: (schemas: string[]) => string[];
}

const schemaCases: SchemaCase[] = [
  { name: 'correct: one role per tenant schema', flaw: null },
  { name: 'correct: tenant_id pinned by CHECK to the schema\'s own tenant', flaw: null, pinned: true },
  {
    name: 'correct: a trigger copies members into a global directory whose foreign key the tenant table does not show',
    flaw: null,
    extra: (s, r) => `
      create table public.people (id bigint primary key);
      create table public.directory (person_id bigint not null references public.people (id));
      create function public.to_directory() returns trigger language plpgsql security definer set search_path = pg_catalog as $$
        begin insert into public.directory values (new.person_id); return new; end $$;
      ${s.map((schema, i) => `create table ${schema}.members (person_id bigint primary key);
        create trigger to_directory after insert on ${schema}.members for each row execute function public.to_directory();
        grant select, insert, update, delete on ${schema}.members to ${r[i]};`).join('\n')}`,
  },
  {
    name: 'tenant_id pinned, and a tenant table granted to PUBLIC',
    flaw: 'public-grant-pinned',
    pinned: true,
    extra: (s) => `grant usage on schema ${s[2]} to public; grant select on ${s[2]}.orders to public;`,
    expect: { checkId: 'probe-schema-read', object: (s) => `${s[2]}.orders` },
  },
  {
    name: 'a tenant table granted to PUBLIC',
    flaw: 'public-grant',
    extra: (s) => `grant usage on schema ${s[1]} to public; grant select on ${s[1]}.customers to public;`,
    expect: { checkId: 'probe-schema-read', object: (s) => `${s[1]}.customers` },
  },
  {
    name: "a grant into another tenant's schema",
    flaw: 'cross-grant',
    extra: (s, r) => `grant usage on schema ${s[1]} to ${r[0]}; grant delete on ${s[1]}.orders to ${r[0]};`,
    expect: { checkId: 'probe-schema-delete', object: (s) => `${s[1]}.orders` },
  },
  {
    name: 'one shared role for every schema (search_path is the only boundary)',
    flaw: 'shared-role',
    shared: true,
    expect: { checkId: 'probe-schema-read', object: () => '.customers' },
    // The shared role reaches every table of every schema.
    alsoFound: (s) => s.map((schema) => `${schema}.orders`),
  },
];

describe('schema model corpus', () => {
  for (const c of schemaCases) {
    test(`${c.flaw ? `flaw ${c.flaw}` : 'correct'}: ${c.name} (seed=${seed})`, async () => {
      const { adminUrl } = testServer();
      await using db = await scratchDatabase('sch');
      const p = `tp${randomBytes(3).toString('hex')}`;
      const schemas = ['a', 'b', 'c'].map((t) => `${p}_${t}`);
      const roles = schemas.map((s) => `${s}_role`);
      const shared = `${p}_shared`;
      const pins = schemas.map(() => randomUUID());
      try {
        await withClient(adminUrl, (cl) => cl.query([...roles, shared].map((r) => `create role ${quoteIdent(r)};`).join('')));
        await withClient(db.url, async (cl) => {
          for (const [i, s] of schemas.entries()) {
            const pin = c.pinned ? `alter table ${s}.customers add column tenant_id uuid not null check (tenant_id = '${randomUUID()}');
              alter table ${s}.orders add column tenant_id uuid not null check (tenant_id = '${randomUUID()}'::uuid);` : '';
            await cl.query(`create schema ${s}; ${tenantTables(s)} ${pin.replace(/'[0-9a-f-]{36}'/g, `'${pins[i]}'`)}
              grant usage on schema ${s} to ${roles[i]}; grant select, insert, update, delete on all tables in schema ${s} to ${roles[i]};
              grant usage on schema ${s} to ${shared}; ${c.shared ? `grant select, insert, update, delete on all tables in schema ${s} to ${shared};` : ''}`);
          }
          if (c.extra) await cl.query(c.extra(schemas, roles));
        });
        const target: TargetConfig = {
          ...targetDefaults,
          databaseUrl: db.url,
          model: 'schema',
          schemaPattern: `${p}_%`,
          appRole: shared,
          tenantRole: c.shared ? null : '{tenant}_role',
        };
        const result = await verifyTarget(target, { runs, seed });
        expect(result.skippedTables.map((t) => `${t.table}: ${t.reason}`)).toEqual([]);
        expectEveryRunSawForeignRows(result, runs);
        const summary = result.findings.map((f) => `${f.checkId} ${f.object}`);
        if (!c.expect) expect(summary).toEqual([]);
        else {
          const wanted = c.expect.object(schemas);
          // The shared-role flaw is in every schema: whichever schemas the shrunk world kept.
          const hit = summary.find((f) => f.startsWith(`${c.expect!.checkId} `) && f.endsWith(wanted));
          expect(hit, summary.join('; ')).toBeDefined();
          const allowed = new Set(c.alsoFound?.(schemas) ?? []);
          const spurious = result.findings.filter((f) => !f.object.endsWith(wanted) && !allowed.has(f.object)).map((f) => `${f.checkId} ${f.object}`);
          expect(spurious, `findings on objects the flaw does not reach: ${spurious.join('; ')}`).toEqual([]);
        }
      } finally {
        await db.drop();
        await withClient(adminUrl, (cl) => cl.query([...roles, shared].map((r) => `drop role if exists ${quoteIdent(r)};`).join('')));
      }
    });
  }
});

test('a pinned tenant column is read from its CHECK, and nothing looser counts as a pin', () => {
  expect(pinnedValue(`CHECK ((tenant_id = '5f0c0e1a-0000-4000-8000-000000000001'::uuid))`, 'tenant_id')).toBe('5f0c0e1a-0000-4000-8000-000000000001');
  expect(pinnedValue(`CHECK ((tenant_id = 'o''brien'::text))`, 'tenant_id')).toBe("o'brien");
  expect(pinnedValue(`CHECK (("Tenant" = 'acme'::text))`, 'Tenant')).toBe('acme');
  expect(pinnedValue(`CHECK ((tenant_id <> 'acme'::text))`, 'tenant_id')).toBeNull();
  expect(pinnedValue(`CHECK (((tenant_id = 'a'::text) OR (tenant_id = 'b'::text)))`, 'tenant_id')).toBeNull();
  expect(pinnedValue(`CHECK ((other_id = 'a'::text))`, 'tenant_id')).toBeNull();
});

interface DatabaseCase {
  name: string;
  flaw: string | null;
  /** SQL run in the second tenant's database. */
  extra?: string;
  keepPublicConnect?: boolean;
  expect?: { checkId: string; object: (dbs: string[]) => string };
  /** Other objects the flaw rightly reaches; a finding on any object not named is refused as spurious. */
  alsoFound?: (dbs: string[]) => string[];
}

const databaseCases: DatabaseCase[] = [
  { name: 'correct: CONNECT and tables for the own role only', flaw: null },
  {
    name: 'CONNECT left to PUBLIC',
    flaw: 'connect-public',
    keepPublicConnect: true,
    expect: { checkId: 'probe-database-connect', object: (d) => d[1]! },
    // Both tenant databases keep CONNECT for PUBLIC.
    alsoFound: (d) => [d[0]!],
  },
  {
    name: 'a table granted to PUBLIC inside a tenant database',
    flaw: 'table-public',
    extra: 'grant select on public.customers to public;',
    expect: { checkId: 'probe-database-read', object: (d) => `${d[1]}:public.customers` },
  },
];

describe('database model corpus', () => {
  for (const c of databaseCases) {
    test(`${c.flaw ? `flaw ${c.flaw}` : 'correct'}: ${c.name} (seed=${seed})`, async () => {
      const { adminUrl } = testServer();
      const p = `tp${randomBytes(3).toString('hex')}`;
      const dbs = ['a', 'b'].map((t) => `${p}_${t}`);
      const roles = dbs.map((d) => `${d}_role`);
      try {
        await withClient(adminUrl, async (cl) => {
          for (const [i, d] of dbs.entries()) {
            await cl.query(`create database ${d}`);
            await cl.query(`create role ${roles[i]}`);
            if (!c.keepPublicConnect) await cl.query(`revoke connect on database ${d} from public`);
            await cl.query(`grant connect on database ${d} to ${roles[i]}`);
          }
        });
        for (const [i, d] of dbs.entries()) {
          await withClient(urlFor(adminUrl, d), async (cl) => {
            await cl.query(`${tenantTables('public')} grant select, insert, update, delete on all tables in schema public to ${roles[i]};`);
            if (c.extra && i === 1) await cl.query(c.extra);
          });
        }
        const target: TargetConfig = { ...targetDefaults, databaseUrl: adminUrl, model: 'database', databasePattern: `${p}_%`, tenantRole: '{tenant}_role' };
        const result = await verifyTarget(target, { runs, seed });
        expectEveryRunSawForeignRows(result, runs);
        const summary = result.findings.map((f) => `${f.checkId} ${f.object}`);
        if (!c.expect) expect(summary).toEqual([]);
        else {
          expect(summary).toContain(`${c.expect.checkId} ${c.expect.object(dbs)}`);
          const allowed = new Set([c.expect.object(dbs), ...(c.alsoFound?.(dbs) ?? [])]);
          const spurious = result.findings.filter((f) => !allowed.has(f.object)).map((f) => `${f.checkId} ${f.object}`);
          expect(spurious, `findings on objects the flaw does not reach: ${spurious.join('; ')}`).toEqual([]);
        }
      } finally {
        await withClient(adminUrl, async (cl) => {
          for (const d of dbs) await cl.query(`drop database if exists ${d} with (force)`);
          for (const r of roles) await cl.query(`drop role if exists ${r}`);
        });
      }
    });
  }
});
