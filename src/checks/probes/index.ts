/**
 * The property engine's entry point: suites and the CLI import this file (src/index.ts
 * re-exports it). A target goes in (src/target), findings come out (src/findings).
 *
 * Vocabulary: a **world** is generated tenants and their rows; a **probe** is one operation run
 * inside one tenant context; the **oracle** says what that tenant should see or be allowed to do;
 * a mismatch is a **finding**, and a **leak** when data actually crossed a tenant boundary.
 */
export { ProbeCoverage, type NotActed, type VerifyOptions, type VerifyProgress, type VerifyResult, type Sampling } from './engine.ts';
export { probeCouldNotAct } from './session.ts';
export { verifyTarget, probeRunners, type ProbeRunner } from './runners.ts';
export { listTenantTables } from './tables.ts';
export { pinnedValue } from '../../models/schema.ts';
export { contextValues } from './rls-context.ts';
export type { ProbeCatalog } from './probe-run.ts';
export {
  probeChecks,
  probeCheckById,
  probeFinding,
  contextProbes,
  fillTemplate,
  type ProbeCheck,
  type ProbeId,
  type ContextProbeId,
  type ProbeHit,
  type ProbeObservation,
  type Observation,
} from './registry.ts';
export { worldArbitrary, tenantIdsArbitrary, type World, type WorldOptions } from '../../world/arbitraries.ts';
export { planWorld, type WorldPlan, type TablePlan } from '../../world/plan.ts';
export { tenantRoleFor, type TenantContext } from '../../target/context.ts';
export { enterTenantSql, modelFor, isolationModels, type IsolationModel } from '../../models/index.ts';
export {
  resolveVerifyConfig,
  loadConfigFile,
  findConfigFile,
  defineConfig,
  defaultRuns,
  type VerifyConfig,
  type TenantproofConfigFile,
} from '../../target/config.ts';
