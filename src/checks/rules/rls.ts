/**
 * Row-level security rules (rls model): is RLS on, does it apply to the app role, and do the
 * policies bind every command to the tenant in the tenant context.
 */
import type { Policy, PolicyCommand } from '../../catalog/security.ts';
import { bypassReason, nameOf, ownershipOf, policiesOf, policyAppliesTo, privilegesOn, sqlIdent, sqlName } from './context.ts';
import { defineRule } from './define.ts';
import { analyseExpression, readsCallerIdentity, settingsIn, type Analysis, type SubqueryLink, type TenantPredicate } from './policy-expression.ts';
import type { QualifiedName, Relation } from '../../catalog/types.ts';
import type { RuleContext, RuleHit, TenantTable } from './types.ts';

const dml = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] as const;
type Command = (typeof dml)[number];

function accessibleBy(ctx: RuleContext, subject: string, t: TenantTable): string[] {
  const privileges = privilegesOn(ctx, subject, t.relation);
  return dml.filter((p) => privileges.has(p));
}

export function tables(ctx: RuleContext) {
  return ctx.tenantTables.filter((t) => t.relation.kind === 'table' || t.relation.kind === 'partitioned-table');
}

export function policySql(p: Policy): string {
  return [
    `CREATE POLICY ${p.name} ON ${p.schema}.${p.table} AS ${p.permissive ? 'PERMISSIVE' : 'RESTRICTIVE'} FOR ${p.command} TO ${p.roles.join(', ')}`,
    p.using !== null ? `USING ${wrap(p.using)}` : null,
    p.withCheck !== null ? `WITH CHECK ${wrap(p.withCheck)}` : null,
  ]
    .filter(Boolean)
    .join(' ');
}
const wrap = (e: string) => (e.startsWith('(') ? e : `(${e})`);

export const rlsDisabled = defineRule(
  {
    id: 'rls-disabled',
    title: 'Tenant table without row level security',
    severity: 'critical',
    leakClass: 'read',
    cwe: 'CWE-862',
    models: ['rls'],
    description:
      'A tenant-scoped table (it has the tenant column, or reaches a table that has it through foreign keys) has row level security disabled and no policies, and the app role can read or write it. Every tenant context sees and changes every tenant\'s rows: the tenant setting filters nothing.',
    remediation:
      'Enable and force row level security, then add a policy binding the tenant column to the tenant setting:\n\n```sql\nALTER TABLE t ENABLE ROW LEVEL SECURITY;\nALTER TABLE t FORCE ROW LEVEL SECURITY;\nCREATE POLICY tenant_isolation ON t TO app_user\n  USING (tenant_id = current_setting(\'app.current_tenant\')::uuid)\n  WITH CHECK (tenant_id = current_setting(\'app.current_tenant\')::uuid);\n```',
    equivalents: { pgtap: 'none (pgTAP has no RLS-enabled assertion)', supabaseLinter: '0013_rls_disabled_in_public' },
  },
  (ctx) => {
    const hits: RuleHit[] = [];
    for (const t of tables(ctx)) {
      if (t.relation.rlsEnabled || policiesOf(ctx, t.relation).length > 0) continue;
      for (const subject of ctx.subjects) {
        const commands = accessibleBy(ctx, subject, t);
        if (commands.length === 0) continue;
        hits.push({
          object: nameOf(t.relation),
          observed: { role: subject, privileges: commands, rlsEnabled: false, policies: 0 },
          remediation: `ALTER TABLE ${sqlName(t.relation)} ENABLE ROW LEVEL SECURITY; ALTER TABLE ${sqlName(t.relation)} FORCE ROW LEVEL SECURITY; then CREATE POLICY … TO ${sqlIdent(subject)} USING (${t.tenantColumn ?? '<tenant predicate>'}${t.tenantColumn ? ` = current_setting('${ctx.target.tenantSetting}')::<type>` : ''}) WITH CHECK (…same…).`,
        });
      }
    }
    return hits;
  },
);

