/**
 * Reach probes of the schema model: everything a tenant's role can use beyond its own tables —
 * views and functions in any schema, tables of shared schemas, other tenant roles it can become —
 * acted on for real inside the world's rolled-back transaction, in a session of that role.
 *
 * The oracle is differential: a view or function result is read as the acting tenant, then
 * another tenant's rows are removed (TRUNCATE under a savepoint, rolled back) and it is read
 * again. A result that changes depends on the other tenant's data: that data reached the acting
 * tenant. A result that is not even stable between two identical reads is not judged.
 */
import { membershipPath, probeableArgTypes, type ReachCatalog, type ReachFunction, type ReachRelation } from '../../catalog/reach.ts';
import { schemaModel } from '../../models/schema.ts';
import { quoteIdent, quoteLiteral } from '../../target/connection.ts';
import { tenantRoleFor } from '../../target/context.ts';
import { probedTables } from '../../world/write.ts';
import { defineProbeChecks } from './define.ts';
import type { Refutation } from './engine.ts';
import type { ProbeRun } from './probe-run.ts';
import type { Outcome } from './session.ts';

/** The checks of the reach probes below. */
export const schemaReachChecks = defineProbeChecks({
  'probe-schema-reach-view': {
    title: "A view the tenant's role can read shows another tenant's data",
    finding: "Tenant {acting} reads tenant {victim}'s data through {object}",
    severity: 'critical',
    leakClass: 'read',
    leak: true,
    cwe: 'CWE-863',
    models: ['schema'],
    description:
      "As each tenant's role (its own session, its own search_path), read every view and materialized view it may SELECT in any schema; then remove another tenant's rows (rolled back) and read again. A result that changes is data of the other tenant reaching this one — a view runs its query with its owner's rights, so a reporting view over every tenant schema granted to PUBLIC hands every tenant everyone's rows.",
    remediation: `{path}: REVOKE SELECT ON {object} FROM PUBLIC and from tenant roles, or make it security_invoker (PostgreSQL 15+) so it reads with the caller's rights; a cross-tenant report belongs to a role no tenant can become.`,
  },
  'probe-schema-reach-function': {
    title: "A function the tenant's role can execute returns another tenant's data",
    finding: "Tenant {acting} reads tenant {victim}'s data through {object}",
    severity: 'critical',
    leakClass: 'read',
    leak: true,
    cwe: 'CWE-863',
    models: ['schema'],
    description:
      "As each tenant's role, call every function it may EXECUTE in any schema with each other tenant's schema name, role name and tenant id as arguments (and functions without arguments as they are); then remove that tenant's rows (rolled back) and call again. A result that changes means the function reads the other tenant's data for this caller — typically a SECURITY DEFINER function building SQL from a schema-name argument, executable by PUBLIC (the default).",
    remediation: `{path}: REVOKE EXECUTE ON FUNCTION {object} FROM PUBLIC; make it SECURITY INVOKER, or derive the schema from the caller (session_user) instead of an argument.`,
  },
  'probe-schema-set-role': {
    title: "A tenant's role can become another tenant's role",
    finding: "Tenant {acting}'s role can SET ROLE to tenant {victim}'s role",
    severity: 'critical',
    leakClass: 'privilege',
    leak: true,
    cwe: 'CWE-269',
    models: ['schema'],
    description:
      "In a session of each tenant's role, SET ROLE to every other tenant's role the catalog shows it a member of (directly or through a chain, with or without INHERIT) and read that tenant's tables. Success turns one tenant into the other, whatever its own grants say.",
    remediation: `{path}: REVOKE {victimRole} FROM {actingRole} (and break every chain between tenant roles); tenant roles must not be members of one another.`,
  },
  'probe-schema-shared-write': {
    title: "A tenant's role can write a table every tenant reads",
    finding: "Tenant {acting}'s role can write the shared table {object}",
    severity: 'high',
    leakClass: 'write',
    leak: true,
    cwe: 'CWE-732',
    models: ['schema'],
    description:
      "As each tenant's role, write (rolled back) every table outside the tenant schemas that the catalog says it may INSERT, UPDATE, DELETE or TRUNCATE. A shared table readable by all and writable by none is shared by design; one a tenant can write lets that tenant change what every other tenant sees.",
    remediation: `REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {object} FROM PUBLIC and from {actingRole}; keep shared tables read-only for tenant roles ({privileges} was granted).`,
  },
});

const q = quoteIdent;
const nameOf = (r: { schema: string; name: string }) => `${q(r.schema)}.${q(r.name)}`;

