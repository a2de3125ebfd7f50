/**
 * tenantproof, the verifier library. Suites, the CLI and teams' own code import this file, never
 * deep paths. Its folders are the pipeline: target → catalog → world → models → checks → findings,
 * and verify() runs it end to end.
 */
export * from './errors.ts';
export * from './target/connection.ts';
export * from './target/url.ts';
export * from './target/types.ts';
export * from './target/contexts.ts';
export * from './findings/types.ts';
export * from './catalog/index.ts';
export * from './checks/rules/index.ts';
export * from './checks/probes/index.ts';
export * from './findings/verdict.ts';
export * from './target/config.ts';
export { verify, type Verification, type VerifyHooks, type StaticOutcome } from './verify.ts';
export { diffIsolation, renderDiffMarkdown, renderDiffText, type IsolationDiff, type IsolationChange, type DiffFinding } from './findings/diff.ts';
export { readIsolationSnapshot, type IsolationSnapshot } from './catalog/isolation-snapshot.ts';
export { readMigrations, applyMigrations, type MigrationPlan, type MigrationLayout } from './target/migrations.ts';
export { startThrowawayPostgres, type ThrowawayPostgres } from './target/throwaway.ts';
