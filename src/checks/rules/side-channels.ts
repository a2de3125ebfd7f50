/**
 * Side-channel rules: catalog states through which a tenant learns something about other
 * tenants' data without reading their rows (suites/side-channels measures each channel on a real
 * server). No rows cross, so none is `high`; but a reviewer should know the channel is open and
 * what closes it.
 *
 * They read what the structure and security catalogs do not hold — column and extended
 * statistics, exclusion constraints, triggers that notify, and the privileges on pg_catalog's
 * activity functions — through introspectSideChannels, which runStaticRules calls once, read-only,
 * next to buildRuleContext, and hands to the rules as `ctx.sideChannels` (declared in types.ts).
 */
import { quoteLiteral, type Queryable } from '../../target/connection.ts';
import { hasPrivilegesOf, nameOf, privilegesOn, roleOf, sqlIdent, sqlName } from './context.ts';
import { defineRule } from './define.ts';
import type { RuleContext, RuleHit } from './types.ts';

/** Statistics of one column of a tenant table, as far as the connected role can tell. */
export interface ColumnStatistics {
  readonly schema: string;
  readonly table: string;
  readonly column: string;
  readonly type: string;
  /** A most-common-values list exists (equality estimates reveal frequent values); null when unknown. */
  readonly mcv: boolean | null;
  /** A histogram exists (range estimates reveal the distribution); null when unknown. */
  readonly histogram: boolean | null;
  /** Which of `=` and `<` on the column's type are leakproof (the planner uses statistics under RLS only for those). */
  readonly leakproof: readonly ('=' | '<')[];
  /**
   * `pg_statistic` (read directly, superuser), `pg_stats` (the view shows the column to this role),
   * or `analyzed` (neither could be read: the table has been analyzed and the column's statistics
   * target is not 0, so statistics are presumably there).
   */
  readonly source: 'pg_statistic' | 'pg_stats' | 'analyzed';
}

/** An extended statistics object with a built multi-column MCV list on a tenant table. */
export interface ExtendedStatistics {
  readonly schema: string;
  readonly table: string;
  /** The statistics object, qualified. */
  readonly name: string;
  readonly statisticsSchema: string;
  readonly statisticsName: string;
}

/** An EXCLUDE constraint on a tenant table: its key parts (null for an expression) and their operators. */
export interface ExclusionConstraint {
  readonly schema: string;
  readonly table: string;
  readonly name: string;
  readonly columns: readonly (string | null)[];
  readonly operators: readonly string[];
}

/** A trigger on a tenant table whose function sends notifications (pg_notify or NOTIFY in its source). */
export interface NotifyingTrigger {
  readonly schema: string;
  readonly table: string;
  readonly trigger: string;
  /** The trigger function, qualified with its arguments' types. */
  readonly function: string;
}

/** What one role under test can do with the activity functions of this database. */
export interface ActivityAccess {
  readonly role: string;
  /** Of pg_stat_get_activity(integer) and pg_stat_get_backend_activity(integer): those the role may execute. */
  readonly executable: readonly string[];
  /** The role has the privileges of pg_read_all_stats: it sees every role's statements. */
  readonly readAllStats: boolean;
  /** Other databases the role may connect to: the revoke is per database, pg_stat_activity is cluster-wide. */
  readonly otherDatabases: readonly string[];
}

export interface SideChannelCatalog {
  /** Whether column statistics were read from pg_statistic (superuser) or only through pg_stats (with the `analyzed` fallback). */
  readonly statisticsSource: 'pg_statistic' | 'pg_stats';
  readonly columnStatistics: readonly ColumnStatistics[];
  readonly extendedStatistics: readonly ExtendedStatistics[];
  readonly exclusionConstraints: readonly ExclusionConstraint[];
  readonly notifyingTriggers: readonly NotifyingTrigger[];
  readonly activityAccess: readonly ActivityAccess[];
}

export const activityFunctions = ['pg_stat_get_activity(integer)', 'pg_stat_get_backend_activity(integer)'] as const;

