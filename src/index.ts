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