export const policyExistsRlsDisabled = defineRule(
  {
    id: 'policy-exists-rls-disabled',
    title: 'Policies on a tenant table whose row level security is disabled',
    severity: 'critical',
    leakClass: 'read',
    cwe: 'CWE-862',
    models: ['rls'],
    description:
      'The table has policies, so its authors meant it to be isolated, but row level security is disabled on it: PostgreSQL ignores the policies and the app role sees and changes every tenant\'s rows.',
    remediation: 'Enable (and force) row level security on the table: `ALTER TABLE t ENABLE ROW LEVEL SECURITY; ALTER TABLE t FORCE ROW LEVEL SECURITY;`',
    equivalents: { pgtap: 'none', supabaseLinter: '0007_policy_exists_rls_disabled' },
  },
  (ctx) => {
    const hits: RuleHit[] = [];
    for (const t of tables(ctx)) {
      const policies = policiesOf(ctx, t.relation);
      if (t.relation.rlsEnabled || policies.length === 0) continue;
      for (const subject of ctx.subjects) {
        const commands = accessibleBy(ctx, subject, t);
        if (commands.length === 0) continue;
        hits.push({
          object: nameOf(t.relation),
          observed: { role: subject, privileges: commands, policies: policies.map((p) => p.name) },
          remediation: `ALTER TABLE ${sqlName(t.relation)} ENABLE ROW LEVEL SECURITY; ALTER TABLE ${sqlName(t.relation)} FORCE ROW LEVEL SECURITY;`,
        });
      }
    }
    return hits;
  },
);

export const rlsEnabledNoPolicy = defineRule(
  {
    id: 'rls-enabled-no-policy',
    title: 'Row level security enabled without any policy (fails closed)',
    severity: 'info',
    leakClass: 'configuration',
    cwe: 'CWE-1188',
    models: ['rls'],
    description:
      'Row level security is on but the table has no policy, so every non-owner sees no rows and can write none (default deny). Nothing leaks, but the application cannot use the table as the app role either: usually a forgotten migration step.',
    remediation: 'Add the tenant policy the table is missing (see rls-disabled), or drop RLS if the table is deliberately unreachable.',
    equivalents: { pgtap: 'none', supabaseLinter: '0008_rls_enabled_no_policy' },
  },
  (ctx) =>
    tables(ctx)
      .filter((t) => t.relation.rlsEnabled && policiesOf(ctx, t.relation).length === 0)
      .map((t) => ({ object: nameOf(t.relation), observed: { rlsEnabled: true, forced: t.relation.rlsForced, policies: 0 } })),
);

export const rlsNotForced = defineRule(
  {
    id: 'rls-not-forced',
    title: 'App role owns a tenant table whose row level security is not FORCEd',
    severity: 'critical',
    leakClass: 'read',
    cwe: 'CWE-285',
    models: ['rls'],
    description:
      'Table owners are exempt from row level security unless it is FORCEd. The app role owns the table, inherits the privileges of its owner, or can `SET ROLE` to the owner, so its queries ignore every policy and see all tenants.',
    remediation:
      'Prefer a separate owner (migration) role that the app role is not a member of. At least force RLS: `ALTER TABLE t FORCE ROW LEVEL SECURITY;`',
    equivalents: { pgtap: 'none', supabaseLinter: 'none' },
  },
  (ctx) => {
    const hits: RuleHit[] = [];
    for (const t of tables(ctx)) {
      if (!t.relation.rlsEnabled || t.relation.rlsForced) continue;
      for (const subject of ctx.subjects) {
        const how = ownershipOf(ctx.security, subject, t.relation.owner);
        if (!how) continue;
        hits.push({
          object: nameOf(t.relation),
          observed: { role: subject, owner: t.relation.owner, relation: how, forced: false },
          remediation:
            how === 'owner'
              ? `ALTER TABLE ${sqlName(t.relation)} OWNER TO <migration role>; ALTER TABLE ${sqlName(t.relation)} FORCE ROW LEVEL SECURITY;`
              : `ALTER TABLE ${sqlName(t.relation)} FORCE ROW LEVEL SECURITY; and revoke ${sqlIdent(t.relation.owner)} (or the role that carries it) from ${sqlIdent(subject)}.`,
        });
      }
    }
    return hits;
  },
);

