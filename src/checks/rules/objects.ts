/**
 * Rules about objects that read tenant tables on someone else's behalf: views, materialized
 * views, foreign tables and SECURITY DEFINER functions — and functions that resolve names
 * through the caller's search_path.
 */
import type { FunctionInfo } from '../../catalog/security.ts';
import { bypassReason, databaseCatalogs, nameOf, privilegesOn, sqlIdent, sqlName, tenantTablesReadBy } from './context.ts';
import { defineRule } from './define.ts';
import { readsCallerIdentity } from './policy-expression.ts';
import { callerFunctions } from './rls.ts';
import type { RuleContext, RuleHit, TenantTable } from './types.ts';
import { PUBLIC } from '../../catalog/security.ts';

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const calls = (text: string, name: string) => new RegExp(`(^|[^\\w$])"?${escapeRegExp(name)}"?\\s*\\(`, 'i').test(text);

/** True when a function's body reads the caller (auth.uid(), current_user, a JWT claim, the tenant setting, or a function that does). */
function checksCaller(ctx: RuleContext, f: FunctionInfo): boolean {
  return readsCallerIdentity(f.source) || f.source.includes(`'${ctx.target.tenantSetting}'`) || callerFunctions(ctx).some((n) => n !== f.name && calls(f.source, n));
}


const readable = (ctx: RuleContext, subject: string, schema: string, name: string) => privilegesOn(ctx, subject, { schema, name }).has('SELECT');

export const viewBypassesRls = defineRule(
  {
    id: 'view-bypasses-rls',
    title: 'View over tenant tables runs with an owner that bypasses row security',
    severity: 'critical',
    leakClass: 'read',
    cwe: 'CWE-863',
    models: ['rls'],
    description:
      'A view reads its tables with its owner\'s rights unless it is `security_invoker` (PostgreSQL 15+). The owner here is a superuser, has BYPASSRLS, or owns a tenant table whose RLS is not forced — so the app role reads every tenant\'s rows through the view.',
    remediation:
      '`ALTER VIEW v SET (security_invoker = true);` (PostgreSQL 15+), or change the owner to a role that is subject to the policies, or revoke SELECT on the view from the app role.',
    equivalents: { pgtap: 'none', supabaseLinter: '0010_security_definer_view' },
  },
  (ctx) => {
    const hits: RuleHit[] = [];
    for (const view of ctx.security.views.filter((v) => v.kind === 'view' && !v.securityInvoker)) {
      const anon = ctx.convention?.anonymousRole;
      const readers = [...ctx.subjects, ...(anon && !ctx.subjects.includes(anon) ? [anon] : [])].filter((s) => readable(ctx, s, view.schema, view.name));
      if (readers.length === 0) continue;
      const exposed = tenantTablesReadBy(ctx, view)
        .map((t) => ({ table: nameOf(t.relation), reason: bypassReason(ctx.security, view.owner, t.relation) }))
        .filter((x) => x.reason !== null);
      if (exposed.length > 0) {
        hits.push({
          object: nameOf(view),
          observed: { owner: view.owner, readers, securityInvoker: false, exposes: exposed },
          remediation:
            ctx.security.serverVersionNum >= 150000
              ? `ALTER VIEW ${sqlName(view)} SET (security_invoker = true);`
              : `REVOKE SELECT ON ${sqlName(view)} FROM ${readers.map(sqlIdent).join(', ')}; (security_invoker needs PostgreSQL 15+)`,
        });
      }
    }
    return hits;
  },
);

