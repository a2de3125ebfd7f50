/**
 * Moving a tenant out of the shared tables into its own schema or database: copy, verify the
 * counts, switch the registry row, delete the old rows — never losing or duplicating a row, and
 * never letting another tenant see it (the copy lands where only the tenant's own role reaches).
 *
 * While it runs, the move holds the tenant's move lock exclusively (every rls transaction of the
 * tenant takes it shared, `tenancy/rls.ts`): the tenant's requests wait, and a request dispatched
 * before the switch is refused with 503 (retry) instead of writing into the old place.
 *
 * - to `schema`: one transaction in the shared database — provision, copy, verify, switch,
 *   delete — all or nothing.
 * - to `database`: as transactional as two databases allow. The new database is filled and
 *   verified in one transaction there, committed, and only then is the switch + delete committed
 *   in the shared database. If that last commit fails, the new database is dropped: the tenant
 *   stays in the shared tables with every row. The rows exist twice only inside the window where
 *   the tenant is locked and nobody else can reach the new database.
 */
import pg from 'pg';
import type { ReferenceDatabase } from '../database/provision.ts';
import { quoteIdent as q } from '../database/sql.ts';
import { tenantTableNames } from '../database/tenant-tables.ts';
import { provisionTenantSchema } from '../database/tenant-schemas.ts';
import { tenantDatabaseSchema, urlFor } from '../database/tenant-databases.ts';
import { tenantMoveLockClass } from '../tenancy/model.ts';
import type { IsolationModel } from '../tenancy/context.ts';

export interface MoveReport {
  readonly tenantId: string;
  readonly from: 'rls';
  readonly to: Exclude<IsolationModel, 'rls'>;
  /** Rows copied per table (equal to the rows deleted from the shared tables). */
  readonly rows: Readonly<Record<string, number>>;
  readonly ms: number;
}

export class MoveTenantError extends Error {
  override readonly name = 'MoveTenantError';
  constructor(
    readonly tenantId: string,
    readonly to: IsolationModel,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`moving tenant ${tenantId} to the ${to} model failed, nothing changed: ${message}`, options);
  }
}

export interface MoveHooks {
  /** Test hook: runs after the copy was verified, before the switch (throw to inject a failure). */
  readonly beforeSwitch?: () => Promise<void> | void;
}

async function lockAndCheck(admin: pg.ClientBase, db: ReferenceDatabase, tenantId: string, to: IsolationModel): Promise<void> {
  await admin.query(`select pg_advisory_xact_lock(${tenantMoveLockClass}, hashtext($1))`, [tenantId]);
  const { rows } = await admin.query<{ model: string }>(`select model from ${q(db.schema)}.tenants where id = $1 for update`, [tenantId]);
  if (!rows[0]) throw new MoveTenantError(tenantId, to, 'no such tenant');
  if (rows[0].model !== 'rls') throw new MoveTenantError(tenantId, to, `the tenant is in the ${rows[0].model} model, not rls`);
}

async function sharedCounts(admin: pg.ClientBase, db: ReferenceDatabase, tenantId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of tenantTableNames) {
    const { rows } = await admin.query<{ n: number }>(`select count(*)::int as n from ${q(db.schema)}.${q(table)} where tenant_id = $1`, [tenantId]);
    counts[table] = rows[0]!.n;
  }
  return counts;
}

