import type { MigrationBuilder } from 'node-pg-migrate';

/** What a migration needs to know besides the builder: the schema and the roles of this database. */
export interface MigrationContext {
  /** Schema of the rls model's shared tables and of the global tables. */
  readonly schema: string;
  /** Owns every object; migrations run as this role. */
  readonly ownerRole: string;
  /** The role the application logs in as: DML grants only, owns nothing. */
  readonly appRole: string;
}

export type Migration = (pgm: MigrationBuilder, context: MigrationContext) => void | Promise<void>;