export const appRoleOwnsTenantTable = defineRule(
  {
    id: 'app-role-owns-tenant-table',
    title: 'App role owns a tenant table (can turn its row level security off)',
    severity: 'high',
    leakClass: 'privilege',
    cwe: 'CWE-269',
    models: ['rls'],
    description:
      'RLS is forced, so the owner\'s queries are filtered — but the owner can `ALTER TABLE … NO FORCE / DISABLE ROW LEVEL SECURITY`, drop or replace policies. Any SQL injection in the application becomes a cross-tenant read.',
    remediation: 'Transfer ownership to a migration role the app role is not a member of: `ALTER TABLE t OWNER TO app_owner;` and grant the app role only SELECT/INSERT/UPDATE/DELETE.',
    equivalents: { pgtap: 'table_owner_is', supabaseLinter: 'none' },
  },
  (ctx) => {
    const hits: RuleHit[] = [];
    for (const t of tables(ctx)) {
      if (!t.relation.rlsEnabled || !t.relation.rlsForced) continue;
      for (const subject of ctx.subjects) {
        const how = ownershipOf(ctx.security, subject, t.relation.owner);
        if (!how) continue;
        hits.push({
          object: nameOf(t.relation),
          observed: { role: subject, owner: t.relation.owner, relation: how },
          remediation:
            how === 'owner'
              ? `ALTER TABLE ${sqlName(t.relation)} OWNER TO <migration role>; GRANT SELECT, INSERT, UPDATE, DELETE ON ${sqlName(t.relation)} TO ${sqlIdent(subject)};`
              : `REVOKE ${sqlIdent(t.relation.owner)} FROM ${sqlIdent(subject)}; (or from the role that carries the membership)`,
        });
      }
    }
    return hits;
  },
);

/* ---------- policy analysis ---------- */

export interface PolicyVerdict {
  readonly policy: Policy;
  readonly side: 'using' | 'check';
  readonly commands: Command[];
  readonly expression: string;
  readonly analysis: Analysis;
}

/**
 * The tenant predicate for `t`'s policies as seen by `subject`. A correlated EXISTS / IN subquery
 * over a parent table counts as tenant-bound when parentScopedFor says so (`visited` stops
 * cycles between tables whose policies point at each other).
 */
export function predicateFor(ctx: RuleContext, t: TenantTable, subject: string, visited: ReadonlySet<string> = new Set(), side: 'using' | 'check' = 'using'): TenantPredicate {
  const helpers = ctx.security.functions.filter((f) => f.source.includes(`'${ctx.target.tenantSetting}'`)).map((f) => f.name);
  const functionSettings: Record<string, string[]> = {};
  for (const f of ctx.security.functions) {
    const read = settingsIn(f.source);
    if (read.length > 0) functionSettings[f.name] = [...new Set([...(functionSettings[f.name] ?? []), ...read])];
  }
  const userColumns = side === 'using' ? userColumnsOf(ctx, t.relation) : [];
  return {
    setting: ctx.target.tenantSetting,
    column: t.tenantColumn,
    helpers,
    functionSettings,
    table: t.relation.name,
    rowColumns: [...(t.tenantColumn !== null ? [t.tenantColumn] : []), ...userColumns],
    callerFunctions: callerFunctions(ctx),
    userFunctions: Object.fromEntries(ctx.security.functions.map((f) => [f.name, f.source.trim() !== '' && !['c', 'internal'].includes(f.language)])),
    parentScoped: (link) => parentScopedFor(ctx, t, subject, link, new Set([...visited, nameOf(t.relation)])),
    parentUndecided: (link) => parentVerdict(ctx, t, subject, link, new Set([...visited, nameOf(t.relation)])) === 'undecided',
    parentTied: (link) => parentTiedFor(ctx, t, link),
  };
}

/** The users table of the convention: `auth.users` (Supabase), else a table named `users`. */
export function usersTables(ctx: RuleContext): QualifiedName[] {
  return ctx.structure.relations.filter((r) => r.name === 'users' && (r.kind === 'table' || r.kind === 'partitioned-table'));
}

/** Columns of `r` keyed by the user: single-column foreign keys to a users table. */
export function userColumnsOf(ctx: RuleContext, r: { readonly foreignKeys: Relation['foreignKeys'] }): string[] {
  const users = usersTables(ctx);
  return r.foreignKeys
    .filter((fk) => fk.columns.length === 1 && users.some((u) => u.schema === fk.references.schema && u.name === fk.references.name))
    .map((fk) => fk.columns[0]!);
}

const callerFunctionCache = new WeakMap<RuleContext, string[]>();

/**
 * Functions whose body reads the caller's identity — current_user/session_user, a JWT claims
 * setting, the tenant setting — directly or by calling such a function (to a fixed point):
 * `auth.uid()`, `is_member(account_id)`, `private.get_accounts_with_role()`.
 */
export function callerFunctions(ctx: RuleContext): string[] {
  const cached = callerFunctionCache.get(ctx);
  if (cached) return cached;
  const found = new Set<string>();
  const calls = (source: string, name: string) => new RegExp(`(^|[^\\w$])"?${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"?\\s*\\(`, 'i').test(source);
  let grew = true;
  while (grew) {
    grew = false;
    for (const f of ctx.security.functions) {
      if (found.has(f.name) || f.source.trim() === '') continue;
      if (readsCallerIdentity(f.source) || f.source.includes(`'${ctx.target.tenantSetting}'`) || [...found].some((n) => calls(f.source, n))) {
        found.add(f.name);
        grew = true;
      }
    }
  }
  const out = [...found];
  callerFunctionCache.set(ctx, out);
  return out;
}