async function countsIn(client: pg.ClientBase, schema: string, tenantId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of tenantTableNames) {
    const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from ${q(schema)}.${q(table)} where tenant_id = $1`, [tenantId]);
    counts[table] = rows[0]!.n;
  }
  return counts;
}

function sameCounts(to: IsolationModel, tenantId: string, expected: Record<string, number>, actual: Record<string, number>): void {
  for (const table of tenantTableNames) {
    if (expected[table] !== actual[table]) {
      throw new MoveTenantError(tenantId, to, `verification failed on ${table}: ${expected[table]} rows in the shared table, ${actual[table]} copied`);
    }
  }
}

async function deleteShared(admin: pg.ClientBase, db: ReferenceDatabase, tenantId: string): Promise<void> {
  for (const table of [...tenantTableNames].reverse()) {
    await admin.query(`delete from ${q(db.schema)}.${q(table)} where tenant_id = $1`, [tenantId]);
  }
}

/** Moves an rls tenant into its own schema: one transaction on the admin connection. */
export async function moveTenantToSchema(admin: pg.ClientBase, db: ReferenceDatabase, tenantId: string, hooks: MoveHooks = {}): Promise<MoveReport> {
  const started = Date.now();
  await admin.query('begin');
  try {
    await lockAndCheck(admin, db, tenantId, 'schema');
    // The directory trigger of the new schema writes under the tenant's context.
    await admin.query(`select set_config('app.current_tenant', $1, true)`, [tenantId]);
    const placement = await provisionTenantSchema(admin, { database: db.database, tenantId, roles: db.roles, appSchema: db.schema }, { inTransaction: true });
    const source = await sharedCounts(admin, db, tenantId);
    await admin.query(`set local role ${q(db.roles.owner)}`);
    for (const table of tenantTableNames) {
      await admin.query(
        `insert into ${q(placement.schema)}.${q(table)} overriding system value select * from ${q(db.schema)}.${q(table)} where tenant_id = $1`,
        [tenantId],
      );
    }
    await admin.query(
      `select setval(pg_get_serial_sequence($1, 'id'), greatest((select max(id) from ${q(placement.schema)}.audit_log), 1))`,
      [`${q(placement.schema)}.audit_log`],
    );
    await admin.query('reset role');
    sameCounts('schema', tenantId, source, await countsIn(admin, placement.schema, tenantId));
    await hooks.beforeSwitch?.();
    await admin.query(`update ${q(db.schema)}.tenants set model = 'schema' where id = $1`, [tenantId]);
    await deleteShared(admin, db, tenantId);
    await admin.query('commit');
    return { tenantId, from: 'rls', to: 'schema', rows: source, ms: Date.now() - started };
  } catch (error) {
    await admin.query('rollback').catch(() => undefined);
    throw error instanceof MoveTenantError ? error : new MoveTenantError(tenantId, 'schema', (error as Error).message, { cause: error });
  }
}

/**
 * Moves an rls tenant into its own database. `provision` creates the empty database from the
 * template (control plane) and `drop` removes it again.
 */
export async function moveTenantToDatabase(
  admin: pg.ClientBase,
  db: ReferenceDatabase,
  tenantId: string,
  database: { name: string; provision: () => Promise<void>; drop: () => Promise<void> },
  hooks: MoveHooks = {},
): Promise<MoveReport> {
  const started = Date.now();
  let created = false;
  await admin.query('begin');
  try {
    await lockAndCheck(admin, db, tenantId, 'database');
    await database.provision();
    created = true;
    const source = await sharedCounts(admin, db, tenantId);
    const s = q(db.schema);
    const { rows: registry } = await admin.query<{ row: unknown }>(
      `select json_build_object('id', id, 'slug', slug, 'name', name, 'plan', plan, 'status', status, 'limits', limits, 'features', features, 'created_at', created_at) as row
         from ${s}.tenants where id = $1`,
      [tenantId],
    );
    const { rows: users } = await admin.query<{ rows: unknown }>(
      `select coalesce(json_agg(json_build_object('id', u.id, 'email', u.email)), '[]') as rows
         from ${s}.users u where u.id in (select user_id from ${s}.memberships where tenant_id = $1 union select user_id from ${s}.token_revocations where tenant_id = $1)`,
      [tenantId],
    );
    const tables: Record<string, unknown> = {};
    for (const table of tenantTableNames) {
      const { rows } = await admin.query<{ rows: unknown }>(`select coalesce(json_agg(t), '[]') as rows from ${s}.${q(table)} t where t.tenant_id = $1`, [tenantId]);
      tables[table] = rows[0]!.rows;
    }
    // Fill and verify the new database in one transaction there.
    const target = new pg.Client({ connectionString: urlFor(db.adminUrl, database.name), application_name: 'tenantproof-reference-move' });
    await target.connect();
    try {
      const t = q(tenantDatabaseSchema);
      await target.query('begin');
      await target.query(`set local role ${q(db.roles.owner)}`);
      await target.query(`insert into ${t}.tenants select * from json_populate_record(null::${t}.tenants, $1::json)`, [JSON.stringify({ ...(registry[0]!.row as object), model: 'database' })]);
      await target.query(`insert into ${t}.users select * from json_populate_recordset(null::${t}.users, $1::json)`, [JSON.stringify(users[0]!.rows)]);
      for (const table of tenantTableNames) {
        await target.query(`insert into ${t}.${q(table)} overriding system value select * from json_populate_recordset(null::${t}.${q(table)}, $1::json)`, [
          JSON.stringify(tables[table]),
        ]);
      }
      await target.query(`select setval(pg_get_serial_sequence('${t}.audit_log', 'id'), greatest((select max(id) from ${t}.audit_log), 1))`);
      sameCounts('database', tenantId, source, await countsIn(target, tenantDatabaseSchema, tenantId));
      await hooks.beforeSwitch?.();
      await target.query('commit');
    } catch (error) {
      await target.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      await target.end().catch(() => undefined);
    }
    // Switch: the directory learns the memberships, the registry the model; the old rows go.
    await admin.query(`select set_config('app.current_tenant', $1, true)`, [tenantId]);
    await admin.query(
      `insert into ${s}.tenant_members (tenant_id, user_id, role, created_at)
       select m.tenant_id, m.user_id, r.name, m.created_at from ${s}.memberships m join ${s}.roles r on r.tenant_id = m.tenant_id and r.id = m.role_id
        where m.tenant_id = $1`,
      [tenantId],
    );
    await admin.query(`update ${s}.tenants set model = 'database' where id = $1`, [tenantId]);
    await deleteShared(admin, db, tenantId);
    await admin.query('commit');
    return { tenantId, from: 'rls', to: 'database', rows: source, ms: Date.now() - started };
  } catch (error) {
    await admin.query('rollback').catch(() => undefined);
    if (created) await database.drop().catch(() => undefined);
    throw error instanceof MoveTenantError ? error : new MoveTenantError(tenantId, 'database', (error as Error).message, { cause: error });
  }
}