/** Reads the side-channel facts of the tenant tables and of the roles under test. Read-only: catalog and statistics views only. */
export async function introspectSideChannels(q: Queryable, ctx: RuleContext): Promise<SideChannelCatalog> {
  const direct = (await q.query<{ ok: boolean }>("select has_table_privilege('pg_catalog.pg_statistic', 'SELECT') as ok")).rows[0]!.ok;
  const tables = ctx.tenantTables.filter((t) => t.relation.kind === 'table' || t.relation.kind === 'partitioned-table').map((t) => sqlName(t.relation));
  const kinds = direct
    ? `exists (select 1 from pg_statistic s where s.starelid = c.oid and s.staattnum = a.attnum and 1 in (s.stakind1, s.stakind2, s.stakind3, s.stakind4, s.stakind5)) as mcv,
       exists (select 1 from pg_statistic s where s.starelid = c.oid and s.staattnum = a.attnum and 2 in (s.stakind1, s.stakind2, s.stakind3, s.stakind4, s.stakind5)) as histogram,
       true as visible`
    : `exists (select 1 from pg_stats s where s.schemaname = n.nspname and s.tablename = c.relname and s.attname = a.attname and s.most_common_vals is not null) as mcv,
       exists (select 1 from pg_stats s where s.schemaname = n.nspname and s.tablename = c.relname and s.attname = a.attname and s.histogram_bounds is not null) as histogram,
       exists (select 1 from pg_stats s where s.schemaname = n.nspname and s.tablename = c.relname and s.attname = a.attname) as visible`;
  const rows = (
    await q.query<{
      schema: string; table: string; column: string; type: string; mcv: boolean; histogram: boolean; visible: boolean;
      analyzed: boolean; target: number; leakproof: ('=' | '<')[];
    }>(
      `select n.nspname as schema, c.relname as table, a.attname as column, format_type(a.atttypid, a.atttypmod) as type, ${kinds},
              coalesce((select coalesce(st.last_analyze, st.last_autoanalyze) is not null from pg_stat_all_tables st where st.relid = c.oid), false) as analyzed,
              coalesce(a.attstattarget::int, -1) as target,
              array(select o.oprname::text from pg_operator o join pg_proc p on p.oid = o.oprcode
                     where o.oprname in ('=', '<') and o.oprleft = a.atttypid and o.oprright = a.atttypid and p.proleakproof
                     order by 1)::text[] as leakproof
         from pg_class c join pg_namespace n on n.oid = c.relnamespace join pg_attribute a on a.attrelid = c.oid
        where c.oid = any($1::regclass[]) and a.attnum > 0 and not a.attisdropped
        order by 1, 2, a.attnum`,
      [tables],
    )
  ).rows;
  const columnStatistics: ColumnStatistics[] = [];
  for (const r of rows) {
    const column = { schema: r.schema, table: r.table, column: r.column, type: r.type, leakproof: r.leakproof };
    if (direct || r.visible) {
      if (r.mcv || r.histogram) columnStatistics.push({ ...column, mcv: r.mcv, histogram: r.histogram, source: direct ? 'pg_statistic' : 'pg_stats' });
    } else if (r.analyzed && r.target !== 0) {
      // pg_stats hides the table from this role (row security applies to it): presume what ANALYZE gathers.
      columnStatistics.push({ ...column, mcv: null, histogram: null, source: 'analyzed' });
    }
  }

  // Multi-column MCV lists are used under RLS like per-column ones, and survive clearing those.
  const extendedStatistics = (
    await q.query<{ schema: string; table: string; stat_schema: string; stat_name: string }>(
      `select n.nspname as schema, c.relname as table, sn.nspname as stat_schema, s.stxname as stat_name
         from pg_statistic_ext s join pg_class c on c.oid = s.stxrelid join pg_namespace n on n.oid = c.relnamespace
         join pg_namespace sn on sn.oid = s.stxnamespace
        where s.stxrelid = any($1::regclass[]) and ${
          direct
            ? 'exists (select 1 from pg_statistic_ext_data d where d.stxoid = s.oid and d.stxdmcv is not null)'
            : 'exists (select 1 from pg_stats_ext e where e.statistics_schemaname = sn.nspname and e.statistics_name = s.stxname and e.most_common_vals is not null)'
        }
        order by 1, 2, 3, 4`,
      [tables],
    )
  ).rows.map<ExtendedStatistics>((r) => ({
    schema: r.schema,
    table: r.table,
    name: `${r.stat_schema}.${r.stat_name}`,
    statisticsSchema: r.stat_schema,
    statisticsName: r.stat_name,
  }));

  const exclusionConstraints = (
    await q.query<ExclusionConstraint>(
      `select n.nspname as schema, c.relname as table, k.conname as name,
              array(select a.attname::text from unnest(k.conkey) with ordinality u(attnum, ord)
                      left join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.attnum and u.attnum > 0 order by u.ord)::text[] as columns,
              array(select o.oprname::text from unnest(k.conexclop) with ordinality u(op, ord) join pg_operator o on o.oid = u.op order by u.ord)::text[] as operators
         from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
        where k.contype = 'x' and k.conrelid = any($1::regclass[])
        order by 1, 2, 3`,
      [tables],
    )
  ).rows;

  const notifyingTriggers = (
    await q.query<NotifyingTrigger>(
      `select n.nspname as schema, c.relname as table, tg.tgname as trigger, tg.tgfoid::regprocedure::text as function
         from pg_trigger tg join pg_class c on c.oid = tg.tgrelid join pg_namespace n on n.oid = c.relnamespace
         join pg_proc p on p.oid = tg.tgfoid
        where not tg.tgisinternal and tg.tgrelid = any($1::regclass[])
          and (p.prosrc ~* '\\mpg_notify\\s*\\(' or p.prosrc ~* '\\mnotify\\s+[a-z_"]')
        order by 1, 2, 3`,
      [tables],
    )
  ).rows;

  const database = ctx.security.database;
  const activityAccess = (
    await q.query<{ role: string; executable: string[]; read_all_stats: boolean }>(
      `select s.rolname as role,
              array(select f from unnest($2::text[]) f where has_function_privilege(s.oid, ('pg_catalog.' || f)::regprocedure, 'EXECUTE') order by 1)::text[] as executable,
              coalesce(pg_has_role(s.oid, 'pg_read_all_stats', 'USAGE'), false) as read_all_stats
         from pg_roles s where s.rolname = any($1::text[]) order by 1`,
      [ctx.subjects, [...activityFunctions]],
    )
  ).rows.map<ActivityAccess>((r) => ({
    role: r.role,
    executable: r.executable,
    readAllStats: r.read_all_stats,
    otherDatabases: ctx.security.databaseAccess.filter((d) => d.subject === r.role && d.connect && d.database !== database).map((d) => d.database),
  }));

  return { statisticsSource: direct ? 'pg_statistic' : 'pg_stats', columnStatistics, extendedStatistics, exclusionConstraints, notifyingTriggers, activityAccess };
}

