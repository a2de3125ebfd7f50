import type { MigrationBuilder } from 'node-pg-migrate';

/** What a migration needs to know besides the builder: the schema and the roles of this database. */
export interface MigrationContext {
  /** Schema of the rls model's shared tables and of the global tables. */
  readonly schema: string;
  /** Owns every object; migrations run as this role. */
  readonly ownerRole: string;
  /** The role the application logs in as: DML grants only, owns nothing. */
  readonly appRole: string;
  /**
   * NOLOGIN role every schema-model tenant role is a member of: the privileges on the global
   * tables (the tenant's own registry row, users' emails, the definer lookups), never on a schema.
   */
  readonly tenantBaseRole: string;
}

export type Migration = (pgm: MigrationBuilder, context: MigrationContext) => void | Promise<void>;