export const materializedViewExposesTenantData = defineRule(
  {
    id: 'materialized-view-exposes-tenant-data',
    title: 'Materialized view over tenant tables readable by the app role',
    severity: 'high',
    leakClass: 'read',
    cwe: 'CWE-200',
    models: ['rls'],
    description:
      'A materialized view stores the rows its owner could see when it was refreshed, and row level security cannot be enabled on it. Anyone who can SELECT it reads every tenant\'s materialized rows.',
    remediation: 'Revoke SELECT on the materialized view from the app role and serve it through a security_invoker view or function that filters by tenant, or keep per-tenant aggregates in an RLS-protected table.',
    equivalents: { pgtap: 'none', supabaseLinter: '0016_materialized_view_in_api' },
  },
  (ctx) => {
    const hits: RuleHit[] = [];
    for (const view of ctx.security.views.filter((v) => v.kind === 'materialized-view')) {
      const readers = ctx.subjects.filter((s) => readable(ctx, s, view.schema, view.name));
      const sources = tenantTablesReadBy(ctx, view).map((t) => nameOf(t.relation));
      if (readers.length > 0 && sources.length > 0) {
        hits.push({ object: nameOf(view), observed: { readers, reads: sources }, remediation: `REVOKE SELECT ON ${sqlName(view)} FROM ${readers.map(sqlIdent).join(', ')};` });
      }
    }
    return hits;
  },
);

export const foreignTableExposesTenantData = defineRule(
  {
    id: 'foreign-table-exposes-tenant-data',
    title: 'Foreign table with tenant data readable by the app role',
    severity: 'high',
    leakClass: 'read',
    cwe: 'CWE-200',
    models: ['rls'],
    description:
      'A foreign table carries the tenant column but its rows come from another server, where this database\'s policies do not apply; unless row level security is enabled on the foreign table itself, the app role reads every tenant\'s remote rows.',
    remediation: 'Revoke SELECT on the foreign table from the app role, or enable and force row level security on it with a tenant policy.',
    heuristic: '"Tenant data" means: the foreign table has a column named like the target\'s tenant column.',
    equivalents: { pgtap: 'none', supabaseLinter: '0017_foreign_table_in_api' },
  },
  (ctx) => {
    const hits: RuleHit[] = [];
    for (const ft of ctx.security.foreignTables) {
      if (!ft.columns.includes(ctx.target.tenantColumn)) continue;
      const relation = ctx.structure.relations.find((r) => r.schema === ft.schema && r.name === ft.name);
      if (relation?.rlsEnabled) continue;
      const readers = ctx.subjects.filter((s) => readable(ctx, s, ft.schema, ft.name));
      if (readers.length > 0) {
        hits.push({ object: nameOf(ft), observed: { readers, server: ft.server, wrapper: ft.wrapper }, remediation: `REVOKE SELECT ON ${sqlName(ft)} FROM ${readers.map(sqlIdent).join(', ')};` });
      }
    }
    return hits;
  },
);

/**
 * Tenant tables a function reads: recorded dependencies (SQL-standard bodies), or (heuristic) the
 * table's name in its source — schema-qualified, or unqualified when the table's schema is on the
 * function's pinned search_path (or the function has none, so the caller's path decides).
 */
export function tenantTablesReadByFunction(ctx: RuleContext, f: FunctionInfo): TenantTable[] {
  const source = f.source.toLowerCase();
  const path = f.searchPath === null ? null : f.searchPath.split(',').map((s) => s.trim().replace(/^"|"$/g, '').toLowerCase());
  const word = (s: string) => `"?${s.toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"?`;
  return ctx.tenantTables.filter((t) => {
    if (f.dependsOn.some((d) => d.schema === t.relation.schema && d.name === t.relation.name)) return true;
    if (new RegExp(`(^|[^\\w$])${word(t.relation.schema)}\\s*\\.\\s*${word(t.relation.name)}($|[^\\w$])`).test(source)) return true;
    const unqualified = new RegExp(`(^|[^\\w$.])${word(t.relation.name)}($|[^\\w$])`).test(source);
    return unqualified && (path === null || path.includes(t.relation.schema.toLowerCase()));
  });
}

const tenantArgument = /(^|_)(tenant|account|org|organization|organisation|team|workspace|company|project)_?id$/i;

