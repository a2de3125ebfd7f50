/**
 * World plan: what the catalog says about how to fill each table. For every table the world must
 * write (tenant-scoped tables, the tenants table, and global tables they reference) it says, per
 * column, where a value comes from — the tenant id, a parent row, a sequence-like counter, a
 * generated fake value, or the column's own default — and in which order tables are filled.
 */
import type { Column, ForeignKey, Relation, TenantScopedTable } from '../catalog/types.ts';
import { quoteIdent } from '../target/connection.ts';

/** Where one written column's value comes from. */
export type ColumnSource =
  | { readonly kind: 'tenant' }
  | { readonly kind: 'parent'; readonly foreignKey: number; readonly parentColumn: string }
  /** identity / nextval() columns: an explicit counter value, so no sequence ever advances. */
  | { readonly kind: 'counter' }
  | { readonly kind: 'fake'; readonly unique: boolean };

export interface ColumnPlan {
  readonly column: Column;
  readonly source: ColumnSource;
  /** Simple bounds read from CHECK constraints (`col >= 0`, `col = ANY (ARRAY[...])`, length). */
  readonly bounds: ColumnBounds;
}

export interface ColumnBounds {
  readonly min?: number;
  readonly max?: number;
  readonly oneOf?: readonly string[];
  readonly maxLength?: number;
  readonly minLength?: number;
  /** A POSIX regex from `col ~ '…'` that values must match. */
  readonly pattern?: string;
}

export interface ParentPlan {
  readonly foreignKey: ForeignKey;
  /** Label (`schema.name`) of the parent table plan. */
  readonly parent: string;
}

export type TableRole = 'tenants' | 'scoped' | 'global';

export interface TablePlan {
  readonly relation: Relation;
  /** `schema.name`, unquoted, used as the object of findings. */
  readonly label: string;
  /** Quoted, qualified SQL name. */
  readonly sql: string;
  readonly role: TableRole;
  /** The tenant column, when the table carries one (or is the tenants table: its key column). */
  readonly tenantColumn: string | null;
  readonly parents: readonly ParentPlan[];
  /** Written columns, in table order. */
  readonly columns: readonly ColumnPlan[];
  /** Columns identifying one row for lookups: the primary key, or null (then ctid is used). */
  readonly key: readonly string[] | null;
  /** Unique keys that do not contain the tenant column and are not surrogate (defaulted) keys. */
  readonly globalUniqueKeys: readonly (readonly string[])[];
}

export interface WorldPlan {
  /** Tables in dependency order (parents before children). */
  readonly tables: readonly TablePlan[];
  /** The type of tenant ids (format_type of the tenant column). */
  readonly tenantIdType: string;
  readonly tenantIdBaseType: string;
  readonly tenantIdMaxLength: number | null;
}

export const label = (r: { schema: string; name: string }) => `${r.schema}.${r.name}`;
export const sqlName = (r: { schema: string; name: string }) => `${quoteIdent(r.schema)}.${quoteIdent(r.name)}`;

const isSequenceDefault = (c: Column) => c.identity !== '' || (c.defaultExpr ?? '').includes('nextval(');

/**
 * Builds the plan for the rls model: tenant-scoped tables, the tenants table (when present) and
 * the global tables that scoped tables reference.
 */
