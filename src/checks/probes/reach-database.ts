/**
 * Reach probes of the database model: where a tenant's role gets in, tried for real rather than
 * read from the privilege catalog.
 *
 * - Logins: a scratch LOGIN role holding the tenant's role (created by tenantproof with a random
 *   password and dropped at the end, whatever happens) logs in to its own database, then to every
 *   database of the cluster its CONNECT privilege admits (one the privilege refuses, PostgreSQL
 *   refuses at login by that same check).
 *   Another tenant's database that lets it in is `probe-database-connect`; a database outside the
 *   tenant databases ("shared") is read as that login: rows naming another tenant are
 *   `probe-database-shared-read`, and its tables the login can write (in a rolled-back
 *   transaction) are `probe-database-shared-write` when the database is shared by the tenants (it
 *   names them, or grants CONNECT to a tenant role by name).
 * - Roles: in a session of the tenant's role, SET ROLE into every other tenant role the catalog
 *   shows it a member of (`probe-database-set-role`).
 * - Foreign tables in the tenant's database whose server points at another tenant's database,
 *   read as the tenant's role (`probe-database-foreign-reach`).
 * - dblink / postgres_fdw functions and foreign servers the tenant's role may use in its own
 *   database (`probe-database-cross-reach`, run at the end of `probeDatabaseReach`).
 *
 * When the connecting role cannot create a login (no CREATEROLE, or no ADMIN on the tenant role)
 * or the server refuses the login's password, CONNECT falls back to the catalog
 * (has_database_privilege) and the shared databases are reported as not probed.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { membershipPath, type ReachCatalog } from '../../catalog/reach.ts';
import { describeError } from '../../errors.ts';
import { quoteIdent, quoteLiteral, urlFor, withClient, type Queryable } from '../../target/connection.ts';
import { tenantRoleFor } from '../../target/context.ts';
import type { TargetConfig } from '../../target/types.ts';
import type { WorldPlan } from '../../world/plan.ts';
import { defineProbeChecks } from './define.ts';
import type { ProbeId, ProbeObservation } from './registry.ts';

/** The checks of the reach probes below. */
export const databaseReachChecks = defineProbeChecks({
  'probe-database-connect': {
    title: "A tenant's role may connect to another tenant's database",
    finding: "Tenant {acting}'s role may connect to tenant {object}'s database",
    severity: 'high',
    leakClass: 'privilege',
    leak: false,
    cwe: 'CWE-284',
    models: ['database'],
    description:
      "A scratch LOGIN role holding each tenant's role (created and dropped by tenantproof) logs in to each other tenant's database; where no login can be created, has_database_privilege(CONNECT) says it instead. A tenant that can connect is one grant away from the other's data.",
    remediation: `REVOKE CONNECT ON DATABASE {object} FROM PUBLIC (and from {actingRole}); GRANT CONNECT only to {victimRole}.`,
  },
  'probe-database-cross-reach': {
    title: "A tenant's role can reach other databases from its own",
    finding: "Tenant {acting}'s role can reach other databases from its own (dblink/postgres_fdw)",
    severity: 'high',
    leakClass: 'privilege',
    leak: false,
    cwe: 'CWE-284',
    models: ['database'],
    description: "In each tenant's database, the dblink / postgres_fdw functions and foreign servers the tenant's role may use: with them a tenant opens connections to other tenants' databases from inside its own.",
    remediation: `Revoke EXECUTE on dblink functions and USAGE on foreign servers from {actingRole} (and PUBLIC) in {object}, or drop the extensions.`,
  },
  'probe-database-set-role': {
    title: "A tenant's role can become another tenant's role (database model)",
    finding: "Tenant {acting}'s role can SET ROLE to tenant {victim}'s role",
    severity: 'critical',
    leakClass: 'privilege',
    leak: true,
    cwe: 'CWE-269',
    models: ['database'],
    description:
      "In a session of each tenant's role, SET ROLE to every other tenant's role the catalog shows it a member of (directly or through a chain, with or without INHERIT): one that succeeds connects to the other tenant's database and reads its tables as that tenant.",
    remediation: `{path}: REVOKE {victimRole} FROM {actingRole} (and break every chain between tenant roles).`,
  },
  'probe-database-shared-read': {
    title: "A shared database shows a tenant other tenants' data",
    finding: "Tenant {acting} reads rows naming tenant {victim} in {object}",
    severity: 'critical',
    leakClass: 'read',
    leak: true,
    cwe: 'CWE-863',
    models: ['database'],
    description:
      "Logged in for real as a scratch login holding each tenant's role (created and dropped by tenantproof), connect to every database outside the tenant databases that it can reach and read every table and view it may SELECT: rows naming another tenant (its database or role name, or a tenant column with other tenants' values) are that tenant's data crossing into this one's reach.",
    remediation: `REVOKE CONNECT ON DATABASE {database} FROM PUBLIC and REVOKE SELECT ON {table} FROM PUBLIC and from {actingRole}; per-tenant data in a shared database needs row level security keyed by the tenant, or a database per tenant.`,
  },
  'probe-database-shared-write': {
    title: "A tenant's role can write a table in a database every tenant reaches",
    finding: "Tenant {acting}'s role can write the shared table {object}",
    severity: 'high',
    leakClass: 'write',
    leak: true,
    cwe: 'CWE-732',
    models: ['database'],
    description:
      "Logged in as a scratch login holding each tenant's role, write (rolled back) every table of a shared database (one holding other tenants' names, or granted to a tenant role by name) that it may INSERT, UPDATE, DELETE or TRUNCATE: a tenant that can write it changes what every tenant sees.",
    remediation: `REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {table} FROM PUBLIC and from {actingRole} in database {database} ({privileges} was granted).`,
  },
  'probe-database-foreign-reach': {
    title: "A tenant's role reads another tenant's database through a foreign server",
    finding: "Tenant {acting} reaches tenant {victim}'s database through {object}",
    severity: 'critical',
    leakClass: 'read',
    leak: false,
    cwe: 'CWE-284',
    models: ['database'],
    description:
      "In each tenant's database, as its role, read every foreign table it may SELECT whose server points at another tenant's database (and, with dblink, open the server): a query that succeeds runs in the other tenant's database with the user mapping's credentials. (Rows the probe's own world wrote are uncommitted and invisible there, so success, not a row count, is the evidence.)",
    remediation: `{path}: DROP the user mapping (or the foreign server) and REVOKE USAGE ON FOREIGN SERVER {server} FROM PUBLIC and {actingRole}; no tenant database may hold credentials for another.`,
  },
});

