/**
 * What a target offers to probe, checked before any world is generated: the connection works, the
 * connecting role can enter the tenant context, and there are tenant-scoped tables. The CLI calls
 * this first so that bad input fails fast (exit 2) with one line.
 */
import { withClient } from '../../target/connection.ts';
import type { TargetConfig } from '../../target/types.ts';
import { planWorld } from '../../world/plan.ts';
import { introspectTarget, preflight } from './engine.ts';
import { inspectSchemaTenants } from '../../models/schema.ts';
import { inspectDatabaseTenants } from '../../models/database.ts';

/** Labels of the tables (or tenant objects) the target's suites will probe. */
export async function listTenantTables(target: TargetConfig): Promise<string[]> {
  switch (target.model) {
    case 'rls':
      return withClient(target.databaseUrl, async (client) => {
        await preflight(client, target, [target.appRole]);
        const structure = await introspectTarget(client, target);
        return planWorld(structure.relations, structure.tenantScoped, structure.tenantTable)
          .tables.filter((t) => t.role === 'scoped')
          .map((t) => t.label);
      });
    case 'schema':
      return (await inspectSchemaTenants(target)).tables;
    case 'database':
      return (await inspectDatabaseTenants(target)).tables;
  }
}