/** True when `link`'s equalities cover a foreign key from `child` to the subquery's parent. */
function parentTiedFor(ctx: RuleContext, child: TenantTable, link: SubqueryLink): boolean {
  return child.relation.foreignKeys.some(
    (fk) =>
      fk.references.name === link.parent.name &&
      (link.parent.schema === null || fk.references.schema === link.parent.schema) &&
      fk.columns.every((c, i) => link.pairs.some((p) => p.column === c && p.parentColumn === fk.referencedColumns[i])),
  );
}

/**
 * True when a subquery in a policy on `child` only reaches the current tenant's rows of its
 * parent, for `subject`:
 * - the parent is a tenant table, and the subquery's equalities cover every column pair of a
 *   foreign key from `child` to it (so each child row matches at most its own parent row); when
 *   `child` has a tenant column, that key includes it (else the row's own tenant_id goes unchecked);
 * - the parent's row security applies to `subject` (bypassReason: enabled, not superuser or
 *   BYPASSRLS, not an owner of an unFORCEd table) and, unless FORCEd, `subject` cannot even
 *   SET ROLE to its owner (ownershipOf);
 * - for SELECT, a tenant-bound RESTRICTIVE policy applies to `subject`, or at least one permissive
 *   policy does and every one that does is tenant-bound and fails closed.
 */
function parentScopedFor(ctx: RuleContext, child: TenantTable, subject: string, link: SubqueryLink, visited: ReadonlySet<string>): boolean {
  return parentVerdict(ctx, child, subject, link, visited) === 'bound';
}

/** As parentScopedFor, but 'undecided' when the parent's SELECT policies are undecided rather than unbound. */
function parentVerdict(ctx: RuleContext, child: TenantTable, subject: string, link: SubqueryLink, visited: ReadonlySet<string>): 'bound' | 'undecided' | 'unbound' {
  const candidates = tables(ctx).filter(
    (x) => x.relation.name === link.parent.name && (link.parent.schema === null || x.relation.schema === link.parent.schema),
  );
  // Unqualified in pg_get_expr() text: visible in the search_path; prefer the child's schema.
  const parent = candidates.length === 1 ? candidates[0] : candidates.find((x) => x.relation.schema === child.relation.schema);
  if (!parent || visited.has(nameOf(parent.relation))) return 'unbound';
  const tied = child.relation.foreignKeys.some(
    (fk) =>
      fk.references.schema === parent.relation.schema &&
      fk.references.name === parent.relation.name &&
      (child.tenantColumn === null || fk.columns.includes(child.tenantColumn)) &&
      fk.columns.every((c, i) => link.pairs.some((p) => p.column === c && p.parentColumn === fk.referencedColumns[i])),
  );
  if (!tied) return 'unbound';
  const r = parent.relation;
  if (bypassReason(ctx.security, subject, r) !== null) return 'unbound';
  if (!r.rlsForced && ownershipOf(ctx.security, subject, r.owner) !== null) return 'unbound';
  const predicate = predicateFor(ctx, parent, subject, visited);
  const applicable = policiesOf(ctx, r).filter((p) => appliesToCommand(p, 'SELECT') && policyAppliesTo(ctx, p, subject) && p.using !== null);
  const verdictOf = (p: Policy) => {
    const a = analyseExpression(p.using!, predicate);
    return a.failsOpen.length > 0 ? 'unbound' : a.classification === 'bound' ? 'bound' : a.classification === 'undecided' ? 'undecided' : 'unbound';
  };
  const restrictive = applicable.filter((p) => !p.permissive).map(verdictOf);
  if (restrictive.includes('bound')) return 'bound';
  const permissive = applicable.filter((p) => p.permissive).map(verdictOf);
  if (permissive.length === 0) return 'unbound';
  if (permissive.every((v) => v === 'bound')) return 'bound';
  return permissive.includes('unbound') && !restrictive.includes('undecided') ? 'unbound' : 'undecided';
}


export function appliesToCommand(p: Policy, c: Command): boolean {
  return p.command === 'ALL' || p.command === (c as PolicyCommand);
}

