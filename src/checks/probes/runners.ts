/**
 * One probe runner per isolation model: it plans the model's worlds and runs its probes on each.
 * Adding a model adds its runner here (see models/index.ts).
 */
import type { Queryable } from '../../target/connection.ts';
import type { IsolationModelName, TargetConfig } from '../../target/types.ts';
import { withPipelinedClient, type VerifyOptions, type VerifyResult } from './engine.ts';
import { verifyDatabaseModel } from './run-database.ts';
import { verifyRls } from './run-rls.ts';
import { verifySchemaModel } from './run-schema.ts';

export type ProbeRunner = (q: Queryable, target: TargetConfig, options: VerifyOptions) => Promise<VerifyResult>;

export const probeRunners: Readonly<Record<IsolationModelName, ProbeRunner>> = {
  rls: verifyRls,
  schema: verifySchemaModel,
  database: verifyDatabaseModel,
};

/** Verifies a target in its isolation model, on its own (pipelined) connection. */
export async function verifyTarget(target: TargetConfig, options: VerifyOptions): Promise<VerifyResult> {
  return withPipelinedClient(target.databaseUrl, (client) => probeRunners[target.model](client, target, options));
}