export const rlsPlannerStatisticsExposed = defineRule(
  {
    id: 'rls-planner-statistics-exposed',
    title: 'Planner statistics of a shared tenant table reveal other tenants\' values through EXPLAIN',
    severity: 'medium',
    leakClass: 'aggregate',
    cwe: 'CWE-203',
    models: ['rls'],
    description:
      'ANALYZE samples a shared table across every tenant. Under row level security the planner still uses those statistics for leakproof operators (`=` on text, uuid, integers; `<` on most of them), so a tenant who can see a plan — direct SQL, `EXPLAIN`, PostgREST\'s plan media type, or the timing of a plan choice — learns from row estimates which values other tenants have many of, how their numbers are distributed, and (from the tenant column\'s own statistics) how many rows each other tenant has and whether a tenant id exists. `pg_stats` hides these rows from the app role; EXPLAIN does not. Measured in suites/side-channels/planner-statistics.test.ts: an estimate of 429 rows for a value common in tenant B against 3 for an absent one, and exactly B\'s 6000 rows for `tenant_id = B`.',
    remediation: [
      'On columns whose values or distribution are sensitive, stop collecting statistics and drop the ones already gathered: `SET STATISTICS 0` alone is not enough — ANALYZE then skips the column but keeps its old statistics.',
      '',
      '```sql',
      'ALTER TABLE t ALTER COLUMN c SET STATISTICS 0;',
      '-- drop what was gathered: PostgreSQL 18+',
      "SELECT pg_clear_attribute_stats('public', 't', 'c', false);",
      '-- any version, table owner (not for columns used by a policy or view): a same-type ALTER drops the column\'s statistics',
      'ALTER TABLE t ALTER COLUMN c TYPE text;',
      '-- multi-column MCV lists (CREATE STATISTICS … (mcv)) are used the same way and survive the above',
      'DROP STATISTICS s;',
      '```',
      '',
      'Without statistics the planner falls back to default selectivities: check the plans of the queries on those columns. For the tenant column (its statistics give each tenant\'s size) the trade-off is sharper; the schema or database model removes the channel altogether. Keep EXPLAIN away from tenants.',
    ].join('\n'),
    heuristic:
      'Statistics are read from pg_statistic when the connected role may (superuser); otherwise from pg_stats, which hides tables whose row security applies to the connected role (an owner under FORCE ROW LEVEL SECURITY, for one). For a column hidden that way the rule presumes statistics when the table has been analyzed (pg_stat_all_tables) and the column\'s statistics target is not 0 — it then misses statistics left behind by SET STATISTICS 0 without clearing them; connect as a superuser for an exact answer. Extended statistics count when they hold a built MCV list (pg_statistic_ext_data, or pg_stats_ext under the same filter). Whether tenants can obtain plans is not known from the catalog.',
    equivalents: { pgtap: 'none', supabaseLinter: 'none' },
  },
  (ctx) => {
    const catalog = ctx.sideChannels;
    if (!catalog) return [];
    const hits: RuleHit[] = [];
    for (const t of ctx.tenantTables.filter((x) => x.relation.rlsEnabled)) {
      const columns = catalog.columnStatistics.filter((s) => s.schema === t.relation.schema && s.table === t.relation.name);
      const exposed = columns.filter((s) => ((s.mcv ?? true) && s.leakproof.includes('=')) || ((s.histogram ?? true) && s.leakproof.includes('<')));
      const extended = catalog.extendedStatistics.filter((x) => x.schema === t.relation.schema && x.table === t.relation.name);
      // EXPLAIN needs the right to run the query: roles that may SELECT the table (or some of its columns).
      const planners = ctx.subjects.filter((s) => privilegesOn(ctx, s, t.relation).has('SELECT'));
      if ((exposed.length === 0 && extended.length === 0) || planners.length === 0) continue;
      const table = sqlName(t.relation);
      const names = exposed.map((s) => sqlIdent(s.column));
      const dropExtended = extended.map((x) => `DROP STATISTICS ${sqlIdent(x.statisticsSchema)}.${sqlIdent(x.statisticsName)};`).join(' ');
      const clear =
        ctx.security.serverVersionNum >= 180000
          ? exposed.map((s) => `SELECT pg_clear_attribute_stats(${quoteLiteral(t.relation.schema)}, ${quoteLiteral(t.relation.name)}, ${quoteLiteral(s.column)}, false);`).join(' ')
          : `then drop the gathered statistics (a same-type ALTER COLUMN … TYPE per column, or as superuser DELETE FROM pg_statistic WHERE starelid = '${table}'::regclass)`;
      hits.push({
        object: nameOf(t.relation),
        observed: {
          columns: exposed.map((s) => ({ column: s.column, type: s.type, mcv: s.mcv, histogram: s.histogram, leakproof: s.leakproof, source: s.source })),
          extendedStatistics: extended.map((x) => x.name),
          tenantColumn: t.tenantColumn !== null && exposed.some((s) => s.column === t.tenantColumn),
          readers: planners,
          source: catalog.statisticsSource,
        },
        remediation: [
          exposed.length > 0 ? `ALTER TABLE ${table} ${names.map((n) => `ALTER COLUMN ${n} SET STATISTICS 0`).join(', ')}; ${clear} (for the columns whose values are sensitive).` : '',
          dropExtended,
          'Or move to the schema/database model.',
        ]
          .filter(Boolean)
          .join(' '),
      });
    }
    return hits;
  },
);

