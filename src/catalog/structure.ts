/**
 * Structural introspection: relations, columns, keys, constraints, indexes, and which tables are
 * tenant-scoped. Read with one round trip per catalog (no per-table queries), so a schema of
 * hundreds of tables costs the same handful of statements.
 */
import type { Queryable } from '../target/connection.ts';
import type {
  CheckConstraint,
  Column,
  ForeignKey,
  Index,
  QualifiedName,
  Relation,
  RelationKind,
  TenantScope,
  TenantScopedTable,
  UniqueKey,
} from './types.ts';

export interface StructureOptions {
  /** The tenant column of tenant-scoped tables, e.g. `tenant_id`. */
  readonly tenantColumn: string;
  /** The table listing tenants (unqualified or `schema.name`); FKs to it also scope a table. */
  readonly tenantTable?: string;
  /** Only these schemas (default: every schema but pg_catalog, information_schema, pg_toast*). */
  readonly schemas?: readonly string[];
}

export interface Structure {
  readonly relations: readonly Relation[];
  readonly tenantScoped: readonly TenantScopedTable[];
  /** The tenants table, when found. */
  readonly tenantTable: Relation | null;
}

const relkinds: Record<string, RelationKind> = {
  r: 'table',
  p: 'partitioned-table',
  v: 'view',
  m: 'materialized-view',
  f: 'foreign-table',
};

const schemaFilter = `
  n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'
  and ($1::text[] is null or n.nspname = any($1::text[]))`;

interface RelationRow {
  oid: number;
  schema: string;
  name: string;
  relkind: string;
  owner: string;
  rls_enabled: boolean;
  rls_forced: boolean;
  options: string[] | null;
  partition_of_schema: string | null;
  partition_of_name: string | null;
}

interface ColumnRow {
  relid: number;
  name: string;
  type: string;
  base_type: string;
  type_kind: Column['typeKind'];
  is_array: boolean;
  not_null: boolean;
  default_expr: string | null;
  identity: Column['identity'];
  generated: boolean;
  typmod: number;
  enum_values: string[] | null;
  domain_checks: string[] | null;
}

interface ConstraintRow {
  relid: number;
  name: string;
  contype: 'p' | 'u' | 'f' | 'c';
  columns: string[];
  ref_schema: string | null;
  ref_table: string | null;
  ref_columns: string[] | null;
  definition: string;
}

interface IndexRow {
  relid: number;
  name: string;
  columns: (string | null)[];
  unique: boolean;
  primary: boolean;
  backs_constraint: boolean;
  predicate: string | null;
  definition: string;
}