/**
 * The expression PostgreSQL uses for a policy on one side, or null when the policy has none there.
 * WITH CHECK defaults to USING (ALL/UPDATE policies); a policy with no expression on a side lets
 * nothing through on it (checked on PostgreSQL 15 and 18: an INSERT policy without WITH CHECK
 * rejects every row), so it cannot widen anything.
 */
export function expressionOf(p: Policy, side: 'using' | 'check'): string | null {
  if (side === 'using') return p.using;
  return p.withCheck ?? p.using;
}

/**
 * Every (policy, side) that could let the subject past the tenant boundary: permissive policies
 * on commands the subject may run, unless a restrictive policy on that command is tenant-bound
 * (restrictive policies are ANDed with the OR of the permissive ones).
 */
export function verdicts(ctx: RuleContext): { table: TenantTable; subject: string; verdicts: PolicyVerdict[] }[] {
  const out: { table: TenantTable; subject: string; verdicts: PolicyVerdict[] }[] = [];
  for (const t of tables(ctx)) {
    if (!t.relation.rlsEnabled) continue;
    for (const subject of ctx.subjects) {
      if (bypassReason(ctx.security, subject, t.relation)) continue; // reported by the role/ownership rules
      const predicates = { using: predicateFor(ctx, t, subject, new Set(), 'using'), check: predicateFor(ctx, t, subject, new Set(), 'check') };
      const allowed = new Set(accessibleBy(ctx, subject, t));
      const byKey = new Map<string, PolicyVerdict>();
      for (const command of dml) {
        if (!allowed.has(command)) continue;
        const sides: ('using' | 'check')[] = command === 'SELECT' || command === 'DELETE' ? ['using'] : command === 'INSERT' ? ['check'] : ['using', 'check'];
        const applicable = policiesOf(ctx, t.relation).filter((p) => appliesToCommand(p, command) && policyAppliesTo(ctx, p, subject));
        for (const side of sides) {
          const predicate = predicates[side];
          const restrictedToTenant = applicable.filter((p) => !p.permissive).some((p) => {
            const expression = expressionOf(p, side);
            return expression !== null && analyseExpression(expression, predicate).classification === 'bound';
          });
          // A restrictive policy the text cannot decide may well restrict: what it ANDs with is undecided too.
          const restrictedUndecided = applicable.filter((p) => !p.permissive).some((p) => {
            const expression = expressionOf(p, side);
            return expression !== null && analyseExpression(expression, predicate).classification === 'undecided';
          });
          for (const p of applicable.filter((x) => x.permissive)) {
            const expression = expressionOf(p, side);
            if (expression === null) continue; // contributes no rows on this side
            let analysis = analyseExpression(expression, predicate);
            if (restrictedToTenant && analysis.failsOpen.length === 0 && analysis.otherSettings.length === 0) continue;
            if (restrictedToTenant) analysis = { ...analysis, classification: 'bound' };
            else if (restrictedUndecided && analysis.classification !== 'bound') analysis = { ...analysis, classification: 'undecided' };
            const key = `${p.name}|${side}`;
            const existing = byKey.get(key);
            if (existing) existing.commands.push(command);
            else byKey.set(key, { policy: p, side, commands: [command], expression, analysis });
          }
        }
      }
      out.push({ table: t, subject, verdicts: [...byKey.values()] });
    }
  }
  return out;
}

export const policyObject = (p: Policy) => `policy ${p.name} on ${p.schema}.${p.table}`;

