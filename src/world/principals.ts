/**
 * Principals of a world: a user for each generated tenant (a member of that tenant only), a user
 * belonging to two tenants, a user belonging to none, and the anonymous principal. Their users,
 * memberships, rows in user-keyed tables and one row per shared table are written as the
 * connecting role inside the run's transaction (rolled back), and the membership rows join the
 * stored world as rows of their tenant, so the oracle counts them as the tenant's own.
 */
import type { PrincipalCatalog, PrincipalTable } from '../catalog/principals.ts';
import type { Column } from '../catalog/types.ts';
import { CannotRunError, describeError } from '../errors.ts';
import type { Queryable } from '../target/connection.ts';
import { quoteIdent, quoteLiteral } from '../target/connection.ts';
import { principalUserId, sessionIdOf, templateExpression } from '../target/contexts.ts';
import type { TargetConfig } from '../target/types.ts';
import { rowKeySql, type StoredRow, type StoredWorld } from './write.ts';

/** A user principal of a world: its id and the tenants (indexes) it belongs to. */
export interface UserPrincipal {
  readonly label: string;
  readonly user: string;
  readonly tenants: readonly number[];
}

export interface WorldPrincipals {
  /** `byTenant[i]`: the user acting for tenant i (a member of i only). */
  readonly byTenant: readonly UserPrincipal[];
  /** Member of tenants 0 and 1 (when the world has two tenants and a membership table). */
  readonly multi: UserPrincipal | null;
  /** Member of no tenant (when there is a membership table). */
  readonly nobody: UserPrincipal | null;
  /** Per user-keyed table: the rows written per user (user id → count), or why none could be. */
  readonly userRows: ReadonlyMap<string, { readonly perUser: ReadonlyMap<string, number> } | { readonly skipped: string }>;
  /** Shared tables that hold at least one row after writing (so a write probe can touch one). */
  readonly sharedWithRows: readonly PrincipalTable[];
  /** Membership role values seen: the one given to world principals, and a higher one to try to raise it to. */
  readonly roles: { readonly member: string; readonly raised: string } | null;
}

const textTypes = new Set(['text', 'varchar', 'bpchar', 'citext', 'name']);

/** A value PostgreSQL accepts for a required column with no default, or undefined when tenantproof has none. */
function fillerValue(column: Column, ordinal: number): string | undefined {
  if (column.enumValues?.length) return column.enumValues[0]!;
  if (textTypes.has(column.baseType)) return `tp-${ordinal.toString(36)}-${Math.random().toString(36).slice(2, 8)}`.slice(0, column.maxLength ?? 63);
  if (['int2', 'int4', 'int8', 'numeric', 'float4', 'float8'].includes(column.baseType)) return String(1 + (ordinal % 30_000));
  if (column.baseType === 'bool') return 'false';
  if (column.baseType === 'uuid') return principalUserId(`filler:${ordinal}:${Math.random()}`, 'uuid');
  if (['timestamptz', 'timestamp', 'date'].includes(column.baseType)) return '2026-01-01';
  if (column.baseType === 'json' || column.baseType === 'jsonb') return '{}';
  return undefined;
}

const isSequenceDefault = (c: Column) => c.identity !== '' || (c.defaultExpr ?? '').includes('nextval(');

let ordinalSeed = 0;

/**
 * `insert … values` for `given` columns plus every other required column without a default
 * (filled), sequence columns given values above the table's maximum (no sequence advances).
 */
export function insertRowSql(table: PrincipalTable, given: Readonly<Record<string, string | null>>): string {
  const cols: string[] = [];
  const vals: string[] = [];
  const ordinal = ++ordinalSeed;
  for (const c of table.relation.columns) {
    if (c.generated) continue;
    if (c.name in given) {
      cols.push(quoteIdent(c.name));
      const v = given[c.name];
      vals.push(v === null || v === undefined ? 'null' : `${quoteLiteral(v)}::${c.type}`);
    } else if (isSequenceDefault(c)) {
      cols.push(quoteIdent(c.name));
      vals.push(`(select coalesce(max(x.${quoteIdent(c.name)}), 0) + ${900_000 + ordinal} from ${table.sql} x)::${c.type}`);
    } else if (c.notNull && c.defaultExpr === null) {
      const v = fillerValue(c, ordinal);
      if (v === undefined) throw new CannotRunError(`cannot fill required column ${c.name} (${c.type}) of ${table.label} for a principal's row`);
      cols.push(quoteIdent(c.name));
      vals.push(`${quoteLiteral(v)}::${c.type}`);
    }
  }
  const overriding = table.relation.columns.some((c) => c.identity === 'a') ? ' overriding system value' : '';
  return `insert into ${table.sql} as t ${cols.length ? `(${cols.join(', ')})${overriding} values (${vals.join(', ')})` : 'default values'} returning ${rowKeySql} as tp_key, row_to_json(t.*) as tp_row`;
}

