/**
 * The schema-per-tenant and database-per-tenant corpora: correct layouts, and layouts carrying one
 * flaw each with the probe checks that must find it (models.test.ts runs them; probe-corpus.test.ts
 * checks that every probe id of these models has a red case here).
 */
import type { ProbeId } from '../../src/index.ts';

export const tenantTables = (s: string) => `
create table ${s}.customers (id bigint generated always as identity primary key, email text not null unique, name text not null);
create table ${s}.orders (id serial primary key, customer_id bigint not null references ${s}.customers(id),
  total_cents int not null check (total_cents >= 0), note text);`;

export interface SchemaCase {
  name: string;
  flaw: string | null;
  shared?: boolean;
  /** Each schema's tables carry tenant_id pinned by CHECK to that schema's own tenant id. */
  pinned?: boolean;
  extra?: (schemas: string[], roles: string[]) => string;
  /** Every one of these checks must be found on the object (one of the schemas' tables). */
  expect?: {
    checkIds: readonly ProbeId[];
    object: (schemas: string[]) => string;
    /** The evidence path (observed.path) the finding on the object must carry, from the acting role to the victim's data. */
    path?: (schemas: string[], roles: string[]) => string;
  };
  /** Other objects the flaw rightly reaches; a finding on any object not named is refused as spurious. */
  alsoFound?: (schemas: string[]) => string[];
}

export const schemaCases: SchemaCase[] = [
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
    expect: { checkIds: ['probe-schema-read'], object: (s) => `${s[2]}.orders` },
  },
  {
    name: 'a tenant table granted to PUBLIC',
    flaw: 'public-grant',
    extra: (s) => `grant usage on schema ${s[1]} to public; grant select on ${s[1]}.customers to public;`,
    expect: { checkIds: ['probe-schema-read'], object: (s) => `${s[1]}.customers` },
  },
  {
    name: "a grant into another tenant's schema",
    flaw: 'cross-grant',
    extra: (s, r) => `grant usage on schema ${s[1]} to ${r[0]}; grant delete on ${s[1]}.orders to ${r[0]};`,
    expect: { checkIds: ['probe-schema-delete'], object: (s) => `${s[1]}.orders` },
  },
  {
    name: "INSERT and UPDATE granted into another tenant's schema",
    flaw: 'cross-grant-write',
    extra: (s, r) => `grant usage on schema ${s[1]} to ${r[0]}; grant insert, update on ${s[1]}.orders to ${r[0]};`,
    expect: { checkIds: ['probe-schema-update', 'probe-schema-insert'], object: (s) => `${s[1]}.orders` },
  },
  {
    // Tenant tables made from a template by INHERITS: the parent's scans include the children's
    // rows, checked against the parent's privileges only.
    name: "another tenant's table inherits from this tenant's (INHERITS)",
    flaw: 'inherited-table',
    extra: (s) => `alter table ${s[1]}.orders inherit ${s[0]}.orders;`,
    expect: { checkIds: ['probe-schema-read-unqualified'], object: (s) => `${s[0]}.orders` },
  },
  {
    name: 'correct: an invoker helper in public reads the caller\'s own schema through search_path',
    flaw: null,
    extra: () => `
      create function public.my_order_total() returns bigint language plpgsql stable as $$
        begin return (select coalesce(sum(total_cents), 0) from orders); end $$;
      create function public.order_count_in(s text) returns bigint language plpgsql as $$
        declare n bigint; begin execute format('select count(*) from %I.orders', s) into n; return n; end $$;`,
  },
  {
    name: 'correct: a shared read-only lookup table (and a view over it) granted to PUBLIC',
    flaw: null,
    extra: () => `
      create table public.currencies (code text primary key, name text not null);
      insert into public.currencies values ('EUR', 'Euro'), ('USD', 'US dollar');
      create view public.currency_codes as select code from public.currencies;
      grant select on public.currencies, public.currency_codes to public;`,
  },
  {
    name: 'correct: a SECURITY DEFINER function in public that reads only the caller\'s own schema (from session_user)',
    flaw: null,
    extra: () => `
      create function public.my_order_count() returns bigint language plpgsql stable security definer set search_path = pg_catalog as $$
        declare s text; n bigint;
        begin
          select nspname into strict s from pg_namespace where nspname || '_role' = session_user;
          execute format('select count(*) from %I.orders', s) into n;
          return n;
        end $$;`,
  },
  {
    name: 'a reporting view in public over every tenant schema, owned by the owner and granted to PUBLIC',
    flaw: 'shared-definer-view',
    extra: (s) => `
      create view public.all_orders as ${s.map((schema) => `select '${schema}' as tenant, id, total_cents from ${schema}.orders`).join(' union all ')};
      grant select on public.all_orders to public;`,
    expect: {
      checkIds: ['probe-schema-reach-view'],
      object: () => 'public.all_orders',
      path: () => `SELECT on public.all_orders (view owned by`,
    },
  },
  {
    name: 'a SECURITY DEFINER function in public reads any schema named by its argument (EXECUTE left to PUBLIC)',
    flaw: 'definer-schema-argument',
    extra: () => `
      create function public.order_count(s text) returns bigint language plpgsql security definer as $$
        declare n bigint; begin execute format('select count(*) from %I.orders', s) into n; return n; end $$;`,
    expect: {
      checkIds: ['probe-schema-reach-function'],
      object: () => 'public.order_count(text)',
      path: () => 'EXECUTE public.order_count(text) (SECURITY DEFINER, runs as',
    },
  },
  {
    name: 'one tenant role granted another (INHERIT)',
    flaw: 'role-membership',
    extra: (_s, r) => `grant ${r[1]} to ${r[0]};`,
    expect: { checkIds: ['probe-schema-set-role'], object: (s) => `role ${s[1]}_role`, path: (s, r) => `${r[0]} → member of ${r[1]} → ${s[1]}.` },
    // Inherited privileges also show as direct reads and writes of the other tenant's tables.
    alsoFound: (s) => [`${s[1]}.customers`, `${s[1]}.orders`],
  },
  {
    name: 'one tenant role granted another without INHERIT (SET ROLE still works)',
    flaw: 'role-membership-noinherit',
    extra: (_s, r) => `alter role ${r[0]} noinherit; grant ${r[1]} to ${r[0]};`,
    expect: { checkIds: ['probe-schema-set-role'], object: (s) => `role ${s[1]}_role`, path: (s, r) => `${r[0]} → member of ${r[1]} → ${s[1]}.` },
  },
  {
    name: 'a shared price list in public writable by every role',
    flaw: 'shared-writable-table',
    extra: () => `
      create table public.prices (sku text primary key, cents int not null);
      insert into public.prices values ('basic', 100);
      grant select, insert, update, delete on public.prices to public;`,
    expect: { checkIds: ['probe-schema-shared-write'], object: () => 'public.prices', path: (_s, r) => ` → ` },
  },
  {
    name: 'one shared role for every schema (search_path is the only boundary)',
    flaw: 'shared-role',
    shared: true,
    expect: { checkIds: ['probe-schema-read', 'probe-schema-update', 'probe-schema-delete', 'probe-schema-insert'], object: () => '.customers' },
    // The shared role reaches every table of every schema.
    alsoFound: (s) => s.map((schema) => `${schema}.orders`),
  },
];

