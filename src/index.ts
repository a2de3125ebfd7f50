/**
 * tenantproof, the verifier library. Suites, the CLI and teams' own code import this file, never
 * deep paths. Its folders are the pipeline: target → catalog → world → models → checks → findings,
 * and verify() runs it end to end.
 *
 * The exports are listed by hand, in pipeline order, under the vocabulary of
 * shared/ARCHITECTURE.md: what is here is the library's surface (suites/library/layout.test.ts
 * refuses `export *`); everything else is internal to its folder.
 */

// ── verify(): the whole pipeline ───────────────────────────────────────────────────────────────
export { verify, type Verification, type VerifyHooks, type StaticOutcome } from './verify.ts';
export { CannotRunError, describeError } from './errors.ts';

// ── target: what is verified (a deployment: connection, isolation model, tenant context) ────────
export { targetDefaults, type IsolationModelName, type TargetConfig } from './target/types.ts';
export {
  defaultReportDir,
  defaultRuns,
  defineConfig,
  findConfigFile,
  loadConfigFile,
  outputFormats,
  resolveVerifyConfig,
  type ContextFileBlock,
  type OutputFormat,
  type TenantproofConfigFile,
  type VerifyConfig,
} from './target/config.ts';
// tenant contexts: how a principal enters (a role, settings, SQL, a search_path; presets)
export { contextFrom, presetContext, presetNames, type ContextConfig, type ContextTemplateOptions, type PresetName } from './target/contexts.ts';
export { tenantRoleFor, type TenantContext } from './target/context.ts';
// connections, and the scratch objects tenantproof creates and drops
export {
  createScratchDatabase,
  quoteIdent,
  quoteLiteral,
  urlFor,
  withClient,
  withSavepoint,
  withTransaction,
  type Queryable,
  type QueryResult,
  type ScratchDatabase,
} from './target/connection.ts';
export { parsePostgresUrl, redactUrl } from './target/url.ts';
// verify --migrations: a folder of migrations on a throwaway server
export { readMigrations, applyMigrations, type MigrationPlan, type MigrationLayout } from './target/migrations.ts';
export { startThrowawayPostgres, type ThrowawayPostgres } from './target/throwaway.ts';

// ── catalog: what introspection of the target finds ────────────────────────────────────────────
export type { Relation } from './catalog/types.ts';
export { introspectStructure, type Structure } from './catalog/structure.ts';
export { introspectSecurity, PUBLIC } from './catalog/security.ts';
export { readIsolationSnapshot, type IsolationSnapshot } from './catalog/isolation-snapshot.ts';
export { findDefinitionClasses, tablesForRun, type DefinitionClass } from './catalog/definition-classes.ts';

// ── world: generated tenants, principals and rows ──────────────────────────────────────────────
export { worldArbitrary, tenantIdsArbitrary, type World, type WorldOptions } from './world/arbitraries.ts';
export type { WorldPlan } from './world/plan.ts';

// ── models: rls, schema, database (one IsolationModel interface) ───────────────────────────────
export { isolationModels, modelFor, enterTenantSql, type IsolationModel } from './models/index.ts';
export { pinnedValue } from './models/schema.ts';

// ── checks: static rules (the catalog) and probes (acting as each principal) ───────────────────
export {
  rules,
  ruleById,
  runRules,
  runStaticRules,
  buildRuleContext,
  analyseExpression,
  splitTop,
  subqueryLink,
  vulnerabilitiesOf,
  renderRuleIndex,
  renderRulePage,
  type Rule,
  type StaticRuleOptions,
  type TenantPredicate,
} from './checks/rules/index.ts';
export {
  verifyTarget,
  listTenantTables,
  probeChecks,
  probeCheckById,
  fillTemplate,
  probeCouldNotAct,
  ProbeCoverage,
  type ProbeId,
  type VerifyOptions,
  type VerifyProgress,
  type VerifyResult,
  type Sampling,
} from './checks/probes/index.ts';

// ── findings: one Finding type, the verdict and exit codes, diffs ──────────────────────────────
export { atLeast, severities, type AffectedObject, type Finding, type LeakClass, type RootCause, type Severity } from './findings/types.ts';
export { exitCodeFor, notProvenBy, verdictOf, verdicts, type NotProven, type Verdict, type VerdictOutcome } from './findings/verdict.ts';
export { diffIsolation, renderDiffMarkdown, renderDiffText, type IsolationDiff, type IsolationChange, type DiffFinding } from './findings/diff.ts';
