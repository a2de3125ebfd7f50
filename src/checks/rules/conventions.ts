/**
 * Rules for the classics of the conventions that tell PostgreSQL who is asking through a user and
 * a membership table (Supabase/PostgREST, PostGraphile): user-editable JWT claims in policies, the
 * anonymous role, definer RPCs taking a tenant id, self-service membership inserts, per-user
 * comparisons that compare the wrong way, and service_role's bypass by design.
 */
import type { FunctionInfo, Policy } from '../../catalog/security.ts';
import { bypassReason, nameOf, policiesOf, policyAppliesTo, privilegesOn, sqlIdent, sqlName } from './context.ts';
import { defineRule } from './define.ts';
import { definerRpcWithoutMembershipCheck } from './objects.ts';
import { analyseExpression } from './policy-expression.ts';
import {
  appliesToCommand,
  oncePerPolicy,
  policyObject,
  policySql,
  predicateFor,
  selfJoinOf,
  tables,
  usersTables,
  verdicts,
} from './rls.ts';
import type { RuleContext, RuleHit } from './types.ts';

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const calls = (text: string, name: string) => new RegExp(`(^|[^\\w$])"?${escapeRegExp(name)}"?\\s*\\(`, 'i').test(text);

/** Roles whose reach the convention rules consider: the roles under test and the anonymous role. */
function principals(ctx: RuleContext): string[] {
  const anon = ctx.convention?.anonymousRole;
  return [...new Set([...ctx.subjects, ...(anon && ctx.security.subjects.some((s) => s.name === anon && s.exists) ? [anon] : [])])];
}

/** Policies on tables whose row security is on, that apply to a principal, with their expressions. */
function policiesInReach(ctx: RuleContext): { policy: Policy; expressions: string[] }[] {
  const rlsOn = new Set(ctx.structure.relations.filter((r) => r.rlsEnabled).map((r) => nameOf(r)));
  const who = principals(ctx);
  return ctx.security.policies
    .filter((p) => rlsOn.has(`${p.schema}.${p.table}`) && who.some((s) => policyAppliesTo(ctx, p, s)))
    .map((policy) => ({ policy, expressions: [policy.using, policy.withCheck].filter((e): e is string => e !== null) }));
}

/** Functions an expression calls, with their source (one level deep). */
function calledFunctions(ctx: RuleContext, text: string): FunctionInfo[] {
  return ctx.security.functions.filter((f) => calls(text, f.name));
}

const editableClaim = /\b(raw_user_meta_data|user_metadata)\b/i;

export const policyReadsUserEditableClaim = defineRule(
  {
    id: 'policy-reads-user-editable-claim',
    title: 'Policy decides on a claim the user can edit about itself',
    severity: 'high',
    leakClass: 'privilege',
    cwe: 'CWE-639',
    models: ['rls'],
    description:
      'The policy (or a function it calls) reads `user_metadata` from the JWT claims or `raw_user_meta_data` from `auth.users`. In Supabase a signed-in user writes its own user metadata (`supabase.auth.updateUser({ data: … })`), and the next token carries it: a user who puts another tenant\'s id or an `admin` role there is let in by the policy. Only `app_metadata` (raw_app_meta_data) is set by the server.',
    remediation:
      'Decide on data the user cannot write: a membership table (`account_id IN (SELECT account_id FROM account_members WHERE user_id = auth.uid())`) or `app_metadata`, which only the service role sets: `auth.jwt() -> \'app_metadata\' ->> \'account_id\'`.',
    heuristic: 'Looks for `user_metadata` / `raw_user_meta_data` in the policy text and in the source of the functions it calls (one level deep).',
    equivalents: { pgtap: 'none', supabaseLinter: '0015_rls_references_user_metadata' },
  },
  (ctx) => {
    const hits: RuleHit[] = [];
    for (const { policy, expressions } of policiesInReach(ctx)) {
      const direct = expressions.some((e) => editableClaim.test(e));
      const via = expressions.flatMap((e) => calledFunctions(ctx, e)).filter((f) => editableClaim.test(f.source));
      if (!direct && via.length === 0) continue;
      hits.push({
        object: policyObject(policy),
        statement: policySql(policy),
        observed: { reads: direct ? 'the policy expression' : via.map((f) => `${f.schema}.${f.name}(${f.arguments})`), roles: policy.roles },
      });
    }
    return hits;
  },
);