const q = quoteIdent;

export interface DatabaseReachContext {
  readonly q: Queryable;
  readonly target: TargetConfig;
  readonly dbs: readonly { readonly name: string; readonly url: string; readonly plan: WorldPlan }[];
  readonly reach: ReachCatalog;
  readonly observe: (o: ProbeObservation) => void;
  readonly couldNotAct: (object: string, checkId: ProbeId, reason: string) => void;
  readonly stats: { probes: number };
  /** An open connection (as the connecting role, outside any transaction) to a tenant database, when the caller has one. */
  readonly clientOf?: (database: string) => Queryable | undefined;
}

type LoginOutcome = { ok: true; client: pg.Client } | { ok: false; code: string; message: string };

async function logIn(url: string): Promise<LoginOutcome> {
  const client = new pg.Client({ connectionString: url, application_name: 'tenantproof', connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return { ok: true, client };
  } catch (error) {
    await client.end().catch(() => undefined);
    const e = error as { code?: string; message?: string };
    return { ok: false, code: e.code ?? 'connection', message: e.message ?? String(error) };
  }
}

/** Every database of the cluster a login could try: not templates, accepting connections. */
async function clusterDatabases(q: Queryable): Promise<{ name: string; grantedTo: string[] }[]> {
  const { rows } = await q.query<{ name: string; grantedTo: string[] }>(
    `select d.datname as name,
            array(select pg_get_userbyid(x.grantee)::text from aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) x
                   where x.privilege_type = 'CONNECT' and x.grantee <> 0) as "grantedTo"
       from pg_database d where d.datallowconn and not d.datistemplate order by 1`,
  );
  return rows;
}

/** Runs every database reach probe; never leaves the scratch login behind. */
export async function probeDatabaseReach(ctx: DatabaseReachContext): Promise<void> {
  await probeRoleMemberships(ctx);
  await probeForeignTables(ctx);
  const login = `tenantproof_login_${randomBytes(5).toString('hex')}`;
  const password = randomBytes(18).toString('base64url');
  const databases = await clusterDatabases(ctx.q);
  const tenantNames = new Set(ctx.dbs.map((d) => d.name));
  for (const a of ctx.dbs) {
    const role = tenantRoleFor(ctx.target, a.name);
    let created = false;
    try {
      try {
        await ctx.q.query(`create role ${q(login)} login inherit password ${quoteLiteral(password)}`);
        created = true;
        // The login holds the tenant role as a real login of the tenant would (inheriting its privileges).
        await ctx.q.query(`grant ${q(role)} to ${q(login)}`);
      } catch (error) {
        await fallBackToCatalog(ctx, a.name, `cannot create a scratch login holding ${role}: ${describeError(error)}`);
        continue;
      }
      const own = await logIn(urlFor(ctx.target.databaseUrl, a.name, { user: login, password }));
      if (!own.ok) {
        await fallBackToCatalog(ctx, a.name, `a scratch login holding ${role} cannot log in to its own database ${a.name}: ${own.message}`);
        continue;
      }
      await own.client.end().catch(() => undefined);
      // PostgreSQL's own check at login is the login role's CONNECT privilege: a database the
      // catalog refuses it would refuse the login too, so only the others are logged in to.
      const { rows: open } = await ctx.q.query<{ name: string }>(
        // By oid: a database dropped meanwhile (another tool's scratch database) just drops out.
        `select datname as name from pg_database where datname = any($2::text[]) and has_database_privilege($1, oid, 'CONNECT')`,
        [login, databases.map((d) => d.name)],
      );
      const connectable = new Set(open.map((o) => o.name));
      for (const d of databases) {
        if (d.name === a.name || !connectable.has(d.name)) continue;
        ctx.stats.probes += 1;
        const other = await logIn(urlFor(ctx.target.databaseUrl, d.name, { user: login, password }));
        if (!other.ok) continue; // refused: permission denied for database (or pg_hba)
        try {
          if (tenantNames.has(d.name)) {
            ctx.observe(
              databaseReachChecks.finding('probe-database-connect', {
                object: d.name,
                actingTenant: a.name,
                victimTenant: d.name,
                statement: `-- logged in as a LOGIN role holding ${role}: psql "dbname=${d.name} user=<a login of ${role}>"`,
                observed: { loggedIn: true, path: `${role} → CONNECT on database ${d.name} (${d.grantedTo.includes(role) ? `granted to ${role}` : 'granted to PUBLIC or a role it holds'})` },
                expected: 'permission denied for database',
                vars: { actingRole: role, victimRole: tenantRoleFor(ctx.target, d.name) },
              }),
            );
          } else {
            await probeSharedDatabase(ctx, other.client, a.name, role, d, tenantNames).catch((error: unknown) => {
              // The database went away under the probe (dropped, or the server ended the session).
              ctx.couldNotAct(`database ${d.name}`, 'probe-database-shared-read', `the session of a login holding ${role} ended while reading it: ${describeError(error)}`);
            });
          }
        } finally {
          await other.client.end().catch(() => undefined);
        }
      }
    } finally {
      if (created) await ctx.q.query(`drop role if exists ${q(login)}`);
    }
  }
  await probeCrossDatabaseReach(ctx);
}

/**
 * Cross-database reach, in each tenant's database as the connecting role: the dblink /
 * postgres_fdw functions and foreign servers the tenant's role may use.
 */
async function probeCrossDatabaseReach(ctx: DatabaseReachContext): Promise<void> {
  const { target, dbs, observe, stats } = ctx;
  for (const a of dbs) {
    const role = tenantRoleFor(target, a.name);
    stats.probes += 1;
    const reach = await inTenantDatabase(ctx, a, (c) =>
      c.query<{ name: string }>(
        `select p.oid::regprocedure::text as name from pg_proc p join pg_extension e on e.oid = (select refobjid from pg_depend d where d.objid = p.oid and d.deptype = 'e' limit 1)
          where e.extname in ('dblink', 'postgres_fdw') and p.proname in ('dblink', 'dblink_exec', 'dblink_connect', 'postgres_fdw_handler')
            and has_function_privilege($1, p.oid, 'EXECUTE')
         union all
         select 'foreign server ' || s.srvname from pg_foreign_server s where has_server_privilege($1, s.oid, 'USAGE')`,
        [role],
      ),
    );
    if (reach.rows.length > 0) {
      observe(
        databaseReachChecks.finding('probe-database-cross-reach', {
          object: a.name,
          actingTenant: a.name,
          statement: 'dblink / postgres_fdw functions and foreign servers usable by the tenant role',
          observed: reach.rows.map((r) => r.name),
          expected: [],
          vars: { actingRole: role },
        }),
      );
    }
  }
}

/** Runs `fn` in tenant database `db` as the connecting role: on the caller's open connection, else on one of its own. */
function inTenantDatabase<T>(ctx: DatabaseReachContext, db: { readonly name: string; readonly url: string }, fn: (c: Queryable) => Promise<T>): Promise<T> {
  const open = ctx.clientOf?.(db.name);
  return open ? fn(open) : withClient(db.url, fn);
}

/** The catalog's answer when a real login is impossible: has_database_privilege(CONNECT). */
async function fallBackToCatalog(ctx: DatabaseReachContext, acting: string, reason: string): Promise<void> {
  const role = tenantRoleFor(ctx.target, acting);
  for (const b of ctx.dbs) {
    if (b.name === acting) continue;
    ctx.stats.probes += 1;
    const { rows } = await ctx.q.query<{ ok: boolean }>(`select has_database_privilege($1, oid, 'CONNECT') as ok from pg_database where datname = $2`, [role, b.name]);
    if (!rows[0]?.ok) continue;
    ctx.observe(
      databaseReachChecks.finding('probe-database-connect', {
        object: b.name,
        actingTenant: acting,
        victimTenant: b.name,
        statement: `select has_database_privilege('${role}', '${b.name}', 'CONNECT')`,
        observed: { loggedIn: false, catalog: true, why: reason },
        expected: false,
        vars: { actingRole: role, victimRole: tenantRoleFor(ctx.target, b.name) },
      }),
    );
  }
  ctx.couldNotAct(`databases outside ${ctx.target.databasePattern}`, 'probe-database-shared-read', reason);
}

const word = (name: string) => new RegExp(`(?<![A-Za-z0-9_])${name.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9_])`);

/** Reads (and, when shared by the tenants, writes) a non-tenant database as tenant `acting`'s login. */
async function probeSharedDatabase(
  ctx: DatabaseReachContext,
  c: pg.Client,
  acting: string,
  role: string,
  db: { name: string; grantedTo: string[] },
  tenantNames: ReadonlySet<string>,
): Promise<void> {
  const others = [...tenantNames].filter((t) => t !== acting).map((t) => ({ tenant: t, names: [word(t), word(tenantRoleFor(ctx.target, t))] }));
  const mine = [word(acting), word(role)];
  await c.query('begin');
  try {
    const { rows: relations } = await c.query<{ name: string; readable: boolean; writes: string[]; rls: boolean }>(
      `select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as name, c.relrowsecurity as rls,
              has_table_privilege(c.oid, 'SELECT') as readable,
              array(select p from unnest(array['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p
                     where c.relkind in ('r', 'p') and (case when p in ('INSERT', 'UPDATE') then has_any_column_privilege(c.oid, p) else has_table_privilege(c.oid, p) end)) as writes
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p', 'v', 'm', 'f') and not c.relispartition and has_schema_privilege(n.oid, 'USAGE')
          and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp_)'
        order by 1`,
    );
    let namesTenants = db.grantedTo.some((g) => g === role);
    for (const r of relations.filter((x) => x.readable)) {
      ctx.stats.probes += 1;
      const read = await c.query('savepoint tp_read').then(async () => {
        try {
          return (await c.query<{ x: string }>(`select t::text as x from ${r.name} t limit 1000`)).rows;
        } catch {
          return [];
        } finally {
          await c.query('rollback to savepoint tp_read; release savepoint tp_read');
        }
      });
      if (read.some((row) => mine.some((m) => m.test(row.x)) || others.some((o) => o.names.some((m) => m.test(row.x))))) namesTenants = true;
      for (const o of others) {
        const naming = read.filter((row) => o.names.some((m) => m.test(row.x)));
        if (naming.length === 0) continue;
        const object = `${db.name}:${r.name}`;
        ctx.observe(
          databaseReachChecks.finding('probe-database-shared-read', {
            object,
            actingTenant: acting,
            victimTenant: o.tenant,
            statement: `select * from ${r.name} -- in database ${db.name}, logged in as a login holding ${role}`,
            observed: { path: `${role} → CONNECT on database ${db.name} → SELECT on ${r.name} → rows of ${o.tenant}`, rowsNamingVictim: naming.length, sample: naming.slice(0, 2).map((x) => x.x) },
            expected: `no row of another tenant`,
            vars: { actingRole: role, database: db.name, table: r.name },
          }),
        );
        break;
      }
    }
    if (!namesTenants) return; // a database the tenants do not share: not theirs to judge
    for (const r of relations.filter((x) => x.writes.length > 0 && !x.rls)) {
      for (const verb of r.writes) {
        const column = verb === 'UPDATE' ? await updatableColumn(c, r.name) : null;
        if (verb === 'UPDATE' && !column) continue;
        const sql =
          verb === 'INSERT'
            ? `insert into ${r.name} default values`
            : verb === 'UPDATE'
              ? `update ${r.name} set ${q(column!)} = ${q(column!)}`
              : verb === 'DELETE'
                ? `delete from ${r.name}`
                : `truncate ${r.name}`;
        ctx.stats.probes += 1;
        await c.query('savepoint tp_write');
        let wrote: boolean;
        let observed: string;
        try {
          const res = await c.query(sql);
          wrote = true;
          observed = `${res.rowCount ?? 0} rows changed (rolled back)`;
        } catch (error) {
          const e = error as { code?: string; message?: string };
          wrote = (e.code ?? '').startsWith('23') || e.code === '0A000';
          observed = `the probe's own row was refused (${e.code}: ${e.message}) after the privilege check passed`;
        } finally {
          await c.query('rollback to savepoint tp_write; release savepoint tp_write');
        }
        if (!wrote) continue;
        ctx.observe(
          databaseReachChecks.finding('probe-database-shared-write', {
            object: `${db.name}:${r.name}`,
            actingTenant: acting,
            statement: `${sql} -- in database ${db.name}, logged in as a login holding ${role}`,
            observed: { path: `${role} → CONNECT on database ${db.name} → ${verb} on ${r.name} (shared by every tenant)`, result: observed },
            expected: 'permission denied',
            vars: { actingRole: role, database: db.name, table: r.name, privileges: r.writes.join(', ') },
          }),
        );
        break;
      }
    }
  } finally {
    await c.query('rollback').catch(() => undefined);
  }
}

async function updatableColumn(c: pg.Client, relation: string): Promise<string | null> {
  const { rows } = await c.query<{ name: string }>(
    `select attname as name from pg_attribute where attrelid = $1::regclass and attnum > 0 and not attisdropped and attgenerated = '' and attidentity <> 'a'
        and has_column_privilege(attrelid, attnum, 'UPDATE') order by attnum limit 1`,
    [relation],
  );
  return rows[0]?.name ?? null;
}

/** SET ROLE from each tenant role's own session into every other tenant role it is a member of. */
async function probeRoleMemberships(ctx: DatabaseReachContext): Promise<void> {
  const tenantOf = new Map(ctx.dbs.map((d) => [tenantRoleFor(ctx.target, d.name), d]));
  for (const m of ctx.reach.memberships) {
    const acting = tenantOf.get(m.role);
    const victim = tenantOf.get(m.target);
    if (!acting || !victim || acting === victim) continue;
    if (!ctx.reach.canAuthorize) {
      ctx.couldNotAct(`role ${m.target}`, 'probe-database-set-role', `the catalog shows ${membershipPath(m.path)}; acting it needs a session of ${m.role} (SET SESSION AUTHORIZATION, superuser only)`);
      continue;
    }
    const sql = `set local session authorization ${q(m.role)}; set local role ${q(m.target)}`;
    ctx.stats.probes += 1;
    const ok = await ctx.q.query(`begin; ${sql}; rollback`).then(
      () => true,
      async () => (await ctx.q.query('rollback').catch(() => undefined), false),
    );
    if (!ok) continue; // a membership without SET (PostgreSQL 16+: WITH SET FALSE)
    const tables = victim.plan.tables.filter((t) => t.role === 'scoped').map((t) => `${victim.name}:${t.label}`);
    const path = `${membershipPath(m.path)} → database ${victim.name}${tables.length > 0 ? ` → ${tables.join(', ')}` : ''}`;
    ctx.observe(
      databaseReachChecks.finding('probe-database-set-role', {
        object: `role ${m.target}`,
        actingTenant: acting.name,
        victimTenant: victim.name,
        statement: sql,
        observed: { path, inherits: m.inherits },
        expected: 'permission denied to set role',
        vars: { path, actingRole: m.role, victimRole: m.target },
      }),
    );
  }
}

/** Foreign tables in each tenant database whose server points at another tenant's database, read as the tenant's role. */
async function probeForeignTables(ctx: DatabaseReachContext): Promise<void> {
  const names = new Set(ctx.dbs.map((d) => d.name));
  for (const a of ctx.dbs) {
    const role = tenantRoleFor(ctx.target, a.name);
    await inTenantDatabase(ctx, a, async (c) => {
      const { rows } = await c.query<{ name: string; server: string; dbname: string | null; remote: string; mapping: string | null }>(
        `select quote_ident(n.nspname) || '.' || quote_ident(cl.relname) as name, s.srvname as server,
                (select option_value from pg_options_to_table(s.srvoptions) where option_name = 'dbname') as dbname,
                coalesce((select option_value from pg_options_to_table(ft.ftoptions) where option_name = 'schema_name'), n.nspname) || '.' ||
                  coalesce((select option_value from pg_options_to_table(ft.ftoptions) where option_name = 'table_name'), cl.relname) as remote,
                (select um.usename from pg_user_mappings um where um.srvid = s.oid and (um.umuser = 0 or um.usename = $1) order by um.umuser desc limit 1) as mapping
           from pg_foreign_table ft join pg_class cl on cl.oid = ft.ftrelid join pg_namespace n on n.oid = cl.relnamespace
           join pg_foreign_server s on s.oid = ft.ftserver
          where has_table_privilege($1, cl.oid, 'SELECT') and has_schema_privilege($1, n.oid, 'USAGE')`,
        [role],
      );
      for (const f of rows.filter((x) => x.dbname && x.dbname !== a.name && names.has(x.dbname) && x.mapping)) {
        const enter = ctx.reach.canAuthorize ? `set local session authorization ${q(role)}` : `set local role ${q(role)}`;
        const sql = `select count(*)::int as n from ${f.name}`;
        ctx.stats.probes += 1;
        await c.query('begin');
        let outcome: { ok: true; n: number } | { ok: false; message: string };
        try {
          await c.query(enter);
          const { rows: counted } = await c.query<{ n: number }>(sql);
          outcome = { ok: true, n: counted[0]?.n ?? 0 };
        } catch (error) {
          outcome = { ok: false, message: describeError(error) };
        } finally {
          await c.query('rollback').catch(() => undefined);
        }
        if (!outcome.ok) continue; // the other database refused the mapping's credentials
        const path = `${role} → SELECT on ${a.name}:${f.name} → server ${f.server} (dbname=${f.dbname}, user mapping for ${f.mapping}) → ${f.dbname}:${f.remote}`;
        ctx.observe(
          databaseReachChecks.finding('probe-database-foreign-reach', {
            object: `${a.name}:${f.name}`,
            actingTenant: a.name,
            victimTenant: f.dbname!,
            statement: `${enter}; ${sql}`,
            observed: { path, committedRowsRead: outcome.n },
            expected: 'an error: no way into another tenant database',
            vars: { path, actingRole: role, server: f.server },
          }),
        );
      }
    });
  }
}
