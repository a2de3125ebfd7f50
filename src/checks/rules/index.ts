/**
 * Static rules over the catalog, and the entry point `tenantproof verify` calls.
 *
 * runStaticRules introspects once (structure + security, and each tenant database in the
 * database model), runs every rule that applies to the target's model, and returns findings
 * sorted by severity.
 */
import type { Queryable } from '../../target/connection.ts';
import { severities, type Finding } from '../../findings/types.ts';
import type { TargetConfig } from '../../target/types.ts';
import { buildRuleContext, type ConnectDatabase } from './context.ts';
import { foreignKeyWithoutTenantColumn, sharedSequenceOnTenantTable, tenantColumnNotIndexed, tenantColumnNullable, tenantColumnWithoutForeignKey, uniqueWithoutTenantColumn } from './keys.ts';
import {
  crossDatabaseExtensionAvailable,
  databaseCrossTenantConnect,
  databasePublicConnect,
  schemaCreateToPublic,
  schemaCrossTenantAccess,
  schemaIsolationBySearchPath,
  schemaPublicAccess,
} from './models.ts';
import {
  foreignTableExposesTenantData,
  functionSearchPathMutable,
  materializedViewExposesTenantData,
  securityDefinerReadsTenantData,
  securityDefinerSearchPathMutable,
  viewBypassesRls,
} from './objects.ts';
import {
  anonymousReadsTenantData,
  definerRpcTenantArgument,
  membershipSelfInsert,
  policyComparesWrongWay,
  policyReadsUserEditableClaim,
  serviceRoleBypassByDesign,
} from './conventions.ts';
import {
  appRoleOwnsTenantTable,
  policyExistsRlsDisabled,
  policyFailsOpen,
  policyOrWidens,
  policyReadNotTenantScoped,
  policyUndecided,
  policyUntrustedSetting,
  policyWriteNotTenantChecked,
  rlsDisabled,
  rlsEnabledNoPolicy,
  rlsNotForced,
} from './rls.ts';
import {
  appRoleBypassRls,
  appRoleCanAssumePrivilegedRole,
  appRoleSuperuser,
  dangerousGrantOnTenantTable,
  defaultPrivilegesTooBroad,
  tenantsTableWithoutRls,
} from './roles.ts';
import { exclusionWithoutTenantColumn, introspectSideChannels, notifyFromTenantTable, rlsPlannerStatisticsExposed, statActivityVisibleToAppRole } from './side-channels.ts';
import type { Rule, RuleContext } from './types.ts';
import { serverVersionVulnerable } from './version.ts';

export type { Rule, RuleContext, RuleHit, TenantTable, TenantUnit, TenantDatabase, Equivalents, Convention } from './types.ts';
export { conventionOf } from './context.ts';
export { buildRuleContext, type ConnectDatabase, type ContextOptions } from './context.ts';
export { analyseExpression, parseTree, splitTop, subqueryLink, type SubqueryLink, type TenantPredicate } from './policy-expression.ts';
export { knownCves, vulnerabilitiesOf } from './version.ts';
export { defineRule, toFinding } from './define.ts';
export { renderRulePage, renderRuleIndex, type RuleExample } from './docs.ts';
export { introspectSideChannels, type SideChannelCatalog, type ColumnStatistics, type ExtendedStatistics, type ExclusionConstraint, type NotifyingTrigger, type ActivityAccess } from './side-channels.ts';

/** Every static rule, in report order. Ids are stable. */
export const rules: readonly Rule[] = [
  // roles
  appRoleSuperuser,
  appRoleBypassRls,
  appRoleCanAssumePrivilegedRole,
  // row level security
  rlsDisabled,
  policyExistsRlsDisabled,
  rlsNotForced,
  appRoleOwnsTenantTable,
  rlsEnabledNoPolicy,
  tenantsTableWithoutRls,
  // policies
  policyReadNotTenantScoped,
  policyWriteNotTenantChecked,
  policyOrWidens,
  policyFailsOpen,
  policyUntrustedSetting,
  policyUndecided,
  // conventions (Supabase/PostgREST, PostGraphile): users, memberships, the anonymous role
  policyReadsUserEditableClaim,
  anonymousReadsTenantData,
  definerRpcTenantArgument,
  membershipSelfInsert,
  policyComparesWrongWay,
  serviceRoleBypassByDesign,
  // objects reading tenant data
  viewBypassesRls,
  materializedViewExposesTenantData,
  foreignTableExposesTenantData,
  securityDefinerReadsTenantData,
  securityDefinerSearchPathMutable,
  functionSearchPathMutable,
  // grants, keys and columns
  dangerousGrantOnTenantTable,
  defaultPrivilegesTooBroad,
  uniqueWithoutTenantColumn,
  foreignKeyWithoutTenantColumn,
  tenantColumnNullable,
  tenantColumnWithoutForeignKey,
  tenantColumnNotIndexed,
  sharedSequenceOnTenantTable,
  // schema and database models
  schemaCrossTenantAccess,
  schemaPublicAccess,
  schemaIsolationBySearchPath,
  schemaCreateToPublic,
  databasePublicConnect,
  databaseCrossTenantConnect,
  crossDatabaseExtensionAvailable,
  // side channels
  rlsPlannerStatisticsExposed,
  exclusionWithoutTenantColumn,
  notifyFromTenantTable,
  statActivityVisibleToAppRole,
  // server
  serverVersionVulnerable,
];

export interface StaticRuleOptions {
  /** database model: how to open a connection to a tenant database (default: target.databaseUrl with that database). */
  readonly connect?: ConnectDatabase;
  /** Run only these rule ids. */
  readonly only?: readonly string[];
  /** Skip these rule ids. */
  readonly skip?: readonly string[];
}

export interface StaticRulesResult {
  readonly findings: Finding[];
  /** Ids of the rules that ran (those applying to the model, less `skip`). */
  readonly rulesRun: string[];
}

/** Runs the rules on an already-built context (tests use this to vary one input). */
export async function runRules(ctx: RuleContext, options: Pick<StaticRuleOptions, 'only' | 'skip'> = {}): Promise<StaticRulesResult> {
  const selected = rules.filter(
    (r) => r.models.includes(ctx.model) && (!options.only || options.only.includes(r.id)) && !(options.skip ?? []).includes(r.id),
  );
  const findings: Finding[] = [];
  for (const rule of selected) findings.push(...(await rule.check(ctx)));
  findings.sort((a, b) => severities.indexOf(a.severity) - severities.indexOf(b.severity) || a.checkId.localeCompare(b.checkId) || a.object.localeCompare(b.object));
  return { findings, rulesRun: selected.map((r) => r.id) };
}

/** Introspects the target through `q` and runs every static rule that applies to its model. */
export async function runStaticRules(q: Queryable, target: TargetConfig, options: StaticRuleOptions = {}): Promise<StaticRulesResult> {
  const ctx = await buildRuleContext(q, target, options.connect ? { connect: options.connect } : {});
  return runRules({ ...ctx, sideChannels: await introspectSideChannels(q, ctx) }, options);
}

export function ruleById(id: string): Rule | undefined {
  return rules.find((r) => r.id === id);
}