export const anonymousReadsTenantData = defineRule(
  {
    id: 'anonymous-reads-tenant-data',
    title: 'The anonymous role can read a tenant table without a policy restricting it',
    severity: 'high',
    leakClass: 'read',
    cwe: 'CWE-306',
    models: ['rls'],
    description:
      'The anonymous principal (Supabase/PostgREST: the `anon` role, used for every request without a signed-in user) holds SELECT on a tenant table, and row security does not stop it: RLS is off, or a permissive policy that applies to `anon` (TO PUBLIC or TO anon) admits rows without binding them to a tenant or a user. Anyone with the project\'s public API key reads every tenant\'s rows. (A table with neither a tenant nor a user key — a price list — is shared by design and not reported.)',
    remediation:
      'Give `anon` no policy on tenant tables (policies `TO authenticated`), or revoke: `REVOKE SELECT ON t FROM anon;`. Policies that compare to `auth.uid()` are safe for anon: `auth.uid()` is NULL without a user.',
    heuristic: 'The same expression reading as policy-read-not-tenant-scoped, for the anonymous role: `auth.uid()` and membership checks count as bound (they admit nothing without a user).',
    equivalents: { pgtap: 'none', supabaseLinter: '0013_rls_disabled_in_public / 0024_rls_policy_always_true (for anon)' },
  },
  (ctx) => {
    const anon = ctx.convention?.anonymousRole;
    if (!anon || !ctx.security.subjects.some((s) => s.name === anon && s.exists)) return [];
    const hits: RuleHit[] = [];
    for (const t of tables(ctx)) {
      if (!privilegesOn(ctx, anon, t.relation).has('SELECT')) continue;
      const bypass = bypassReason(ctx.security, anon, t.relation);
      const applicable = policiesOf(ctx, t.relation).filter((p) => appliesToCommand(p, 'SELECT') && policyAppliesTo(ctx, p, anon) && p.using !== null);
      const predicate = predicateFor(ctx, t, anon);
      const bound = (p: Policy) => analyseExpression(p.using!, predicate).classification === 'bound';
      if (bypass === null && applicable.some((p) => !p.permissive && bound(p))) continue;
      const open = bypass !== null ? [] : applicable.filter((p) => p.permissive && ['unbound', 'widened'].includes(analyseExpression(p.using!, predicate).classification));
      if (bypass === null && open.length === 0) continue;
      hits.push({
        object: nameOf(t.relation),
        observed: { role: anon, privileges: ['SELECT'], ...(bypass !== null ? { rowSecurity: bypass } : { policies: open.map((p) => ({ name: p.name, using: p.using })) }) },
        remediation:
          bypass !== null
            ? `REVOKE SELECT ON ${sqlName(t.relation)} FROM ${sqlIdent(anon)}; and ALTER TABLE ${sqlName(t.relation)} ENABLE ROW LEVEL SECURITY;`
            : `DROP POLICY ${open.map((p) => sqlIdent(p.name)).join(', ')} ON ${sqlName(t.relation)}; (or recreate it TO authenticated, bound to the caller's memberships), or REVOKE SELECT ON ${sqlName(t.relation)} FROM ${sqlIdent(anon)};`,
        ...(open[0] ? { statement: policySql(open[0]) } : {}),
      });
    }
    return hits;
  },
);