/** Argument names of a function (`p_account_id uuid, n integer` → p_account_id, n). */
function argumentNames(f: FunctionInfo): string[] {
  return f.arguments
    .split(',')
    .map((a) => a.trim().replace(/^(IN|OUT|INOUT|VARIADIC)\s+/i, ''))
    .filter(Boolean)
    .map((a) => a.split(/\s+/)[0]!.replace(/^"|"$/g, ''));
}

/**
 * A SECURITY DEFINER function callable by the API's roles, taking a tenant id argument, reading
 * tenant tables with an owner that bypasses their row security, and never checking the caller.
 * Shared with security-definer-reads-tenant-data, which leaves these to this rule.
 */
export function definerRpcWithoutMembershipCheck(ctx: RuleContext, f: FunctionInfo) {
  if (!f.securityDefiner || (f.kind !== 'function' && f.kind !== 'procedure')) return null;
  const args = argumentNames(f).filter((a) => a === ctx.target.tenantColumn || tenantArgument.test(a));
  if (args.length === 0) return null;
  if (checksCaller(ctx, f)) return null;
  if (f.source.trim() === '') return null; // a BEGIN ATOMIC body: not readable here
  const api = ['anon', 'authenticated', ...ctx.subjects];
  const callers = [...new Set([...(f.grants.some((g) => g.grantee === PUBLIC && g.privilege === 'EXECUTE') ? [PUBLIC] : []), ...f.executableBy.filter((s) => api.includes(s))])];
  if (callers.length === 0) return null;
  const reads = tenantTablesReadByFunction(ctx, f)
    .map((t) => ({ table: nameOf(t.relation), reason: bypassReason(ctx.security, f.owner, t.relation) }))
    .filter((x) => x.reason !== null);
  if (reads.length === 0) return null;
  return { args, callers, reads };
}

export const securityDefinerReadsTenantData = defineRule(
  {
    id: 'security-definer-reads-tenant-data',
    title: 'SECURITY DEFINER function executable by the app role reads tenant tables',
    severity: 'high',
    leakClass: 'read',
    cwe: 'CWE-250',
    models: ['rls', 'schema'],
    description:
      'A SECURITY DEFINER function runs with its owner\'s rights. Its owner is not subject to the tables\' row security (superuser, BYPASSRLS, or the owner of a table without FORCE) — or, in the schema model, can read other tenants\' schemas — and the role under test may EXECUTE it (functions are executable by PUBLIC unless revoked). Unless the function filters by tenant itself, every tenant\'s rows are one call away.',
    remediation:
      'Make it `SECURITY INVOKER` if it does not need elevated rights; otherwise filter by the tenant setting inside it, and `REVOKE EXECUTE ON FUNCTION f FROM PUBLIC` then grant it only to roles that need it.',
    heuristic:
      'Which tables a function reads: pg_depend for SQL-standard bodies (BEGIN ATOMIC), otherwise a whole-word match of tenant table names in prosrc (PL/pgSQL, SQL strings): schema-qualified, or unqualified when the table\'s schema is on the function\'s pinned search_path (any schema when it pins none). Names in comments count; dynamic SQL that builds table names is not seen.',
    equivalents: { pgtap: 'is_definer', supabaseLinter: '0028_anon_security_definer_function_executable / 0029_authenticated_security_definer_function_executable' },
  },
  (ctx) => {
    const hits: RuleHit[] = [];
    for (const f of ctx.security.functions.filter((x) => x.securityDefiner)) {
      // Filters by the caller itself (a membership helper), or reported by definer-rpc-tenant-argument.
      if ((f.source.trim() !== '' && checksCaller(ctx, f)) || definerRpcWithoutMembershipCheck(ctx, f) !== null) continue;
      const executors = f.executableBy.filter((s) => ctx.subjects.includes(s));
      if (executors.length === 0) continue;
      const reads = tenantTablesReadByFunction(ctx, f)
        .map((t) => ({
          table: nameOf(t.relation),
          reason: ctx.model === 'schema' ? `${f.owner} reads tenant schema ${t.tenantSchema}` : bypassReason(ctx.security, f.owner, t.relation),
        }))
        .filter((x) => x.reason !== null);
      if (reads.length > 0) {
        const signature = `${sqlName(f)}(${f.arguments})`;
        hits.push({
          object: `function ${f.schema}.${f.name}(${f.arguments})`,
          remediation: `ALTER FUNCTION ${signature} SECURITY INVOKER; or filter by the tenant setting inside it and REVOKE EXECUTE ON FUNCTION ${signature} FROM PUBLIC, ${executors.map(sqlIdent).join(', ')};`,
          observed: { owner: f.owner, executableBy: executors, publicExecute: f.grants.some((g) => g.grantee === 'PUBLIC'), reads },
        });
      }
    }
    return hits;
  },
);

