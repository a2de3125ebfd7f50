/**
 * One probe runner per isolation model: it plans the model's worlds and runs its probes on each.
 * Adding a model adds its runner here (see models/index.ts).
 */
import type { Queryable } from '../../target/connection.ts';
import type { IsolationModelName, TargetConfig } from '../../target/types.ts';
import { withPipelinedClient, type VerifyOptions, type VerifyResult } from './engine.ts';
import { probeCheckById } from './registry.ts';
import { verifyDatabaseModel } from './run-database.ts';
import { verifyRls } from './run-rls.ts';
import { verifySchemaModel } from './run-schema.ts';

export type ProbeRunner = (q: Queryable, target: TargetConfig, options: VerifyOptions) => Promise<VerifyResult>;

/**
 * The runner, refusing a finding whose check registry.ts does not list (a family file left out of
 * it): reports would carry a check without its title, severity or description.
 */
const registered =
  (runner: ProbeRunner): ProbeRunner =>
  async (q, target, options) => {
    const result = await runner(q, target, options);
    const unknown = result.findings.find((f) => !probeCheckById(f.checkId));
    if (unknown) throw new Error(`probe finding ${unknown.checkId} on ${unknown.object}: its family is not listed in src/checks/probes/registry.ts`);
    return result;
  };

export const probeRunners: Readonly<Record<IsolationModelName, ProbeRunner>> = {
  rls: registered(verifyRls),
  schema: registered(verifySchemaModel),
  database: registered(verifyDatabaseModel),
};

/** Verifies a target in its isolation model, on its own (pipelined) connection. */
export async function verifyTarget(target: TargetConfig, options: VerifyOptions): Promise<VerifyResult> {
  return withPipelinedClient(target.databaseUrl, (client) => probeRunners[target.model](client, target, options));
}
