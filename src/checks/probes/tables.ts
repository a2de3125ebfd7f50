/**
 * What a target offers to probe, checked before any world is generated: the connection works, the
 * connecting role can enter every tenant context, and there are tenant-scoped tables. verify()
 * calls this first so that bad input fails fast (exit 2) with one line.
 */
import { modelFor } from '../../models/index.ts';
import { withClient } from '../../target/connection.ts';
import type { TargetConfig } from '../../target/types.ts';
import { preflight } from './engine.ts';

/** Labels of the tables (or tenant objects) the probes will cover. */
export async function listTenantTables(target: TargetConfig): Promise<string[]> {
  const model = modelFor(target.model);
  return withClient(target.databaseUrl, async (client) => {
    const units = await model.discoverTenantUnits(client, target);
    await preflight(client, target, model, units);
    return model.describeTenantTables(client, target, units);
  });
}