export const exclusionWithoutTenantColumn = defineRule(
  {
    id: 'exclusion-without-tenant-column',
    title: 'Exclusion constraint on a tenant table that does not compare the tenant column',
    severity: 'medium',
    leakClass: 'existence',
    cwe: 'CWE-203',
    models: ['rls'],
    description:
      'An EXCLUDE constraint (bookings that must not overlap, ranges that must not intersect) is checked against every row, whatever the policies — like a unique key, but with ranges: when the tenant column is not one of its `WITH =` parts, a tenant\'s insert fails with `exclusion_violation` exactly when another tenant holds an overlapping row, so a tenant maps the others\' bookings by bisecting ranges without reading them, and cannot book what another tenant booked. Under row level security PostgreSQL leaves the conflicting values out of the error; the existence still crosses. Measured in suites/side-channels/exclusion-oracle.test.ts.',
    remediation:
      'Make the tenant column the first part, compared with `=` (btree_gist provides `=` for uuid/int in a GiST index): `ALTER TABLE t DROP CONSTRAINT c, ADD CONSTRAINT c EXCLUDE USING gist (tenant_id WITH =, room WITH =, during WITH &&);` — unless the resource really is shared by all tenants, in which case say so and accept the oracle.',
    heuristic: 'Only tables with the tenant column are checked (an EXCLUDE on a table scoped through a foreign key is the same oracle, not reported here).',
    equivalents: { pgtap: 'none', supabaseLinter: 'none' },
  },
  (ctx) => {
    const catalog = ctx.sideChannels;
    if (!catalog) return [];
    const hits: RuleHit[] = [];
    for (const t of ctx.tenantTables) {
      if (t.tenantColumn === null) continue;
      for (const x of catalog.exclusionConstraints.filter((c) => c.schema === t.relation.schema && c.table === t.relation.name)) {
        if (x.columns.some((c, i) => c === t.tenantColumn && x.operators[i] === '=')) continue;
        const parts = x.columns.map((c, i) => `${c === null ? '(expression)' : sqlIdent(c)} WITH ${x.operators[i]}`);
        hits.push({
          object: `${nameOf(t.relation)} (${x.name})`,
          observed: { columns: x.columns, operators: x.operators },
          remediation: `ALTER TABLE ${sqlName(t.relation)} DROP CONSTRAINT ${sqlIdent(x.name)}, ADD CONSTRAINT ${sqlIdent(x.name)} EXCLUDE USING gist (${sqlIdent(t.tenantColumn)} WITH =, ${parts.join(', ')}); (btree_gist for = on ${sqlIdent(t.tenantColumn)})`,
        });
      }
    }
    return hits;
  },
);