/** Inserts one row under a savepoint; the error text, or the row. */
async function tryInsert(tx: Queryable, table: PrincipalTable, given: Readonly<Record<string, string | null>>): Promise<{ key: string; values: Record<string, unknown> } | string> {
  let sql: string;
  try {
    sql = insertRowSql(table, given);
  } catch (error) {
    return describeError(error);
  }
  await tx.query('savepoint tp_principal');
  try {
    const { rows } = await tx.query<{ tp_key: string; tp_row: Record<string, unknown> }>(sql);
    await tx.query('release savepoint tp_principal');
    return { key: rows[0]!.tp_key, values: rows[0]!.tp_row };
  } catch (error) {
    await tx.query('rollback to savepoint tp_principal; release savepoint tp_principal');
    const e = error as { code?: string };
    if (e.code && ['55P03', '57014', '40P01', '40001'].includes(e.code)) throw error;
    return describeError(error);
  }
}

/** Writes the world's principals (see the module comment) and returns them with the world their membership rows joined. */
export async function writePrincipals(
  tx: Queryable,
  catalog: PrincipalCatalog,
  world: StoredWorld,
): Promise<{ principals: WorldPrincipals; world: StoredWorld }> {
  const ids = world.tenantIds;
  const userOf = (seed: string) => principalUserId(seed, catalog.userKeyType);
  const byTenant: UserPrincipal[] = ids.map((id, i) => ({ label: `the user of tenant ${world.tenants[i]}`, user: catalog.membership ? userOf(id) : id, tenants: [i] }));
  const multi = catalog.membership && ids.length >= 2 ? { label: `a user of tenants ${world.tenants[0]} and ${world.tenants[1]}`, user: userOf(`multi:${ids[0]}:${ids[1]}`), tenants: [0, 1] } : null;
  const nobody = catalog.membership ? { label: 'a user of no tenant', user: userOf(`none:${ids[0]}`), tenants: [] } : null;
  const everyone = [...byTenant, ...(multi ? [multi] : []), ...(nobody ? [nobody] : [])];

  if (catalog.users && catalog.membership) {
    for (const p of everyone) {
      const written = await tryInsert(tx, catalog.users, { [catalog.users.key.name]: p.user });
      if (typeof written === 'string') throw new CannotRunError(`cannot write a principal into the users table ${catalog.users.label}: ${written}`);
    }
  }
  let roles: WorldPrincipals['roles'] = null;
  const added: StoredRow[] = [];
  const m = catalog.membership;
  if (m) {
    if (m.roleColumn) roles = await membershipRoles(tx, m as PrincipalTable & { roleColumn: Column });
    for (const p of everyone) {
      for (const t of p.tenants) {
        const given: Record<string, string | null> = { [m.userColumn.name]: p.user, [m.tenantColumn]: ids[t]! };
        if (roles && m.roleColumn) given[m.roleColumn.name] = roles.member;
        const written = await tryInsert(tx, m, given);
        if (typeof written === 'string') throw new CannotRunError(`cannot write a principal's membership into ${m.label}: ${written}`);
        added.push({ table: m.label, tenant: t, key: written.key, values: written.values });
      }
    }
  }
  const userRows = new Map<string, { perUser: Map<string, number> } | { skipped: string }>();
  for (const table of catalog.userKeyed) {
    const perUser = new Map<string, number>();
    let skipped: string | null = null;
    for (const p of everyone) {
      const session = catalog.sessions?.label === table.label ? { [catalog.sessions.key.name]: sessionIdOf(p.user, catalog.sessions.key.baseType) } : {};
      const written = await tryInsert(tx, table, { [table.userColumn.name]: p.user, ...session });
      if (typeof written === 'string') {
        skipped = written;
        break;
      }
      perUser.set(p.user, (perUser.get(p.user) ?? 0) + 1);
    }
    userRows.set(table.label, skipped === null ? { perUser } : { skipped });
  }
  const sharedWithRows: PrincipalTable[] = [];
  for (const table of catalog.shared) {
    const { rows } = await tx.query<{ n: boolean }>(`select exists (select 1 from ${table.sql}) as n`).catch(() => ({ rows: [{ n: false }] }));
    if (rows[0]?.n || typeof (await tryInsert(tx, table, {})) !== 'string') sharedWithRows.push(table);
  }

  const rows = new Map(world.rows);
  const byKey = new Map(world.byKey);
  for (const row of added) {
    rows.set(row.table, [...(rows.get(row.table) ?? []), row]);
    byKey.set(row.key, row);
  }
  return { principals: { byTenant, multi, nobody, userRows, sharedWithRows, roles }, world: { ...world, rows, byKey } };
}