export function planWorld(
  relations: readonly Relation[],
  tenantScoped: readonly TenantScopedTable[],
  tenantTable: Relation | null,
): WorldPlan {
  const byLabel = new Map(relations.map((r) => [label(r), r]));
  const roles = new Map<string, TableRole>();
  const tenantColumns = new Map<string, string | null>();
  for (const t of tenantScoped) {
    if (t.relation.partitionOf) continue; // partitions are filled and probed through their parent
    roles.set(label(t.relation), 'scoped');
    tenantColumns.set(label(t.relation), t.scope.kind === 'column' ? t.scope.column : null);
  }
  let tenantKey: string | null = null;
  if (tenantTable) {
    tenantKey = tenantKeyColumn(tenantTable, tenantScoped);
    roles.set(label(tenantTable), 'tenants');
    tenantColumns.set(label(tenantTable), tenantKey);
  }
  // Global tables referenced (transitively) by scoped ones.
  const queue = [...roles.keys()];
  while (queue.length > 0) {
    const relation = byLabel.get(queue.shift()!);
    for (const fk of relation?.foreignKeys ?? []) {
      const parent = label(fk.references);
      if (!roles.has(parent) && byLabel.has(parent)) {
        roles.set(parent, 'global');
        tenantColumns.set(parent, null);
        queue.push(parent);
      }
    }
  }
  const plans = [...roles.entries()].map(([name, role]) =>
    planTable(byLabel.get(name)!, role, tenantColumns.get(name) ?? null, roles),
  );
  const tenantColumnOf = tenantScoped.find((t) => t.scope.kind === 'column');
  const idColumn =
    (tenantTable && tenantKey ? tenantTable.columns.find((c) => c.name === tenantKey) : undefined) ??
    (tenantColumnOf && tenantColumnOf.scope.kind === 'column'
      ? tenantColumnOf.relation.columns.find((c) => c.name === (tenantColumnOf.scope as { column: string }).column)
      : undefined);
  return {
    tables: orderByDependencies(plans),
    tenantIdType: idColumn?.type ?? 'text',
    tenantIdBaseType: idColumn?.baseType ?? 'text',
    tenantIdMaxLength: idColumn?.maxLength ?? null,
  };
}

/** The tenants table's key column: what scoped tables' tenant FKs reference, else its primary key. */
function tenantKeyColumn(tenantTable: Relation, tenantScoped: readonly TenantScopedTable[]): string | null {
  for (const t of tenantScoped) {
    for (const fk of t.relation.foreignKeys) {
      if (fk.references.schema === tenantTable.schema && fk.references.name === tenantTable.name && fk.referencedColumns.length === 1) {
        return fk.referencedColumns[0]!;
      }
    }
  }
  return tenantTable.primaryKey?.length === 1 ? tenantTable.primaryKey[0]! : null;
}

function planTable(relation: Relation, role: TableRole, tenantColumn: string | null, roles: Map<string, TableRole>): TablePlan {
  const fks = relation.foreignKeys;
  const parents: ParentPlan[] = [];
  const parentIndex = new Map<ForeignKey, number>();
  for (const fk of fks) {
    const parent = label(fk.references);
    // Self-references and references outside the world are left to defaults/NULL.
    if (parent === label(relation) || !roles.has(parent)) continue;
    parentIndex.set(fk, parents.length);
    parents.push({ foreignKey: fk, parent });
  }
  const uniqueColumns = new Set(relation.uniqueKeys.flatMap((k) => k.columns));
  const columns: ColumnPlan[] = [];
  for (const column of relation.columns) {
    if (column.generated) continue;
    const bounds = boundsFor(relation, column);
    if (column.name === tenantColumn) {
      columns.push({ column, source: { kind: 'tenant' }, bounds });
      continue;
    }
    const fk = parents.find((p) => p.foreignKey.columns.includes(column.name));
    if (fk) {
      const at = fk.foreignKey.columns.indexOf(column.name);
      columns.push({
        column,
        source: { kind: 'parent', foreignKey: parentIndex.get(fk.foreignKey)!, parentColumn: fk.foreignKey.referencedColumns[at]! },
        bounds,
      });
      continue;
    }
    if (isSequenceDefault(column)) {
      columns.push({ column, source: { kind: 'counter' }, bounds });
      continue;
    }
    if (fks.some((f) => f.columns.includes(column.name))) {
      // A reference to a table outside the world (or itself): leave it NULL/default when allowed.
      if (!column.notNull || column.defaultExpr !== null) continue;
    }
    // Columns with a default that is not part of a unique key keep their default (timestamps,
    // gen_random_uuid() keys …); everything else gets a generated value.
    if (column.defaultExpr !== null && !uniqueColumns.has(column.name)) continue;
    if (column.defaultExpr !== null && column.baseType === 'uuid') continue;
    columns.push({ column, source: { kind: 'fake', unique: uniqueColumns.has(column.name) }, bounds });
  }
  const written = new Set(columns.map((c) => c.column.name));
  const globalUniqueKeys = relation.uniqueKeys
    .filter((k) => !k.primary && !k.hasExpressions && k.predicate === null && k.columns.length > 0)
    .filter((k) => !(tenantColumn && k.columns.includes(tenantColumn)))
    .filter((k) => k.columns.every((c) => written.has(c) && !columns.find((p) => p.column.name === c && p.source.kind !== 'fake')))
    .map((k) => k.columns);
  return {
    relation,
    label: label(relation),
    sql: sqlName(relation),
    role,
    tenantColumn,
    parents,
    columns,
    key: relation.primaryKey && relation.primaryKey.length > 0 ? relation.primaryKey : null,
    globalUniqueKeys,
  };
}