/** Reads the structural catalog of the schemas in `options`. */
export async function introspectStructure(q: Queryable, options: StructureOptions): Promise<Structure> {
  const schemas = options.schemas ? [...options.schemas] : null;
  const [relationRows, columnRows, constraintRows, indexRows] = [
    await q.query<RelationRow>(
      `select c.oid::int as oid, n.nspname as schema, c.relname as name, c.relkind::text as relkind,
              pg_get_userbyid(c.relowner) as owner, c.relrowsecurity as rls_enabled, c.relforcerowsecurity as rls_forced,
              c.reloptions::text[] as options, pn.nspname as partition_of_schema, pc.relname as partition_of_name
         from pg_class c
         join pg_namespace n on n.oid = c.relnamespace
         left join pg_inherits i on c.relispartition and i.inhrelid = c.oid
         left join pg_class pc on pc.oid = i.inhparent
         left join pg_namespace pn on pn.oid = pc.relnamespace
        where c.relkind in ('r', 'p', 'v', 'm', 'f') and ${schemaFilter}
        order by n.nspname, c.relname`,
      [schemas],
    ),
    await q.query<ColumnRow>(
      `select a.attrelid::int as relid, a.attname as name, format_type(a.atttypid, a.atttypmod) as type,
              coalesce(bt.typname, et.typname, t.typname) as base_type,
              coalesce(bt.typtype, et.typtype, t.typtype)::text as type_kind,
              t.typcategory = 'A' as is_array, a.attnotnull as not_null,
              pg_get_expr(d.adbin, d.adrelid) as default_expr, a.attidentity::text as identity,
              a.attgenerated <> '' as generated,
              case when a.atttypmod >= 0 then a.atttypmod when t.typtype = 'd' then t.typtypmod else -1 end as typmod,
              (select array_agg(e.enumlabel order by e.enumsortorder) from pg_enum e
                where e.enumtypid = coalesce(bt.oid, et.oid, t.oid))::text[] as enum_values,
              (select array_agg(pg_get_constraintdef(k.oid) order by k.conname) from pg_constraint k
                where k.contype = 'c' and k.contypid in (t.oid, et.oid))::text[] as domain_checks
         from pg_attribute a
         join pg_class c on c.oid = a.attrelid
         join pg_namespace n on n.oid = c.relnamespace
         join pg_type t on t.oid = a.atttypid
         left join pg_type et on t.typcategory = 'A' and et.oid = t.typelem
         left join pg_type bt on bt.oid = case when t.typtype = 'd' then t.typbasetype
                                              when et.typtype = 'd' then et.typbasetype end
         left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        where a.attnum > 0 and not a.attisdropped and c.relkind in ('r', 'p', 'v', 'm', 'f') and ${schemaFilter}
        order by a.attrelid, a.attnum`,
      [schemas],
    ),
    await q.query<ConstraintRow>(
      `select k.conrelid::int as relid, k.conname as name, k.contype::text as contype,
              array(select a.attname from unnest(k.conkey) with ordinality u(attnum, ord)
                      join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.attnum order by u.ord)::text[] as columns,
              rn.nspname as ref_schema, rc.relname as ref_table,
              case when k.contype = 'f' then array(select a.attname from unnest(k.confkey) with ordinality u(attnum, ord)
                      join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.attnum order by u.ord)::text[] end as ref_columns,
              pg_get_constraintdef(k.oid) as definition
         from pg_constraint k
         join pg_class c on c.oid = k.conrelid
         join pg_namespace n on n.oid = c.relnamespace
         left join pg_class rc on rc.oid = k.confrelid
         left join pg_namespace rn on rn.oid = rc.relnamespace
        where k.contype in ('p', 'u', 'f', 'c') and ${schemaFilter}
        order by k.conrelid, k.conname`,
      [schemas],
    ),
    await q.query<IndexRow>(
      `select x.indrelid::int as relid, ic.relname as name,
              array(select case when u.attnum = 0 then null else a.attname end
                      from unnest(x.indkey::int2[]) with ordinality u(attnum, ord)
                      left join pg_attribute a on a.attrelid = x.indrelid and a.attnum = u.attnum
                     where u.ord <= x.indnkeyatts order by u.ord)::text[] as columns,
              x.indisunique as unique, x.indisprimary as primary,
              exists (select 1 from pg_constraint k where k.conindid = x.indexrelid and k.contype in ('p', 'u', 'x')) as backs_constraint,
              pg_get_expr(x.indpred, x.indrelid) as predicate, pg_get_indexdef(x.indexrelid) as definition
         from pg_index x
         join pg_class ic on ic.oid = x.indexrelid
         join pg_class c on c.oid = x.indrelid
         join pg_namespace n on n.oid = c.relnamespace
        where ${schemaFilter}
        order by x.indrelid, ic.relname`,
      [schemas],
    ),
  ].map((r) => r.rows) as [RelationRow[], ColumnRow[], ConstraintRow[], IndexRow[]];

  const byRel = <T extends { relid: number }>(rows: T[]) => {
    const map = new Map<number, T[]>();
    for (const row of rows) map.set(row.relid, [...(map.get(row.relid) ?? []), row]);
    return map;
  };
  const columnsOf = byRel(columnRows);
  const constraintsOf = byRel(constraintRows);
  const indexesOf = byRel(indexRows);

  const relations: Relation[] = relationRows.map((r) => {
    const constraints = constraintsOf.get(r.oid) ?? [];
    const indexes = indexesOf.get(r.oid) ?? [];
    const primary = constraints.find((k) => k.contype === 'p');
    const uniqueKeys: UniqueKey[] = [
      ...constraints
        .filter((k) => k.contype === 'p' || k.contype === 'u')
        .map((k) => ({ name: k.name, columns: k.columns, primary: k.contype === 'p', predicate: null, hasExpressions: false })),
      ...indexes
        .filter((x) => x.unique && !x.backs_constraint)
        .map((x) => ({
          name: x.name,
          columns: x.columns.filter((c): c is string => c !== null),
          primary: false,
          predicate: x.predicate,
          hasExpressions: x.columns.some((c) => c === null),
        })),
    ];
    const foreignKeys: ForeignKey[] = constraints
      .filter((k) => k.contype === 'f')
      .map((k) => ({
        name: k.name,
        columns: k.columns,
        references: { schema: k.ref_schema ?? '', name: k.ref_table ?? '' },
        referencedColumns: k.ref_columns ?? [],
      }));
    const checks: CheckConstraint[] = constraints
      .filter((k) => k.contype === 'c')
      .map((k) => ({ name: k.name, definition: k.definition, columns: k.columns }));
    const indexList: Index[] = indexes.map((x) => ({ name: x.name, columns: x.columns, unique: x.unique, definition: x.definition }));
    return {
      oid: r.oid,
      schema: r.schema,
      name: r.name,
      kind: relkinds[r.relkind] ?? 'table',
      owner: r.owner,
      rlsEnabled: r.rls_enabled,
      rlsForced: r.rls_forced,
      columns: (columnsOf.get(r.oid) ?? []).map(toColumn),
      primaryKey: primary ? primary.columns : null,
      uniqueKeys,
      foreignKeys,
      checks,
      indexes: indexList,
      options: r.options ?? [],
      partitionOf: r.partition_of_name ? { schema: r.partition_of_schema ?? '', name: r.partition_of_name } : null,
    };
  });

  const tenantTable = findTenantTable(relations, options.tenantTable);
  return { relations, tenantTable, tenantScoped: findTenantScoped(relations, options.tenantColumn, tenantTable) };
}