export const notifyFromTenantTable = defineRule(
  {
    id: 'notify-from-tenant-table',
    title: 'A trigger on a tenant table sends notifications any session of the database can LISTEN to',
    severity: 'medium',
    leakClass: 'read',
    cwe: 'CWE-200',
    models: ['rls', 'schema'],
    description:
      'LISTEN/NOTIFY channels have no privileges: any session connected to the database may LISTEN on any channel name. A trigger on a tenant table that calls pg_notify (or NOTIFY) therefore delivers its payload to every tenant\'s sessions in that database — the row\'s data if the payload carries it, and in any case the timing and volume of another tenant\'s writes. Row level security and schema privileges do not apply to notifications; only a separate database does. Measured in suites/side-channels/listen-notify.test.ts.',
    remediation:
      'Send no tenant data in payloads: notify an opaque id (or nothing) and let the listener re-read the row under its own tenant context, where RLS applies; accept that the channel still shows when other tenants write, or keep tenants that must not see each other\'s activity in separate databases.',
    heuristic: 'A trigger function counts when its source mentions pg_notify( or NOTIFY <channel>; what the payload holds is not analysed. Notifications sent by application code (not triggers) are not seen.',
    equivalents: { pgtap: 'none', supabaseLinter: 'none' },
  },
  (ctx) =>
    (ctx.sideChannels?.notifyingTriggers ?? []).map((t) => ({
      object: `trigger ${t.trigger} on ${t.schema}.${t.table}`,
      observed: { function: t.function },
      remediation: `Make ${t.function} notify without tenant data (an opaque id the listener re-reads under RLS), or drop trigger ${sqlIdent(t.trigger)} on ${sqlIdent(t.schema)}.${sqlIdent(t.table)}.`,
    })),
);

