/**
 * Principals in the catalog: the users table, the membership table (its user, tenant and role
 * columns, found through its foreign keys unless named), tables keyed by the user (profiles,
 * settings) and shared tables (no tenant key, no user key: a price list). Options that match
 * nothing are refused with one line (CannotRunError), never ignored.
 */
import { CannotRunError } from '../errors.ts';
import { quoteIdent } from '../target/connection.ts';
import type { Structure } from './structure.ts';
import type { Column, QualifiedName, Relation } from './types.ts';

export interface PrincipalTable {
  readonly relation: Relation;
  /** `schema.name`, the object of findings. */
  readonly label: string;
  readonly sql: string;
}

export interface PrincipalCatalog {
  /** The users table and its key column (null when users are only values in the membership table). */
  readonly users: (PrincipalTable & { readonly key: Column }) | null;
  readonly membership: (PrincipalTable & { readonly userColumn: Column; readonly tenantColumn: string; readonly roleColumn: Column | null }) | null;
  /** Tables keyed by the user: a foreign key to the users table (or the membership's user column), no tenant key. */
  readonly userKeyed: readonly (PrincipalTable & { readonly userColumn: Column })[];
  /** Tables with neither a tenant nor a user key: shared by design, unless a principal can write into them. */
  readonly shared: readonly PrincipalTable[];
  /** The base type of user ids. */
  readonly userKeyType: string;
  /** The user-keyed table of sessions (PostGraphile's `{session}`): named *session(s)*, a single-column key. */
  readonly sessions: { readonly label: string; readonly key: Column } | null;
}

export interface PrincipalOptions {
  readonly usersTable: string | null;
  readonly membershipTable: string | null;
  readonly membershipUserColumn: string | null;
  readonly membershipTenantColumn: string | null;
  readonly tenantColumn: string;
}

const isTable = (r: Relation) => r.kind === 'table' || r.kind === 'partitioned-table';
const labelOf = (r: QualifiedName) => `${r.schema}.${r.name}`;
const sqlOf = (r: QualifiedName) => `${quoteIdent(r.schema)}.${quoteIdent(r.name)}`;
const same = (a: QualifiedName, b: QualifiedName) => a.schema === b.schema && a.name === b.name;
const asTable = (relation: Relation): PrincipalTable => ({ relation, label: labelOf(relation), sql: sqlOf(relation) });

/** The relation `name` (schema.table, or a table searched in public first), or a one-line refusal naming `flag`. */
function findTable(structure: Structure, name: string, flag: string): Relation {
  const [schema, table] = name.includes('.') ? (name.split('.', 2) as [string, string]) : [undefined, name];
  const found = structure.relations.filter((r) => isTable(r) && r.name === table && (schema === undefined || r.schema === schema));
  const relation = found.find((r) => r.schema === 'public') ?? found[0];
  if (!relation) throw new CannotRunError(`${flag} ${name} does not exist: name the table (schema.table)`);
  return relation;
}

function columnOf(relation: Relation, name: string, flag: string): Column {
  const column = relation.columns.find((c) => c.name === name);
  if (!column) throw new CannotRunError(`${flag} ${name} is not a column of ${labelOf(relation)}`);
  return column;
}

