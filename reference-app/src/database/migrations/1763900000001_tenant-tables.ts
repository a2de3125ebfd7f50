/** The tenant tables of the rls model: shared tables in the app schema, RLS enabled and forced. */
import { tenantTablesDdl } from '../tenant-tables.ts';
import type { Migration } from '../migration-context.ts';

export const up: Migration = (pgm, { schema, appRole }) => {
  pgm.sql(tenantTablesDdl({ schema, globalSchema: schema, appRole, rls: true }));
};
