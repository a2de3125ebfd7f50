/**
 * The catalog: what introspection of a target's PostgreSQL catalog finds. One module owns it
 * (src/catalog); the property engine and the static rules both read this shape.
 *
 * Structural part (structure.ts): tables, columns, keys, constraints, indexes, and which tables are
 * tenant-scoped (directly by the tenant column, or through foreign keys).
 * Security part (security.ts): roles and memberships, policies, grants, views, functions,
 * schemas, databases, extensions, settings.
 */

/** A qualified name, always unquoted parts; quote with quoteIdent when building SQL. */
export interface QualifiedName {
  readonly schema: string;
  readonly name: string;
}

export interface Column {
  readonly name: string;
  /** format_type(), e.g. `character varying(40)`, `uuid`, `integer[]`. */
  readonly type: string;
  /** The base type's name (`varchar`, `int4`, `uuid`, `text`, an enum's name …). */
  readonly baseType: string;
  /** typtype of the base type (domains and arrays resolved): b base, e enum, c composite, r range. */
  readonly typeKind: 'b' | 'e' | 'd' | 'c' | 'r' | 'm' | 'p';
  readonly isArray: boolean;
  readonly notNull: boolean;
  /** Default expression as text, if any. */
  readonly defaultExpr: string | null;
  /** `a` GENERATED ALWAYS, `d` BY DEFAULT, '' not identity. */
  readonly identity: 'a' | 'd' | '';
  /** Generated (stored/virtual) column: never written. */
  readonly generated: boolean;
  /** varchar/char length limit, numeric precision/scale, where declared. */
  readonly maxLength: number | null;
  readonly numericPrecision: number | null;
  readonly numericScale: number | null;
  /** Labels when the base type is an enum. */
  readonly enumValues: readonly string[] | null;
  /** CHECK constraints of the column's domain (`CHECK ((VALUE ~ '…'))`), when its type is one. */
  readonly domainChecks?: readonly string[];
}

export interface ForeignKey {
  readonly name: string;
  readonly columns: readonly string[];
  readonly references: QualifiedName;
  readonly referencedColumns: readonly string[];
}

export interface UniqueKey {
  readonly name: string;
  readonly columns: readonly string[];
  readonly primary: boolean;
  /** A unique index (not a constraint); partial indexes carry their predicate. */
  readonly predicate: string | null;
  /** True when some key part is an expression, not a column. */
  readonly hasExpressions: boolean;
}

export interface CheckConstraint {
  readonly name: string;
  /** pg_get_constraintdef(), e.g. `CHECK ((amount >= 0))`. */
  readonly definition: string;
  readonly columns: readonly string[];
}

export interface Index {
  readonly name: string;
  /** Key columns in order; null for an expression part. */
  readonly columns: readonly (string | null)[];
  readonly unique: boolean;
  readonly definition: string;
}

export type RelationKind = 'table' | 'partitioned-table' | 'view' | 'materialized-view' | 'foreign-table';

export interface Relation extends QualifiedName {
  readonly oid: number;
  readonly kind: RelationKind;
  readonly owner: string;
  readonly rlsEnabled: boolean;
  readonly rlsForced: boolean;
  readonly columns: readonly Column[];
  readonly primaryKey: readonly string[] | null;
  readonly uniqueKeys: readonly UniqueKey[];
  readonly foreignKeys: readonly ForeignKey[];
  readonly checks: readonly CheckConstraint[];
  readonly indexes: readonly Index[];
  /** reloptions, e.g. `security_invoker=true` on views. */
  readonly options: readonly string[];
  /** The partitioned table this one is a partition of (queried directly, its own RLS applies). */
  readonly partitionOf: QualifiedName | null;
}

/**
 * How a table belongs to a tenant: it has the tenant column, or it reaches a table that does
 * through a chain of foreign keys (child tables without their own tenant column).
 */
export type TenantScope =
  | { readonly kind: 'column'; readonly column: string }
  | { readonly kind: 'foreign-key'; readonly path: readonly { readonly from: QualifiedName; readonly foreignKey: ForeignKey }[] };

export interface TenantScopedTable {
  readonly relation: Relation;
  readonly scope: TenantScope;
}