export const definerRpcTenantArgument = defineRule(
  {
    id: 'definer-rpc-tenant-argument',
    title: 'SECURITY DEFINER function takes a tenant id from the caller without checking membership',
    severity: 'high',
    leakClass: 'read',
    cwe: 'CWE-639',
    models: ['rls'],
    description:
      'A SECURITY DEFINER function (an RPC, in PostgREST: `POST /rpc/<name>`) takes a tenant/account id as an argument and reads tenant tables with its owner\'s rights, which bypass row security — but never checks that the caller belongs to that tenant (no `auth.uid()`, `current_user`, JWT claim or membership helper in its body). New functions are executable by PUBLIC unless revoked, so every signed-in user, and `anon`, reads any tenant\'s rows by passing its id.',
    remediation:
      'Check membership inside it (`IF NOT is_member(p_account_id) THEN RAISE EXCEPTION \'forbidden\'; END IF;`, or `… WHERE account_id = p_account_id AND account_id IN (SELECT account_id FROM account_members WHERE user_id = auth.uid())`), or make it SECURITY INVOKER; and `REVOKE EXECUTE ON FUNCTION f FROM PUBLIC, anon;`.',
    heuristic:
      'Tenant arguments by name (the tenant column, or …tenant_id, account_id, org_id, organization_id, team_id, workspace_id, company_id, project_id); a membership check is any reading of the caller in the body (auth.uid(), current_user, session_user, a JWT claims setting, the tenant setting, or a function that reads one). Tables read: as security-definer-reads-tenant-data.',
    equivalents: { pgtap: 'is_definer', supabaseLinter: '0028_anon_security_definer_function_executable / 0029_authenticated_security_definer_function_executable (any definer function, no argument or body check)' },
  },
  (ctx) => {
    const hits: RuleHit[] = [];
    for (const f of ctx.security.functions) {
      const found = definerRpcWithoutMembershipCheck(ctx, f);
      if (!found) continue;
      const signature = `${sqlName(f)}(${f.arguments})`;
      hits.push({
        object: `function ${f.schema}.${f.name}(${f.arguments})`,
        observed: { owner: f.owner, tenantArguments: found.args, executableBy: found.callers, reads: found.reads },
        remediation: `Check that the caller is a member of ${found.args[0]} inside ${signature} (or make it SECURITY INVOKER), then REVOKE EXECUTE ON FUNCTION ${signature} FROM PUBLIC, anon;`,
      });
    }
    return hits;
  },
);

export const membershipSelfInsert = defineRule(
  {
    id: 'membership-self-insert',
    title: 'A user can add itself to any tenant through the membership table',
    severity: 'critical',
    leakClass: 'write',
    cwe: 'CWE-269',
    models: ['rls'],
    description:
      'The membership table (a tenant table with a column keyed by the user) has an INSERT (or ALL/UPDATE) policy whose check only binds the user column to the caller — `WITH CHECK (user_id = auth.uid())`. A signed-in user inserts `(account_id = <any tenant>, user_id = <itself>)` and from then on every membership-based policy lets it read and write that tenant\'s rows.',
    remediation:
      'Let only a member with the right role of that tenant add members: `WITH CHECK (account_id IN (SELECT account_id FROM account_members WHERE user_id = auth.uid() AND role = \'owner\'))` (or a definer helper such as `is_account_owner(account_id)`), and create a tenant\'s first membership in the same definer function that creates the tenant.',
    heuristic: 'A membership table is a tenant table with a single-column foreign key to a users table (auth.users, or a table named users). The check is read as in policy-write-not-tenant-checked: not tenant-bound, but bound to the caller through the user column.',
    equivalents: { pgtap: 'none', supabaseLinter: 'none' },
  },
  (ctx) =>
    oncePerPolicy(
      verdicts(ctx).flatMap(({ table, subject, verdicts: vs }) =>
        vs.flatMap((v) => {
          const column = selfJoinOf(ctx, table, v);
          if (column === null || v.analysis.classification !== 'unbound') return [];
          return [
            {
              object: policyObject(v.policy),
              statement: policySql(v.policy),
              observed: { role: subject, commands: v.commands, check: v.expression, userColumn: column, tenantColumn: table.tenantColumn },
            },
          ];
        }),
      ),
    ),
);

