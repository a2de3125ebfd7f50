/**
 * The probe surface: what a tenant's role can use besides the tables themselves — views and
 * zero-argument functions it may call — and, per table, what the catalog says about its
 * protection (for remediation hints), and whether triggers can be switched off for probes.
 */
import type { Queryable } from '../target/connection.ts';
import { withTransaction } from '../target/connection.ts';
import type { RootCause } from '../findings/types.ts';
import type { Relation } from './types.ts';

export interface ProbeSurface {
  readonly views: readonly { readonly label: string; readonly sql: string }[];
  readonly functions: readonly { readonly label: string; readonly sql: string }[];
  /** Per table label: the catalog's account of its protection, for remediation. */
  readonly hints: ReadonlyMap<string, string>;
  /** `session_replication_role = replica` is allowed (probes may write without firing triggers). */
  readonly canDisableTriggers: boolean;
  /** Per table label: the configuration that makes isolation impossible there, when there is one. */
  readonly causes: ReadonlyMap<string, RootCause>;
}

/** Views and zero-argument functions the role may use, and remediation hints per table. */
export async function readProbeSurface(q: Queryable, tables: readonly { readonly label: string; readonly relation: Relation }[], role: string): Promise<ProbeSurface> {
  const system = `n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_'`;
  const notExtension = (oid: string) => `not exists (select 1 from pg_depend d where d.objid = ${oid} and d.deptype = 'e')`;
  const views = await q.query<{ label: string; sql: string }>(
    `select n.nspname || '.' || c.relname as label, quote_ident(n.nspname) || '.' || quote_ident(c.relname) as sql
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'v' and ${system} and has_table_privilege($1, c.oid, 'SELECT') and ${notExtension('c.oid')}
      order by 1`,
    [role],
  );
  const functions = await q.query<{ label: string; sql: string }>(
    `select n.nspname || '.' || p.proname || '()' as label, quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '()' as sql
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where p.pronargs = 0 and p.prokind = 'f' and ${system}
        and p.prorettype not in ('trigger'::regtype, 'void'::regtype, 'event_trigger'::regtype, 'internal'::regtype, 'language_handler'::regtype)
        and has_function_privilege($1, p.oid, 'EXECUTE') and ${notExtension('p.oid')}
      order by 1`,
    [role],
  );
  const roleInfo = (
    await q.query<{ bypass: boolean; superuser: boolean }>('select rolbypassrls as bypass, rolsuper as superuser from pg_roles where rolname = $1', [role])
  ).rows[0];
  const policies = await q.query<{ schemaname: string; tablename: string; text: string }>(
    `select schemaname, tablename,
            string_agg(format('%s (%s, %s, to %s)%s%s', policyname, cmd, lower(permissive), array_to_string(roles, ','),
                              coalesce(' USING ' || qual, ''), coalesce(' WITH CHECK ' || with_check, '')), '; ' order by policyname) as text
       from pg_policies group by 1, 2`,
  );
  const policyText = new Map(policies.rows.map((p) => [`${p.schemaname}.${p.tablename}`, p.text]));
  const hints = new Map<string, string>();
  const causes = new Map<string, RootCause>();
  for (const table of tables) {
    const cause = rootCauseOf(table.label, table.relation, role, roleInfo);
    if (cause) causes.set(table.label, cause);
    const r = table.relation;
    const parts: string[] = [];
    if (roleInfo?.superuser) parts.push(`Role ${role} is a superuser and bypasses row level security.`);
    else if (roleInfo?.bypass) parts.push(`Role ${role} has BYPASSRLS.`);
    if (!r.rlsEnabled) parts.push(`Row level security is disabled on ${table.label}.`);
    else if (r.owner === role && !r.rlsForced) parts.push(`${role} owns ${table.label} and row level security is not forced (owners bypass their own policies).`);
    const p = policyText.get(table.label);
    if (r.rlsEnabled && p) parts.push(`Policies: ${p.length > 400 ? `${p.slice(0, 400)}…` : p}.`);
    if (r.rlsEnabled && !p) parts.push(`${table.label} has no policies.`);
    hints.set(table.label, parts.join(' '));
  }
  const canDisableTriggers = await withTransaction(
    q,
    async (tx) => tx.query('set local session_replication_role = replica').then(() => true, () => false),
    'rollback',
  ).catch(() => false);
  return { views: views.rows, functions: functions.rows, hints, canDisableTriggers, causes };
}

/** What makes row-level security no boundary at all on one table, named as the static rule names it. */
function rootCauseOf(label: string, r: Relation, role: string, roleInfo: { bypass: boolean; superuser: boolean } | undefined): RootCause | null {
  const ident = `"${role.replaceAll('"', '""')}"`;
  if (roleInfo?.superuser) {
    return { key: `superuser:${role}`, checkId: 'app-role-superuser', object: `role ${role}`, title: `Role ${role} is a superuser, so row-level security never applies to it`, remediation: `ALTER ROLE ${ident} NOSUPERUSER;` };
  }
  if (roleInfo?.bypass) {
    return { key: `bypassrls:${role}`, checkId: 'app-role-bypassrls', object: `role ${role}`, title: `Role ${role} has BYPASSRLS, so no policy applies to it`, remediation: `ALTER ROLE ${ident} NOBYPASSRLS;` };
  }
  if (!r.rlsEnabled) {
    return { key: `rls-disabled:${label}`, checkId: 'rls-disabled', object: label, title: `Row-level security is off on ${label}`, remediation: `ALTER TABLE ${label} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY; and add a policy comparing the tenant column with the tenant setting.` };
  }
  if (r.owner === role && !r.rlsForced) {
    return { key: `rls-not-forced:${label}`, checkId: 'rls-not-forced', object: label, title: `${role} owns ${label} and row-level security is not forced, so its policies do not apply to ${role}`, remediation: `ALTER TABLE ${label} FORCE ROW LEVEL SECURITY; (better: the app role should not own its tables).` };
  }
  return null;
}