/** One hit per policy and role (a policy's USING and WITH CHECK sides often say the same thing). */
export function oncePerPolicy(hits: (RuleHit & { observed: { role: string } })[]): RuleHit[] {
  const seen = new Set<string>();
  return hits.filter((h) => {
    const key = `${h.object}|${h.observed.role}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

function siblings(ctx: RuleContext, v: PolicyVerdict, subject: string): string[] {
  return policiesOf(ctx, { schema: v.policy.schema, name: v.policy.table })
    .filter((p) => p.permissive && p.name !== v.policy.name && policyAppliesTo(ctx, p, subject) && v.commands.some((c) => appliesToCommand(p, c)))
    .map((p) => p.name);
}

export const policyReadNotTenantScoped = defineRule(
  {
    id: 'policy-read-not-tenant-scoped',
    title: 'Policy lets the app role read or change rows of any tenant',
    severity: 'critical',
    leakClass: 'read',
    cwe: 'CWE-639',
    models: ['rls'],
    description:
      'A permissive policy that applies to the app role has a USING expression (for SELECT, UPDATE or DELETE) that never mentions the tenant setting — `USING (true)`, a role check, a user check. Permissive policies are ORed, so this one alone opens every tenant\'s rows to that command, whatever the other policies say.',
    remediation:
      'Bind the expression to the tenant: `USING (tenant_id = current_setting(\'app.current_tenant\')::uuid AND …)`, or add a RESTRICTIVE policy with the tenant predicate so that every permissive policy is ANDed with it.',
    heuristic:
      'Reads pg_get_expr() text: the expression "mentions the tenant" when it calls current_setting(\'<tenant setting>\') or a function whose source contains that setting name, and (for tables with a tenant column) names the column.\n\n' +
      'It is also bound when it ties a column of the row (the tenant column; for USING also a column with a foreign key to a users table) to the caller: `auth.uid()`, `(SELECT auth.uid())`, a `request.jwt.claims` / `request.jwt.claim.*` / `jwt.claims.*` setting, `current_user` / `session_user`, or a function (SECURITY DEFINER or not) whose body reads one of these, to any depth — `is_member(account_id)`, `account_id IN (SELECT get_accounts_with_role())`, `tenant_id = (SELECT id FROM tenants WHERE db_user = current_user)`. A RESTRICTIVE policy bound that way is ANDed with every permissive one. What names the row and the caller but cannot be read (a negation, a helper with an unreadable body) is reported by policy-undecided at info, never here.\n\n' +
      'A child table may also rely on its parent\'s row security: `USING (EXISTS (SELECT 1 FROM comments c WHERE c.id = comment_id))` or `USING (comment_id IN (SELECT c.id FROM comments c))`, alone or ANDed with other conditions, counts as tenant-bound when all of these hold: ' +
      '(1) the subquery reads one table (no join, comma, UNION/INTERSECT/EXCEPT, GROUP BY, HAVING, LIMIT/OFFSET, ORDER BY, and no function call in its select list, since `SELECT count(*)` returns a row even when no parent is visible); ' +
      '(2) plain `parent.col = child.col` equalities among the top-level ANDs of its WHERE (or the IN\'s column pair) cover every column of a foreign key from the policy\'s table to the parent — so a child row matches only its own parent — and, when the policy\'s table has a tenant column, that foreign key includes it; an uncorrelated `EXISTS (SELECT 1 FROM comments)` is not recognised (it admits every child row once the tenant has any comment); ' +
      '(3) the parent is a tenant table whose row security applies to the role: enabled; the role is not superuser or BYPASSRLS; and unless FORCEd, the role neither owns the parent, inherits from its owner, nor can SET ROLE to it (the same ownership tests as rls-not-forced); ' +
      '(4) for SELECT, the parent has a tenant-bound RESTRICTIVE policy for the role, or at least one permissive policy for it and every one is tenant-bound and does not fail open (read the same way, so parents can chain: attachments → comments → tasks). ' +
      'Anything else — casts or functions around the correlated columns, NOT EXISTS, an OR beside the subquery, a parent found only by a name ambiguous across schemas — is not recognised and the policy is reported. Equalities are matched textually, not proven.',
    equivalents: {
      pgtap: 'none (policy_cmd_is / policy_roles_are check command and roles, not the expression)',
      supabaseLinter: '0024_rls_policy_always_true (literal `true` only, for its anon/authenticated roles)',
    },
  },
  (ctx) =>
    verdicts(ctx).flatMap(({ subject, verdicts: vs }) =>
      vs
        .filter((v) => v.side === 'using' && v.analysis.classification === 'unbound')
        .map((v) => ({
          object: policyObject(v.policy),
          statement: policySql(v.policy),
          observed: { role: subject, commands: v.commands, using: v.expression, orWith: siblings(ctx, v, subject) },
          expected: `USING mentions current_setting('${ctx.target.tenantSetting}'), or ties the row through its foreign key to a tenant-scoped parent (EXISTS / IN) whose row security applies`,
        })),
    ),
);

export const policyWriteNotTenantChecked = defineRule(
  {
    id: 'policy-write-not-tenant-checked',
    title: 'Policy lets the app role write rows into any tenant (WITH CHECK missing or true)',
    severity: 'critical',
    leakClass: 'write',
    cwe: 'CWE-639',
    models: ['rls'],
    description:
      'A permissive INSERT/UPDATE/ALL policy that applies to the app role has a WITH CHECK expression (or, for ALL/UPDATE policies without one, the USING expression PostgreSQL uses instead) that never mentions the tenant setting — `WITH CHECK (true)`, `FOR UPDATE USING (tenant…) WITH CHECK (true)`. The app role can insert rows for another tenant, or UPDATE its own rows into another tenant. (An INSERT policy with no WITH CHECK at all fails closed — PostgreSQL accepts no row through it — and is not reported.)',
    remediation:
      'Give every INSERT/UPDATE/ALL policy a tenant-bound check: `WITH CHECK (tenant_id = current_setting(\'app.current_tenant\')::uuid)`.',
    heuristic:
      'Same expression reading as policy-read-not-tenant-scoped, including a correlated EXISTS / IN subquery over a protected, tenant-scoped parent (see there for exactly what is recognised): in WITH CHECK the subquery also runs under the role\'s row security on the parent, so a new row can only point at the current tenant\'s parent.',
    equivalents: { pgtap: 'none', supabaseLinter: '0024_rls_policy_always_true (literal `WITH CHECK (true)` only, for its anon/authenticated roles)' },
  },
  (ctx) =>
    verdicts(ctx).flatMap(({ table, subject, verdicts: vs }) =>
      vs
        .filter((v) => v.side === 'check' && v.analysis.classification === 'unbound' && selfJoinOf(ctx, table, v) === null)
        .map((v) => ({
          object: policyObject(v.policy),
          statement: policySql(v.policy),
          observed: { role: subject, commands: v.commands, check: v.policy.withCheck, effectiveCheck: v.expression },
          expected: `WITH CHECK mentions current_setting('${ctx.target.tenantSetting}'), or ties the row through its foreign key to a tenant-scoped parent (EXISTS / IN) whose row security applies`,
        })),
    ),
);

export const policyOrWidens = defineRule(
  {
    id: 'policy-or-widens',
    title: 'Policy ORs the tenant predicate with a branch that escapes it',
    severity: 'high',
    leakClass: 'read',
    cwe: 'CWE-639',
    models: ['rls'],
    description:
      'The policy mentions the tenant setting, but an OR branch does not: `tenant_id = current_tenant OR is_public`, `… OR owner_id = current_user_id`. Rows matching the escaping branch are visible (or writable) to every tenant. Across policies the same holds: permissive policies are ORed together, so each one must be tenant-bound on its own.',
    remediation:
      'Move the tenant predicate outside the OR: `tenant_id = current_setting(\'app.current_tenant\')::uuid AND (is_public OR …)`, or add a RESTRICTIVE tenant policy. Data shared by all tenants belongs in a table that is not tenant-scoped.',
    heuristic: 'Top-level OR/AND split of pg_get_expr() text; ORs hidden inside helper functions are not seen.',
    equivalents: { pgtap: 'none', supabaseLinter: 'none (0006_multiple_permissive_policies is a performance lint)' },
  },
  (ctx) =>
    oncePerPolicy(verdicts(ctx).flatMap(({ subject, verdicts: vs }) =>
      vs
        .filter((v) => v.analysis.classification === 'widened')
        .map((v) => ({
          object: policyObject(v.policy),
          statement: policySql(v.policy),
          observed: { role: subject, commands: v.commands, side: v.side, escapingBranches: v.analysis.escapingBranches, orWith: siblings(ctx, v, subject) },
        })),
    ),)
);

export const policyFailsOpen = defineRule(
  {
    id: 'policy-fails-open',
    title: 'Policy fails open when the tenant setting is missing, empty or a pattern',
    severity: 'high',
    leakClass: 'context',
    cwe: 'CWE-636',
    models: ['rls'],
    description:
      'A session that never set the tenant (a pooled connection reused without context, a background job, a bug) should see nothing. This policy instead turns true without a tenant: `tenant_id = coalesce(current_setting(…), tenant_id)`, `current_setting(…) = \'\' OR …`, `tenant_id::text LIKE current_setting(…) || \'%\'`. A pattern match also lets any session that can set the setting to `%` read every tenant.',
    remediation:
      'Compare with plain equality and let a missing setting fail: `tenant_id = current_setting(\'app.current_tenant\')::uuid` raises an error when unset; `nullif(current_setting(\'app.current_tenant\', true), \'\')::uuid` yields NULL, which matches nothing.',
    heuristic: 'Recognises COALESCE around the setting, LIKE/ILIKE/~/SIMILAR TO/starts_with/strpos/position with the setting, and OR branches testing the setting for \'\' or NULL.',
    equivalents: { pgtap: 'none', supabaseLinter: '0030_rls_policy_null_auth_disjunct (`… IS NULL OR …` disjuncts only, for its anon/authenticated roles)' },
  },
  (ctx) =>
    oncePerPolicy(verdicts(ctx).flatMap(({ subject, verdicts: vs }) =>
      vs
        .filter((v) => v.analysis.failsOpen.length > 0)
        .map((v) => ({
          object: policyObject(v.policy),
          statement: policySql(v.policy),
          observed: { role: subject, commands: v.commands, side: v.side, failsOpen: v.analysis.failsOpen },
        })),
    ),)
);

export const policyUntrustedSetting = defineRule(
  {
    id: 'policy-untrusted-setting',
    title: 'Policy depends on a setting any session can change',
    severity: 'medium',
    leakClass: 'privilege',
    cwe: 'CWE-807',
    models: ['rls'],
    description:
      'The policy reads a custom setting other than the tenant setting (`app.is_admin`, `app.role`, `request.jwt.claims` …). Any session can `SET` any custom (dotted) setting to any value, so the policy\'s decision is in the hands of whoever can run SQL as the app role — one SQL injection away from a bypass.',
    remediation:
      'Decide roles and flags from data the session cannot forge: a lookup table keyed by the tenant/principal, a SECURITY DEFINER function that verifies a signed token, or separate database roles.',
    heuristic: 'Finds current_setting(\'<name>\') calls in the policy text and in the source of functions the policy calls (one level deep).',
    equivalents: { pgtap: 'none', supabaseLinter: 'none' },
  },
  (ctx) =>
    oncePerPolicy(verdicts(ctx).flatMap(({ subject, verdicts: vs }) =>
      vs
        .filter((v) => v.analysis.otherSettings.some((s) => s.includes('.')))
        .map((v) => ({
          object: policyObject(v.policy),
          statement: policySql(v.policy),
          observed: { role: subject, commands: v.commands, side: v.side, settings: v.analysis.otherSettings.filter((s) => s.includes('.')) },
        })),
    ),)
);

/** A membership table: a tenant table with the tenant column and a column keyed by the user. */
export function membershipUserColumns(ctx: RuleContext, t: TenantTable): string[] {
  return t.tenantColumn === null ? [] : userColumnsOf(ctx, t.relation);
}

/**
 * When `v` is a check on a membership table that binds only the user column to the caller
 * (`WITH CHECK (user_id = auth.uid())`): the user column it checks, else null. A user can then
 * insert itself into any tenant (membership-self-insert reports it).
 */
export function selfJoinOf(ctx: RuleContext, t: TenantTable, v: PolicyVerdict): string | null {
  if (v.side !== 'check' || v.analysis.classification === 'bound' || !v.commands.some((c) => c === 'INSERT' || c === 'UPDATE')) return null;
  const userColumns = membershipUserColumns(ctx, t);
  if (userColumns.length === 0) return null;
  const usingSide = analyseExpression(v.expression, { ...predicateFor(ctx, t, '', new Set(), 'using'), rowColumns: userColumns });
  return usingSide.classification === 'bound' ? (userColumns.find((c) => v.expression.includes(c)) ?? userColumns[0]!) : null;
}

export const policyUndecided = defineRule(
  {
    id: 'policy-undecided',
    title: 'Policy the static analysis cannot decide (the probes decide)',
    severity: 'info',
    leakClass: 'configuration',
    cwe: 'CWE-1059',
    models: ['rls'],
    description:
      'The policy names the row\'s tenant (or user) column and the caller, but in a way the text alone cannot settle — a negation (`<>`, `NOT IN`), a helper whose body is not readable (C, SQL-standard `BEGIN ATOMIC`), or it sits beside a RESTRICTIVE policy of that kind. tenantproof does not guess: no high or critical finding is raised from text it cannot read; the probes, which run the policy as each principal, decide whether it holds.',
    remediation:
      'Nothing to fix on this finding alone: read the probe findings for the table. To let the static rules decide, prefer `tenant_id = <tenant>`, `account_id IN (SELECT … WHERE user_id = auth.uid())` or a helper in SQL/PL/pgSQL.',
    heuristic: 'Reported when the expression reader classifies an expression as undecided (see policy-read-not-tenant-scoped for what it reads).',
    equivalents: { pgtap: 'none', supabaseLinter: 'none' },
  },
  (ctx) =>
    oncePerPolicy(
      verdicts(ctx).flatMap(({ subject, verdicts: vs }) =>
        vs
          .filter((v) => v.analysis.classification === 'undecided')
          .map((v) => ({
            object: policyObject(v.policy),
            statement: policySql(v.policy),
            observed: { role: subject, commands: v.commands, side: v.side, undecided: v.analysis.undecided, verdict: 'undecided, the probes decide' },
          })),
      ),
    ),
);