/** The membership role given to world principals (the column's default, else the humblest value seen) and one to raise it to. */
async function membershipRoles(tx: Queryable, m: PrincipalTable & { roleColumn: Column }): Promise<WorldPrincipals['roles']> {
  const c = m.roleColumn;
  if (c.baseType === 'bool') return { member: 'false', raised: 'true' };
  const seen = new Set<string>(c.enumValues ?? []);
  const { rows } = await tx.query<{ v: string }>(`select distinct ${quoteIdent(c.name)}::text as v from ${m.sql} where ${quoteIdent(c.name)} is not null limit 20`).catch(() => ({ rows: [] as { v: string }[] }));
  for (const r of rows) seen.add(r.v);
  for (const check of m.relation.checks.filter((k) => k.columns.includes(c.name))) {
    for (const lit of check.definition.matchAll(/'([^']*)'/g)) seen.add(lit[1]!);
  }
  const values = [...seen];
  const high = values.find((v) => /owner|admin|super/i.test(v));
  const low = values.find((v) => v !== high && /member|user|viewer|read|guest|basic/i.test(v)) ?? values.find((v) => v !== high);
  if (!high || !low) return null;
  return { member: low, raised: high };
}

/**
 * Per-tenant roles named by the role template (`{tenant.db_user}`) that do not exist for the
 * world's tenants are created inside the run's transaction (CREATE ROLE is transactional), with the
 * role memberships of an existing tenant's role, and granted to the connecting role so it can SET
 * ROLE to them. Without CREATEROLE: one line naming the missing privilege.
 */
export async function createTenantRoles(tx: Queryable, target: TargetConfig, world: StoredWorld): Promise<void> {
  const c = target.context;
  if (!c?.role) return;
  const tenants = c.resolved?.tenants ?? null;
  const nameOf = (tenant: string) => templateExpression(c.role!, { user: null, tenant, role: target.appRole }, tenants);
  const worldIds = new Set(world.tenantIds);
  const names: string[] = [];
  for (const id of world.tenantIds) {
    const expr = nameOf(id);
    if (!expr) continue;
    const { rows } = await tx.query<{ r: string | null; exists: boolean }>(`select ${expr} as r, exists (select 1 from pg_roles where rolname = ${expr}) as exists`);
    const row = rows[0];
    if (row?.r && !row.exists) names.push(row.r);
  }
  if (names.length === 0) return;
  // An existing tenant's role gives the memberships (and so the privileges) a tenant's role has.
  let model: string | null = null;
  if (tenants) {
    const { rows } = await tx.query<{ id: string }>(`select t.${quoteIdent(tenants.key)}::text as id from ${tenants.sql} t limit 200`).catch(() => ({ rows: [] as { id: string }[] }));
    for (const r of rows) {
      if (worldIds.has(r.id)) continue;
      const expr = nameOf(r.id);
      if (!expr) continue;
      const found = await tx.query<{ r: string | null }>(`select rolname as r from pg_roles where rolname = ${expr}`);
      if (found.rows[0]?.r) {
        model = found.rows[0].r;
        break;
      }
    }
  }
  const { rows: who } = await tx.query<{ superuser: boolean; createrole: boolean; me: string }>(
    'select rolsuper as superuser, rolcreaterole as createrole, current_user as me from pg_roles where rolname = current_user',
  );
  const me = who[0];
  if (!me?.superuser && !me?.createrole) {
    throw new CannotRunError(`the tenants' roles named by --context-role ${c.role} do not exist for generated tenants (${names[0]}), and role ${me?.me ?? 'the connecting role'} lacks CREATEROLE to create them inside the rolled-back transaction`);
  }
  // Else the app role (--app-role: the group role every tenant's role belongs to), when it exists.
  const memberships = model
    ? (await tx.query<{ g: string }>('select g.rolname as g from pg_auth_members a join pg_roles g on g.oid = a.roleid join pg_roles m on m.oid = a.member where m.rolname = $1', [model])).rows.map((r) => r.g)
    : (await tx.query<{ g: string }>('select rolname as g from pg_roles where rolname = $1', [target.appRole])).rows.map((r) => r.g);
  for (const name of names) {
    await tx.query(`create role ${quoteIdent(name)} nologin${memberships.length ? ` in role ${memberships.map(quoteIdent).join(', ')}` : ''}`);
    if (!me.superuser) await tx.query(`grant ${quoteIdent(name)} to current_user`);
  }
}