/** Reads the principals of an rls target from its structure (see the module comment). */
export function findPrincipals(structure: Structure, options: PrincipalOptions): PrincipalCatalog {
  const tenantTable = structure.tenantTable;
  let usersRelation = options.usersTable ? findTable(structure, options.usersTable, '--users-table') : null;
  const scopedOids = new Set(structure.tenantScoped.map((t) => t.relation.oid));
  let membership: PrincipalCatalog['membership'] = null;
  let membershipRelation: Relation | null = options.membershipTable ? findTable(structure, options.membershipTable, '--membership-table') : null;
  if (!membershipRelation && usersRelation && tenantTable) {
    // Not named: the one tenant-scoped table with a foreign key to the users table and one to the tenants table.
    const candidates = structure.relations.filter(
      (r) =>
        scopedOids.has(r.oid) &&
        r.foreignKeys.some((fk) => fk.columns.length === 1 && same(fk.references, usersRelation!)) &&
        r.foreignKeys.some((fk) => fk.columns.length === 1 && same(fk.references, tenantTable)),
    );
    if (candidates.length === 1) membershipRelation = candidates[0]!;
  }
  if (membershipRelation) {
    const m = membershipRelation;
    const userFk = usersRelation
      ? m.foreignKeys.find((fk) => fk.columns.length === 1 && same(fk.references, usersRelation!))
      : m.foreignKeys.find((fk) => fk.columns.length === 1 && !(tenantTable && same(fk.references, tenantTable)) && !scopedOids.has(structure.relations.find((r) => same(r, fk.references))?.oid ?? -1));
    const userColumnName = options.membershipUserColumn ?? userFk?.columns[0];
    if (!userColumnName) {
      throw new CannotRunError(
        `--membership-table ${labelOf(m)} has no foreign key to ${usersRelation ? labelOf(usersRelation) : 'a users table'}: name its user column with --membership-user-column`,
      );
    }
    const userColumn = columnOf(m, userColumnName, '--membership-user-column');
    if (!usersRelation && userFk && userFk.columns[0] === userColumnName) {
      usersRelation = structure.relations.find((r) => same(r, userFk.references)) ?? null;
    }
    const tenantFk = tenantTable ? m.foreignKeys.find((fk) => fk.columns.length === 1 && same(fk.references, tenantTable)) : undefined;
    const tenantColumnName =
      options.membershipTenantColumn ?? tenantFk?.columns[0] ?? (m.columns.some((c) => c.name === options.tenantColumn) ? options.tenantColumn : undefined);
    if (!tenantColumnName) {
      throw new CannotRunError(
        `--membership-table ${labelOf(m)} has no foreign key to ${tenantTable ? labelOf(tenantTable) : 'the tenants table'} and no ${options.tenantColumn} column: name its tenant column with --membership-tenant-column`,
      );
    }
    columnOf(m, tenantColumnName, '--membership-tenant-column');
    if (tenantColumnName === userColumn.name) throw new CannotRunError(`--membership-table ${labelOf(m)}: its user and tenant columns are both ${tenantColumnName}`);
    const roleColumn =
      m.columns.find((c) => c.name !== userColumn.name && c.name !== tenantColumnName && /^(role|member_role|membership_role|access_level|permission)$|_role$/.test(c.name)) ??
      m.columns.find((c) => c.baseType === 'bool' && /^is_(owner|admin)$/.test(c.name)) ??
      null;
    membership = { ...asTable(m), userColumn, tenantColumn: tenantColumnName, roleColumn };
  }
  let users: PrincipalCatalog['users'] = null;
  if (usersRelation) {
    const keyName = usersRelation.primaryKey?.length === 1 ? usersRelation.primaryKey[0]! : null;
    if (!keyName) throw new CannotRunError(`--users-table ${labelOf(usersRelation)} has no single-column primary key: tenantproof cannot tell its users apart`);
    users = { ...asTable(usersRelation), key: columnOf(usersRelation, keyName, '--users-table key') };
  }
  const userKeyType = users?.key.baseType ?? membership?.userColumn.baseType ?? 'text';
  const reserved = new Set([tenantTable?.oid, users?.relation.oid, membership?.relation.oid].filter((x): x is number => x !== undefined));
  const userKeyed: (PrincipalTable & { userColumn: Column })[] = [];
  const shared: PrincipalTable[] = [];
  for (const r of structure.relations) {
    if (!isTable(r) || r.partitionOf || reserved.has(r.oid) || scopedOids.has(r.oid)) continue;
    if (users?.relation.schema !== r.schema && ['auth', 'storage', 'realtime', 'graphql', 'supabase_functions', 'extensions', 'vault', 'pgsodium'].includes(r.schema)) continue;
    const toUsers = users ? r.foreignKeys.find((fk) => fk.columns.length === 1 && same(fk.references, users.relation)) : undefined;
    const byName = membership ? r.columns.find((c) => c.name === membership.userColumn.name && c.baseType === userKeyType) : undefined;
    const userColumn = toUsers ? r.columns.find((c) => c.name === toUsers.columns[0]) : byName;
    if (userColumn) userKeyed.push({ ...asTable(r), userColumn });
    else if (!r.foreignKeys.some((fk) => reserved.has(structure.relations.find((x) => same(x, fk.references))?.oid ?? -1))) shared.push(asTable(r));
  }
  const sessionTable = userKeyed.find((t) => /(^|_)sessions?$/.test(t.relation.name) && t.relation.primaryKey?.length === 1 && t.relation.primaryKey[0] !== t.userColumn.name);
  const sessions = sessionTable ? { label: sessionTable.label, key: sessionTable.relation.columns.find((c) => c.name === sessionTable.relation.primaryKey![0])! } : null;
  return { users, membership, userKeyed, shared, userKeyType, sessions };
}