function orderByDependencies(plans: TablePlan[]): TablePlan[] {
  const byLabel = new Map(plans.map((p) => [p.label, p]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const ordered: TablePlan[] = [];
  const visit = (plan: TablePlan) => {
    if (done.has(plan.label) || visiting.has(plan.label)) return;
    visiting.add(plan.label);
    for (const p of plan.parents) {
      const parent = byLabel.get(p.parent);
      if (parent) visit(parent);
    }
    visiting.delete(plan.label);
    done.add(plan.label);
    ordered.push(plan);
  };
  // Tenants table first, then globals, then scoped tables (stable by name).
  const rank = { tenants: 0, global: 1, scoped: 2 } as const;
  [...plans].sort((a, b) => rank[a.role] - rank[b.role] || a.label.localeCompare(b.label)).forEach(visit);
  return ordered;
}

const checkNumber = String.raw`\(?\s*\(?(-?\d+(?:\.\d+)?)\)?(?:::[a-z ]+)?\)?`;

/** Reads simple bounds out of CHECK constraints that mention only this column, and its domain's (on VALUE). */
function boundsFor(relation: Relation, column: Column): ColumnBounds {
  const bounds: { min?: number; max?: number; oneOf?: string[]; maxLength?: number; minLength?: number; pattern?: string } = {};
  const name = column.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const checks = [
    ...relation.checks.filter((k) => k.columns.length === 1 && k.columns[0] === column.name).map((k) => ({ d: k.definition, ident: `(?:"${name}"|${name})` })),
    ...(column.domainChecks ?? []).map((d) => ({ d, ident: 'VALUE' })),
  ];
  for (const { d, ident } of checks) {
    for (const m of d.matchAll(new RegExp(`${ident}\\s*(>=|>|<=|<)\\s*${checkNumber}`, 'g'))) {
      const v = Number(m[2]);
      if (m[1] === '>=') bounds.min = Math.max(bounds.min ?? -Infinity, v);
      if (m[1] === '>') bounds.min = Math.max(bounds.min ?? -Infinity, Math.floor(v) + 1);
      if (m[1] === '<=') bounds.max = Math.min(bounds.max ?? Infinity, v);
      if (m[1] === '<') bounds.max = Math.min(bounds.max ?? Infinity, Math.ceil(v) - 1);
    }
    const any = d.match(/= ANY \(\(?ARRAY\[(.*)\]\)?/);
    if (any?.[1]) bounds.oneOf = [...any[1].matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1]!.replaceAll("''", "'"));
    // `col IN ('one')` comes back from the catalog as `col = 'one'::text`.
    const only = d.match(new RegExp(`^CHECK \\(+${ident}\\s*=\\s*'((?:[^']|'')*)'(?:::[a-z ]+)?\\)+$`));
    if (only?.[1] !== undefined) bounds.oneOf = [only[1].replaceAll("''", "'")];
    const len = d.match(/(?:char_length|length)\(\(?(?:"[^"]+"|\w+)\)?(?:::text)?\)\s*(<=|<)\s*(\d+)/);
    if (len) bounds.maxLength = Number(len[2]) - (len[1] === '<' ? 1 : 0);
    const minLen = d.match(/(?:char_length|length)\(\(?(?:"[^"]+"|\w+)\)?(?:::text)?\)\s*(>=|>)\s*(\d+)/);
    if (minLen) bounds.minLength = Number(minLen[2]) + (minLen[1] === '>' ? 1 : 0);
    const re = d.match(new RegExp(`${ident}\\)?(?:::text)?\\s*~\\s*'((?:[^']|'')*)'`));
    if (re?.[1]) bounds.pattern = re[1].replaceAll("''", "'");
  }
  return bounds;
}