/**
 * SQL that enters `tenant`'s own session: its role as the session user when the connecting role
 * may (so session_user and SET ROLE behave as in the tenant's real login), else SET ROLE; and the
 * tenant's search_path.
 */
export function enterTenantSession(run: ProbeRun, reach: ReachCatalog, tenant: string): string {
  if (!reach.canAuthorize) return schemaModel.enterTenantSql(run.target, { kind: 'tenant', tenant });
  return `set local session authorization ${q(tenantRoleFor(run.target, tenant))}; set local search_path = ${q(tenant)}`;
}

/**
 * What the reach probes judged across worlds: definer functions called and compared against
 * other tenants' rows (by the static rules' name for them), and those that showed a leak.
 */
export class ReachLedger {
  readonly judged = new Set<string>();
  readonly leaked = new Set<string>();
  /** Definer functions judged in some world and leaking in none. */
  refutations(): Refutation[] {
    return [...this.judged]
      .filter((o) => !this.leaked.has(o))
      .map((object) => ({
        object,
        checkIds: ['security-definer-reads-tenant-data'],
        reason: "The probes called it as each tenant's role with the other tenants' schema names, role names and ids, and its result never depended on another tenant's rows",
      }));
  }
}

/** One read whose result is compared with and without another tenant's rows. */
interface Reading {
  /** The tenant reading, and the SQL entering its session. */
  readonly acting: string;
  readonly enter: string;
  readonly object: string;
  readonly kind: 'view' | 'function';
  readonly sql: string;
  /** Evidence path from the acting role to the object. */
  readonly via: string;
  /** Only judged against this victim (a function called with that victim's name); null: every victim. */
  readonly victim: string | null;
  readonly relation?: ReachRelation;
  /** The static rules' name of a definer function (`function s.f(args)`), for the ledger. */
  readonly definer?: string;
}

type Digest = { n: number; h: string };
const digestSql = (from: string) =>
  `select count(*)::int as n, md5(coalesce(string_agg(x, E'\\n' order by x), '')) as h from (select t::text as x from ${from} t limit 5000) s`;

const same = (a: Outcome<Digest>, b: Outcome<Digest>) =>
  a.ok && b.ok ? a.rows[0]?.n === b.rows[0]?.n && a.rows[0]?.h === b.rows[0]?.h : !a.ok && !b.ok && a.code === b.code;

/** Whether `value` can be passed as an argument of type `type`. */
function fits(type: string, value: string): boolean {
  if (type === 'uuid') return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
  if (type === 'integer' || type === 'bigint' || type === 'smallint') return /^-?\d{1,9}$/.test(value);
  return true;
}

function functionReadings(run: ProbeRun, f: ReachFunction, role: string, acting: string, enter: string): Reading[] {
  if (!f.argTypes.every((t) => probeableArgTypes.has(t))) return [];
  const via = `EXECUTE ${f.signature}${f.definer ? ` (SECURITY DEFINER, runs as ${f.owner})` : ''}`;
  const definer = f.definer ? { definer: `function ${f.schema}.${f.name}(${f.identity})` } : {};
  const call = (values: readonly string[]) => `${nameOf(f)}(${values.map((v, i) => `${quoteLiteral(v)}::${f.argTypes[i]}`).join(', ')})`;
  if (f.argTypes.length === 0) return [{ acting, enter, object: f.signature, kind: 'function', sql: digestSql(call([])), via: `${role} → ${via}`, victim: null, ...definer }];
  const readings: Reading[] = [];
  for (const [v, victim] of run.world.tenants.entries()) {
    if (victim === acting) continue;
    const candidates = [...new Set([victim, tenantRoleFor(run.target, victim), run.world.tenantIds[v] ?? victim])];
    for (const c of candidates.filter((c) => f.argTypes.every((t) => fits(t, c)))) {
      const values = f.argTypes.map(() => c);
      readings.push({ acting, enter, object: f.signature, kind: 'function', sql: digestSql(call(values)), via: `${role} → ${via} with ${quoteLiteral(c)}`, victim, ...definer });
    }
  }
  return readings;
}

/**
 * All reach probes of one world for the schema model. `tenantSchemas` are every tenant schema of
 * the target (a role may become the role of a tenant the world did not choose).
 */