export const statActivityVisibleToAppRole = defineRule(
  {
    id: 'stat-activity-visible-to-app-role',
    title: 'A role that acts for several tenants can read their sessions\' statements in pg_stat_activity',
    severity: 'medium',
    leakClass: 'read',
    cwe: 'CWE-200',
    models: ['rls', 'schema', 'database'],
    description:
      'pg_stat_activity shows each session\'s current or last statement — literals included — to every role that has the privileges of the session\'s role, across every database of the cluster. When one role acts for several tenants (the pooled app role of the rls model; a shared role in the other models; any role with pg_read_all_stats) one tenant\'s session reads the statements of the others: customer emails, search terms, amounts, whatever the application inlines, and with bind parameters still the shape and timing of their requests. Revoking SELECT on the view does not close it (the functions behind it stay executable); revoking `pg_stat_get_activity` alone does not either (`pg_stat_get_backend_activity` remains). Measured in suites/side-channels/stat-activity.test.ts.',
    remediation: [
      'Revoke both functions from PUBLIC in this database **and in every other database the role can connect to** (the revoke lives in each database\'s pg_proc, pg_stat_activity lists the whole cluster), then grant them back to monitoring roles that need them:',
      '',
      '```sql',
      'REVOKE EXECUTE ON FUNCTION pg_catalog.pg_stat_get_activity(integer), pg_catalog.pg_stat_get_backend_activity(integer) FROM PUBLIC;',
      'GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_get_activity(integer), pg_catalog.pg_stat_get_backend_activity(integer) TO pg_monitor;',
      '```',
      '',
      'or `REVOKE CONNECT` on the databases the role does not need; never grant pg_read_all_stats (or pg_monitor) to a role that serves tenants. One role per tenant (schema/database model) closes the channel.',
    ].join('\n'),
    heuristic:
      'The function privileges are read in the target\'s database only; other databases the role may connect to are listed in the evidence, not inspected. A role "acts for several tenants" when it is the app role of the rls model, the app role of a schema/database target without per-tenant roles, a per-tenant role name shared by several tenants, or a tenant role with the privileges of another tenant\'s role.',
    equivalents: { pgtap: "function_privs_are('pg_catalog', 'pg_stat_get_activity', ARRAY['integer'], role, ARRAY[]::text[])", supabaseLinter: 'none' },
  },
  (ctx) => {
    const catalog = ctx.sideChannels;
    if (!catalog) return [];
    const units = ctx.model === 'schema' ? ctx.tenantSchemas : ctx.model === 'database' ? ctx.tenantDatabases : [];
    const perRole = new Map<string, number>();
    for (const u of units) if (u.role !== null) perRole.set(u.role, (perRole.get(u.role) ?? 0) + 1);
    const tenantRoles = [...perRole.keys()].filter((r) => ctx.subjects.includes(r));
    const why = (role: string): string | null => {
      if (ctx.model === 'rls' && role === ctx.target.appRole) return 'the app role serves every tenant (rls model)';
      if (ctx.model !== 'rls' && role === ctx.target.appRole && tenantRoles.length === 0) return 'the app role serves every tenant (no per-tenant roles)';
      if ((perRole.get(role) ?? 0) > 1) return `the role acts for ${perRole.get(role)} tenants`;
      const other = tenantRoles.find((r) => r !== role && hasPrivilegesOf(ctx.security, role, r));
      if (other !== undefined) return `the role has the privileges of tenant role ${other}`;
      return null;
    };
    const hits: RuleHit[] = [];
    for (const access of catalog.activityAccess) {
      if (access.executable.length === 0 || roleOf(ctx.security, access.role)?.superuser) continue;
      const reason = access.readAllStats ? 'the role has the privileges of pg_read_all_stats (every role\'s statements)' : why(access.role);
      if (reason === null) continue;
      const fns = access.executable.map((f) => `pg_catalog.${f}`).join(', ');
      const elsewhere = access.otherDatabases.length > 0 ? ` Repeat it in the ${access.otherDatabases.length} other database(s) ${sqlIdent(access.role)} may connect to, or REVOKE CONNECT on them.` : '';
      hits.push({
        object: `role ${access.role}`,
        observed: {
          role: access.role,
          reason,
          executable: access.executable,
          readAllStats: access.readAllStats,
          otherDatabases: access.otherDatabases.length,
          someOtherDatabases: access.otherDatabases.slice(0, 5),
        },
        remediation: access.readAllStats
          ? `REVOKE pg_read_all_stats FROM ${sqlIdent(access.role)}; (and any role through which it inherits it)`
          : `REVOKE EXECUTE ON FUNCTION ${fns} FROM PUBLIC; then GRANT them to monitoring roles that need them.${elsewhere}`,
      });
    }
    return hits;
  },
);