export interface DatabaseCase {
  name: string;
  flaw: string | null;
  /** SQL run in the second tenant's database. */
  extra?: string;
  /** SQL run in the first tenant's database (`admin`: the test server's admin URL, for a foreign server's options). */
  first?: (dbs: string[], roles: string[], admin: URL) => string;
  /** SQL run on the cluster (in the admin database) once the tenant databases and roles exist. */
  cluster?: (dbs: string[], roles: string[], shared: string) => string;
  /** SQL run in a shared database (not a tenant one) that the case creates, named by the third argument. */
  shared?: (dbs: string[], roles: string[]) => string;
  keepPublicConnect?: boolean;
  /** Every one of these checks must be found on the object. */
  expect?: {
    checkIds: readonly ProbeId[];
    object: (dbs: string[], shared: string) => string;
    /** The evidence path (observed.path) a finding on the object must carry. */
    path?: (dbs: string[], roles: string[], shared: string) => string;
  };
  /** Other objects the flaw rightly reaches; a finding on any object not named is refused as spurious. */
  alsoFound?: (dbs: string[], shared: string) => string[];
}

export const databaseCases: DatabaseCase[] = [
  { name: 'correct: CONNECT and tables for the own role only', flaw: null },
  {
    name: 'CONNECT left to PUBLIC',
    flaw: 'connect-public',
    keepPublicConnect: true,
    // A scratch login holding the first tenant's role really logs in to the second's database.
    expect: { checkIds: ['probe-database-connect'], object: (d) => d[1]!, path: (d, r) => `${r[0]} → CONNECT on database ${d[1]}` },
    // Both tenant databases keep CONNECT for PUBLIC.
    alsoFound: (d) => [d[0]!],
  },
  {
    name: 'a table granted to PUBLIC inside a tenant database',
    flaw: 'table-public',
    extra: 'grant select on public.customers to public;',
    expect: { checkIds: ['probe-database-read'], object: (d) => `${d[1]}:public.customers` },
  },
  {
    name: 'writes on a table granted to PUBLIC inside a tenant database',
    flaw: 'table-public-write',
    extra: 'grant insert, update, delete on public.orders to public;',
    expect: { checkIds: ['probe-database-update', 'probe-database-delete', 'probe-database-insert'], object: (d) => `${d[1]}:public.orders` },
  },
  {
    // dblink's functions are executable by PUBLIC once the extension is created.
    name: 'dblink installed in a tenant database',
    flaw: 'dblink',
    extra: 'create extension dblink;',
    expect: { checkIds: ['probe-database-cross-reach'], object: (d) => d[1]! },
  },
  {
    name: 'correct: a shared read-only lookup database every tenant role can connect to',
    flaw: null,
    shared: () => `
      create table public.currencies (code text primary key, name text not null);
      insert into public.currencies values ('EUR', 'Euro'), ('USD', 'US dollar');
      grant select on public.currencies to public;`,
  },
  {
    name: "a shared database holding every tenant's usage rows, readable by every tenant role",
    flaw: 'shared-database-rows',
    shared: (d) => `
      create table public.usage (tenant text not null, amount int not null);
      insert into public.usage values ${d.map((x, i) => `('${x}', ${i + 1})`).join(', ')};
      grant select on public.usage to public;`,
    expect: {
      checkIds: ['probe-database-shared-read'],
      object: (_d, sh) => `${sh}:public.usage`,
      path: (_d, _r, sh) => `CONNECT on database ${sh} → SELECT on public.usage → rows of`,
    },
  },
  {
    name: 'a shared database granted to the tenant roles, with a price list every role can write',
    flaw: 'shared-database-writable',
    cluster: (_d, r, sh) => `grant connect on database ${sh} to ${r.join(', ')};`,
    shared: () => `
      create table public.prices (sku text primary key, cents int not null);
      insert into public.prices values ('basic', 100);
      grant select, insert, update, delete on public.prices to public;`,
    expect: { checkIds: ['probe-database-shared-write'], object: (_d, sh) => `${sh}:public.prices`, path: (_d, r, sh) => `${r[0]} → CONNECT on database ${sh} →` },
  },
  {
    name: "one tenant role granted another's (INHERIT)",
    flaw: 'role-membership',
    cluster: (_d, r) => `grant ${r[1]} to ${r[0]};`,
    expect: { checkIds: ['probe-database-set-role'], object: (d) => `role ${d[1]}_role`, path: (d, r) => `${r[0]} → member of ${r[1]} → database ${d[1]}` },
    // Inheriting the other role, the first tenant also connects to the second's database and uses its tables.
    alsoFound: (d) => [d[1]!, `${d[1]}:public.customers`, `${d[1]}:public.orders`],
  },
  {
    name: "one tenant role granted another's without INHERIT (SET ROLE still works)",
    flaw: 'role-membership-noinherit',
    cluster: (_d, r) => `alter role ${r[0]} noinherit; grant ${r[1]} to ${r[0]};`,
    expect: { checkIds: ['probe-database-set-role'], object: (d) => `role ${d[1]}_role`, path: (d, r) => `${r[0]} → member of ${r[1]} → database ${d[1]}` },
  },
  {
    // postgres_fdw ships with PostgreSQL (Debian's 15 and embedded 18 alike).
    name: "a foreign table in one tenant's database reads the other's through postgres_fdw (user mapping for PUBLIC)",
    flaw: 'foreign-server',
    first: (d, _r, admin) => `
      create extension postgres_fdw;
      create server other_tenant foreign data wrapper postgres_fdw options (host '${admin.hostname}', port '${admin.port || 5432}', dbname '${d[1]}');
      create user mapping for public server other_tenant options (user '${decodeURIComponent(admin.username)}', password '${decodeURIComponent(admin.password)}', password_required 'false');
      create foreign table public.other_orders (id int, total_cents int) server other_tenant options (schema_name 'public', table_name 'orders');
      grant select on public.other_orders to public;`,
    expect: {
      checkIds: ['probe-database-foreign-reach'],
      object: (d) => `${d[0]}:public.other_orders`,
      path: (d, r) => `${r[0]} → SELECT on ${d[0]}:public.other_orders → server other_tenant (dbname=${d[1]}, user mapping for public) → ${d[1]}:public.orders`,
    },
    // The catalog rule over cross-database extensions names the database holding postgres_fdw too.
    alsoFound: (d) => [d[0]!],
  },
];