export async function runSchemaReachProbes(run: ProbeRun, reach: ReachCatalog, tenantSchemas: readonly string[], ledger = new ReachLedger()): Promise<void> {
  const { world, target } = run;
  if (!target.tenantRole) return; // one shared role: every tenant is already every other (schema-isolation-by-search-path)
  const tenantOf = new Map(tenantSchemas.map((s) => [tenantRoleFor(target, s), s]));
  const tablesOf = (schema: string) => probedTables(world).filter((t) => t.relation.schema === schema);
  const matviews = reach.relations.filter((r) => r.kind === 'materialized-view' && r.readers.some((x) => tenantOf.has(x)));
  const refreshed = new Set<string>();
  const refresh = async () => {
    for (const m of matviews) {
      // REFRESH is transactional: the world's rows go in, and the rollback takes them out again.
      await run.session.query(`savepoint tp_refresh; refresh materialized view ${nameOf(m)}; release savepoint tp_refresh`).then(
        () => refreshed.add(m.name),
        async (error: { message?: string }) => {
          await run.session.query('rollback to savepoint tp_refresh; release savepoint tp_refresh');
          run.couldNotAct(`${m.schema}.${m.name}`, 'probe-schema-reach-view', `cannot refresh it to include the world's rows: ${error.message ?? error}`);
        },
      );
    }
  };
  await refresh();

  // Every tenant's readings first, then each other tenant's rows removed once for all of them.
  const readings: Reading[] = [];
  for (const acting of world.tenants) {
    const role = tenantRoleFor(target, acting);
    const enter = enterTenantSession(run, reach, acting);
    readings.push(
      ...reach.relations
        .filter((r) => (r.kind === 'view' || r.kind === 'materialized-view') && r.readers.includes(role))
        .map((r): Reading => ({
          acting,
          enter,
          object: `${r.schema}.${r.name}`,
          kind: 'view',
          sql: digestSql(nameOf(r)),
          via: `${role} → SELECT on ${r.schema}.${r.name} (${r.kind === 'view' ? 'view' : 'materialized view'} owned by ${r.owner})`,
          victim: null,
          relation: r,
        })),
      ...reach.functions.filter((f) => f.executors.includes(role)).flatMap((f) => functionReadings(run, f, role, acting, enter)),
    );
  }
  if (readings.length > 0) await judgeReadings(run, readings, tablesOf, refresh, ledger);
  for (const acting of world.tenants) {
    const enter = enterTenantSession(run, reach, acting);
    await probeMemberships(run, reach, acting, enter, tenantOf);
    await probeSharedWrites(run, reach, acting, enter, new Set(tenantSchemas));
  }
}

async function judgeReadings(
  run: ProbeRun,
  readings: readonly Reading[],
  tablesOf: (schema: string) => readonly { sql: string; label: string }[],
  refresh: () => Promise<void>,
  ledger: ReachLedger,
): Promise<void> {
  const read = (r: Reading) => {
    run.stats.probes += 1;
    return run.session.probe<Digest>(r.enter, r.sql);
  };
  // Read everything twice: a result that differs between identical reads (now(), random()) is not judged.
  const first = readings.map(read);
  const second = readings.map(read);
  const baseline: (Outcome<Digest> | null)[] = [];
  for (let i = 0; i < readings.length; i++) {
    const a = await first[i]!;
    const b = await second[i]!;
    baseline.push(a.ok && same(a, b) ? a : null);
  }
  for (const victim of run.world.tenants) {
    const judged = readings
      .map((r, i) => ({ r, before: baseline[i] }))
      .filter(({ r, before }) => before && r.acting !== victim && (r.victim === null || r.victim === victim));
    if (judged.length === 0) continue;
    const tables = tablesOf(victim);
    if (tables.length === 0) continue;
    await run.session.query('savepoint tp_reach');
    try {
      try {
        await run.session.query(`truncate ${tables.map((t) => t.sql).join(', ')} cascade`);
      } catch (error) {
        await run.session.query('rollback to savepoint tp_reach');
        for (const { r } of judged) run.couldNotAct(r.object, r.kind === 'view' ? 'probe-schema-reach-view' : 'probe-schema-reach-function', `cannot remove tenant ${victim}'s rows to compare: ${(error as Error).message}`);
        continue;
      }
      await refresh();
      const after = judged.map(({ r }) => read(r));
      for (const [i, { r, before }] of judged.entries()) {
        const now = await after[i]!;
        if (r.definer) ledger.judged.add(r.definer);
        if (same(before!, now)) continue;
        if (r.definer) ledger.leaked.add(r.definer);
        const was = before!.ok ? before!.rows[0] : undefined;
        const path = `${r.via} → ${victimReads(r, victim, tables)}`;
        run.observe(
          schemaReachChecks.finding(r.kind === 'view' ? 'probe-schema-reach-view' : 'probe-schema-reach-function', {
            object: r.object,
            actingTenant: r.acting,
            victimTenant: victim,
            statement: r.sql,
            observed: {
              path,
              withVictimRows: was ? { rows: was.n } : null,
              withoutVictimRows: now.ok ? { rows: now.rows[0]?.n } : { error: `${now.code}: ${now.message}` },
            },
            expected: `the same result with or without tenant ${victim}'s rows`,
            vars: { path },
          }),
        );
      }
    } finally {
      await run.session.query('rollback to savepoint tp_reach; release savepoint tp_reach');
    }
  }
}