function toColumn(row: ColumnRow): Column {
  const base = row.base_type;
  const mod = row.typmod;
  // varchar/char typmods count the 4-byte header; bit/varbit typmods are the length in bits.
  const hasLength = ['varchar', 'bpchar'].includes(base) && mod > 4;
  const bits = ['bit', 'varbit'].includes(base) && mod > 0;
  const isNumeric = base === 'numeric' && mod > 4;
  return {
    name: row.name,
    type: row.type,
    baseType: base,
    typeKind: row.type_kind,
    isArray: row.is_array,
    notNull: row.not_null,
    defaultExpr: row.default_expr,
    identity: row.identity,
    generated: row.generated,
    maxLength: hasLength ? mod - 4 : bits ? mod : null,
    numericPrecision: isNumeric ? ((mod - 4) >> 16) & 0xffff : null,
    numericScale: isNumeric ? (mod - 4) & 0xffff : null,
    enumValues: row.enum_values,
    ...(row.domain_checks?.length ? { domainChecks: row.domain_checks } : {}),
  };
}

export function qualifiedName(name: QualifiedName): string {
  return `${name.schema}.${name.name}`;
}

function sameName(a: QualifiedName, b: QualifiedName): boolean {
  return a.schema === b.schema && a.name === b.name;
}

function findTenantTable(relations: readonly Relation[], tenantTable: string | undefined): Relation | null {
  if (!tenantTable) return null;
  const [schema, name] = tenantTable.includes('.') ? tenantTable.split('.', 2) : [undefined, tenantTable];
  const candidates = relations.filter((r) => r.name === name && (schema === undefined || r.schema === schema) && r.kind !== 'view');
  return candidates.find((r) => r.schema === 'public') ?? candidates[0] ?? null;
}

const isTable = (r: Relation) => r.kind === 'table' || r.kind === 'partitioned-table';

/**
 * Tenant-scoped tables: tables with the tenant column (or a single-column FK to the tenants
 * table), then tables that reach one of those through foreign keys (a shortest path).
 */
export function findTenantScoped(
  relations: readonly Relation[],
  tenantColumn: string,
  tenantTable: Relation | null,
): TenantScopedTable[] {
  const scoped = new Map<number, TenantScope>();
  for (const relation of relations) {
    if (!isTable(relation) || (tenantTable && relation.oid === tenantTable.oid)) continue;
    if (relation.columns.some((c) => c.name === tenantColumn)) {
      scoped.set(relation.oid, { kind: 'column', column: tenantColumn });
      continue;
    }
    const toTenants = tenantTable && relation.foreignKeys.find((fk) => fk.columns.length === 1 && sameName(fk.references, tenantTable));
    if (toTenants) scoped.set(relation.oid, { kind: 'column', column: toTenants.columns[0] ?? tenantColumn });
  }
  // Breadth-first: each pass only extends paths found in earlier passes, so every path is shortest.
  for (;;) {
    const found = new Map<number, TenantScope>();
    for (const relation of relations) {
      if (!isTable(relation) || scoped.has(relation.oid) || (tenantTable && relation.oid === tenantTable.oid)) continue;
      for (const foreignKey of relation.foreignKeys) {
        const parent = relations.find((r) => sameName(r, foreignKey.references));
        const parentScope = parent && scoped.get(parent.oid);
        if (!parentScope) continue;
        const step = { from: { schema: relation.schema, name: relation.name }, foreignKey };
        found.set(relation.oid, { kind: 'foreign-key', path: parentScope.kind === 'column' ? [step] : [step, ...parentScope.path] });
        break;
      }
    }
    if (found.size === 0) break;
    for (const [oid, scope] of found) scoped.set(oid, scope);
  }
  return relations.filter((r) => scoped.has(r.oid)).map((relation) => ({ relation, scope: scoped.get(relation.oid)! }));
}
