/**
 * The isolation models, one registry. Adding a model touches five files: its name in
 * target/types.ts (the type and `isolationModelNames`, which the CLI's --model and the config take),
 * its module models/<name>.ts implementing IsolationModel, this registry, its runner's entry in
 * checks/probes/runners.ts, and the runner itself (checks/probes/run-<name>.ts: plan worlds, act as
 * each tenant through `enterTenantSql`, and give the one property loop, `runProperty` in
 * checks/probes/engine.ts, a spec: how a world is drawn, written and probed). Probes it shares with
 * other models list it in their `models` (declared in the probe's own file, checks/probes/define.ts).
 * A probe of its own is its declaration and code in a family file plus its red case in a corpus; a
 * new family file is one more line in checks/probes/registry.ts.
 */
import type { TenantContext } from '../target/context.ts';
import type { IsolationModelName, TargetConfig } from '../target/types.ts';
import { databaseModel } from './database.ts';
import { rlsModel } from './rls.ts';
import { schemaModel } from './schema.ts';
import type { IsolationModel } from './types.ts';

export type { IsolationModel } from './types.ts';
export { rlsModel, introspectRlsTarget, planRlsWorlds } from './rls.ts';
export { schemaModel, pinnedValue, planSchemasFrom, schemaWorldArbitrary, type SchemaPlan } from './schema.ts';
export { databaseModel, planTenantDatabase } from './database.ts';

export const isolationModels: Readonly<Record<IsolationModelName, IsolationModel>> = {
  rls: rlsModel,
  schema: schemaModel,
  database: databaseModel,
};

export function modelFor(name: IsolationModelName): IsolationModel {
  return isolationModels[name];
}

/** SQL that enters `context` in the target's isolation model, for the current transaction. */
export function enterTenantSql(target: TargetConfig, context: TenantContext): string {
  return modelFor(target.model).enterTenantSql(target, context);
}