function victimReads(r: Reading, victim: string, tables: readonly { label: string }[]): string {
  const named = r.relation?.reads.filter((x) => x.startsWith(`${victim}.`)) ?? [];
  return named.length > 0 ? named.join(', ') : `${victim}'s rows (${tables.map((t) => t.label).join(', ')})`;
}

async function probeMemberships(
  run: ProbeRun,
  reach: ReachCatalog,
  acting: string,
  enter: string,
  tenantOf: ReadonlyMap<string, string>,
): Promise<void> {
  const role = tenantRoleFor(run.target, acting);
  for (const m of reach.memberships.filter((x) => x.role === role && tenantOf.has(x.target) && x.target !== role)) {
    const victim = tenantOf.get(m.target)!;
    if (!reach.canAuthorize) {
      run.couldNotAct(`role ${m.target}`, 'probe-schema-set-role', `the catalog shows ${membershipPath(m.path)}; acting it needs a session of ${role} (SET SESSION AUTHORIZATION, superuser only)`);
      continue;
    }
    // The victim's tables (also when this world did not choose it: the role is the way in either way).
    const tables = run.world.plan.tables.filter((t) => t.relation.schema === victim && t.role === 'scoped');
    const count = tables.length > 0 ? tables.map((t) => `(select count(*) from ${t.sql})`).join(' + ') : '0';
    const sql = `set local role ${q(m.target)}; select (${count})::int as n`;
    run.stats.probes += 1;
    const outcome = await run.session.probe<{ n: number }>(enter, sql);
    if (!outcome.ok) continue; // the catalog's membership does not let it SET ROLE (PostgreSQL 16+: SET FALSE)
    const reached = tables.length > 0 ? tables.map((t) => t.label).join(', ') : `schema ${victim}`;
    const path = `${membershipPath(m.path)} → ${reached}`;
    run.observe(
      schemaReachChecks.finding('probe-schema-set-role', {
        object: `role ${m.target}`,
        actingTenant: acting,
        victimTenant: victim,
        statement: sql,
        observed: { path, inherits: m.inherits, rowsRead: outcome.rows[0]?.n ?? 0 },
        expected: 'permission denied to set role',
        vars: { path, actingRole: role, victimRole: m.target },
      }),
    );
  }
}

async function probeSharedWrites(run: ProbeRun, reach: ReachCatalog, acting: string, enter: string, tenantSchemas: ReadonlySet<string>): Promise<void> {
  const role = tenantRoleFor(run.target, acting);
  // A shared table under row level security keeps each tenant to its own rows (a hybrid layout's
  // registry, say): its policies are the rls model's to prove, not a table writable by everyone.
  for (const r of reach.relations.filter((x) => x.kind === 'table' && !x.rowSecurity && !tenantSchemas.has(x.schema) && x.writers.has(role))) {
    const privileges = r.writers.get(role)!;
    for (const p of privileges) {
      const [verb, column] = p.split(':');
      const sql =
        verb === 'INSERT'
          ? `insert into ${nameOf(r)} default values`
          : verb === 'UPDATE'
            ? `update ${nameOf(r)} set ${q(column!)} = ${q(column!)}`
            : verb === 'DELETE'
              ? `delete from ${nameOf(r)}`
              : `truncate ${nameOf(r)}`;
      run.stats.probes += 1;
      const outcome = await run.session.probe(enter, sql);
      // A constraint refusing the probe's own row (or TRUNCATE refusing a referenced table) comes
      // after the privilege check passed: the table is writable all the same.
      const wrote = outcome.ok || outcome.code.startsWith('23') || outcome.code === '0A000';
      if (!wrote) continue;
      run.observe(
        schemaReachChecks.finding('probe-schema-shared-write', {
          object: `${r.schema}.${r.name}`,
          actingTenant: acting,
          statement: sql,
          observed: { path: `${role} → ${verb} on ${r.schema}.${r.name} (shared by every tenant)`, ...(outcome.ok ? { rowsChanged: outcome.rowCount } : { refusedRowOnly: `${outcome.code}: ${outcome.message}` }) },
          expected: 'permission denied',
          vars: { actingRole: role, privileges: privileges.map((x) => x.split(':')[0]).join(', ') },
        }),
      );
      break;
    }
  }
}