/** `x = x` (an equality whose two sides are the same text) anywhere in an expression. */
const tautology = /(?<![\w$."])((?:"?[\w$]+"?\.)*"?[\w$]+"?(?:\(\))?) = \1(?![\w$."(])/g;
/** `auth.uid() = col`, `col = (SELECT auth.uid() AS uid)` … at the top level of an expression. */
const callerComparison = /(?:^|\(|\s)(?:auth\.uid\(\)|\( SELECT auth\.uid\(\) AS uid\))\s*=\s*"?([\w$]+)"?(?=\)|\s|$)|(?:^|\(|\s)"?([\w$]+)"?\s*=\s*(?:auth\.uid\(\)|\( SELECT auth\.uid\(\) AS uid\))/g;

export const policyComparesWrongWay = defineRule(
  {
    id: 'policy-compares-wrong-way',
    title: 'Per-user policy compares the wrong way (always true, or the caller against the wrong column)',
    severity: 'high',
    leakClass: 'read',
    cwe: 'CWE-697',
    models: ['rls'],
    description:
      'An equality in the policy compares a thing with itself — `auth.uid() = auth.uid()`, or `account_members.account_id = account_members.account_id` where an unqualified column inside a subquery resolved to the subquery\'s table instead of the policy\'s — so it is always true (for any signed-in user); or it compares the caller\'s user id with a column that references another table than the users (`auth.uid() = account_id`), so it never binds the row to its user.',
    remediation:
      'Qualify the policy table\'s columns inside subqueries (`account_members.account_id = documents.account_id`) and compare the caller with the column keyed by the user: `USING (user_id = (SELECT auth.uid()))`.',
    heuristic: 'Textual: identical sides of `=` in pg_get_expr() text (PostgreSQL qualifies the columns it resolved, so a wrongly resolved column shows its table); `auth.uid()` compared with an unqualified column of the policy\'s table that has a foreign key to a table other than the users table.',
    equivalents: { pgtap: 'none', supabaseLinter: 'none' },
  },
  (ctx) => {
    const hits: RuleHit[] = [];
    const users = usersTables(ctx);
    for (const { policy, expressions } of policiesInReach(ctx)) {
      const same = [...new Set(expressions.flatMap((e) => [...e.matchAll(tautology)].map((m) => `${m[1]} = ${m[1]}`)))];
      const relation = ctx.structure.relations.find((r) => r.schema === policy.schema && r.name === policy.table);
      const wrongColumns = [
        ...new Set(
          expressions.flatMap((e) =>
            [...e.matchAll(callerComparison)]
              .map((m) => m[1] ?? m[2]!)
              .filter((c) =>
                relation?.foreignKeys.some(
                  (fk) => fk.columns.length === 1 && fk.columns[0] === c && !users.some((u) => u.schema === fk.references.schema && u.name === fk.references.name),
                ),
              ),
          ),
        ),
      ];
      if (same.length === 0 && wrongColumns.length === 0) continue;
      hits.push({
        object: policyObject(policy),
        statement: policySql(policy),
        observed: { ...(same.length > 0 ? { alwaysTrue: same } : {}), ...(wrongColumns.length > 0 ? { callerComparedWith: wrongColumns } : {}) },
      });
    }
    return hits;
  },
);

export const serviceRoleBypassByDesign = defineRule(
  {
    id: 'service-role-bypass-by-design',
    title: 'A role bypasses row security by design of the convention (service_role)',
    severity: 'info',
    leakClass: 'configuration',
    cwe: 'CWE-250',
    models: ['rls'],
    description:
      'Supabase creates `service_role` with BYPASSRLS on purpose: the server-side key acts as it, for admin tasks and background jobs. That is not a flaw of this database, but every holder of the service key sees every tenant, and a role that can `SET ROLE service_role` (PostgREST\'s `authenticator`) reaches it. Listed so a reviewer sees it once, at info.',
    remediation: 'Keep the service key on servers only (never in a browser or mobile app), and do not grant service_role to roles the application uses for users.',
    equivalents: { pgtap: 'none', supabaseLinter: 'none' },
  },
  (ctx) =>
    (ctx.convention?.bypassByDesign ?? [])
      .map((name) => ctx.security.roles.find((r) => r.name === name))
      .filter((r) => r !== undefined && (r.bypassRls || r.superuser))
      .map((r) => ({ object: `role ${r!.name}`, observed: { role: r!.name, bypassRls: r!.bypassRls, convention: ctx.convention?.name } })),
);