const nonSql = new Set(['c', 'internal']);

export const securityDefinerSearchPathMutable = defineRule(
  {
    id: 'security-definer-search-path-mutable',
    title: 'SECURITY DEFINER function without a fixed search_path',
    severity: 'high',
    leakClass: 'privilege',
    cwe: 'CWE-426',
    models: ['rls', 'schema', 'database'],
    description:
      'A SECURITY DEFINER function that does not pin `search_path` resolves unqualified names through the caller\'s search_path. A caller who can create objects in any schema on that path (or a tenant schema placed first) can substitute a table, function or operator that then runs with the owner\'s rights.',
    remediation: '`ALTER FUNCTION f(...) SET search_path = pg_catalog, pg_temp;` and schema-qualify every name in the body.',
    equivalents: { pgtap: 'none', supabaseLinter: '0011_function_search_path_mutable' },
  },
  (ctx) =>
    databaseCatalogs(ctx).flatMap(({ security, where }) =>
      security.functions
        .filter((f) => f.securityDefiner && f.searchPath === null && !nonSql.has(f.language))
        .filter((f) => f.executableBy.some((s) => ctx.subjects.includes(s)))
        .map((f) => ({
          object: `function ${f.schema}.${f.name}(${f.arguments})${where}`,
          observed: { owner: f.owner, language: f.language, config: f.config },
          remediation: `ALTER FUNCTION ${sqlName(f)}(${f.arguments}) SET search_path = pg_catalog, pg_temp; and schema-qualify the names in its body.`,
        })),
    ),
);

export const functionSearchPathMutable = defineRule(
  {
    id: 'function-search-path-mutable',
    title: 'Function without a fixed search_path',
    severity: 'low',
    leakClass: 'configuration',
    cwe: 'CWE-426',
    models: ['rls', 'schema', 'database'],
    description:
      'The function resolves unqualified names through the caller\'s search_path. In the schema model the same function then reads whichever tenant\'s schema comes first on the path — correct only as long as every caller sets the path right; in a policy or trigger it can be redirected by a crafted path.',
    remediation: '`ALTER FUNCTION f(...) SET search_path = pg_catalog, public;` (or the schemas it needs), and schema-qualify names.',
    equivalents: { pgtap: 'none', supabaseLinter: '0011_function_search_path_mutable' },
  },
  (ctx) =>
    databaseCatalogs(ctx).flatMap(({ security, where }) =>
      security.functions
        .filter((f) => !f.securityDefiner && f.searchPath === null && !nonSql.has(f.language) && f.kind !== 'aggregate')
        .map((f) => ({
          object: `function ${f.schema}.${f.name}(${f.arguments})${where}`,
          observed: { language: f.language },
          remediation: `ALTER FUNCTION ${sqlName(f)}(${f.arguments}) SET search_path = pg_catalog, ${sqlIdent(f.schema)};`,
        })),
    ),
);
