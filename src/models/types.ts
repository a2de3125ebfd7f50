/**
 * The isolation model: one interface, one module per model (rls, schema, database), one registry
 * (models/index.ts). A model knows how tenants live in the target and how to act as one; the
 * probes (checks/probes) act through it.
 *
 * Vocabulary: a **tenant unit** is where a tenant's rows live apart from the others' — a schema
 * (schema model) or a database (database model); in the rls model tenants are rows, so there are
 * no units and worlds generate the tenants.
 */
import type { Queryable } from '../target/connection.ts';
import type { TenantContext } from '../target/context.ts';
import type { IsolationModelName, TargetConfig } from '../target/types.ts';

export interface IsolationModel {
  readonly name: IsolationModelName;
  /** One line: how tenants are kept apart in this model. */
  readonly summary: string;
  /** What one tenant unit is, in the plural (`schemas`, `databases`); absent when tenants are rows. */
  readonly unitsNoun?: string;
  /** The tenant units present in the target (none for rls); CannotRunError when there are too few to compare. */
  discoverTenantUnits(q: Queryable, target: TargetConfig): Promise<readonly string[]>;
  /** The roles probes act as, checked (SET ROLE) before anything runs. */
  contextRoles(target: TargetConfig, units: readonly string[]): readonly string[];
  /** Checks what else entering a context needs, inside a transaction already SET to the role (rls: the setting can be set). */
  checkContext?(tx: Queryable, target: TargetConfig): Promise<void>;
  /** SQL (simple protocol, several statements) that enters `context` for the current transaction. */
  enterTenantSql(target: TargetConfig, context: TenantContext): string;
  /** Labels of the tenant-scoped tables the probes will cover (for the run's header and the adapter's tests). */
  describeTenantTables(q: Queryable, target: TargetConfig, units: readonly string[]): Promise<string[]>;
}
