/**
 * Schema-per-tenant and database-per-tenant corpora: correct layouts must verify, and each flaw
 * (a grant to PUBLIC, a grant across tenants, a shared role, CONNECT left to PUBLIC) must be found.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { scratchDatabase, testServer } from '../../fixtures/index.ts';
import { pinnedValue, quoteIdent, targetDefaults, urlFor, verifyTarget, withClient, type TargetConfig } from '../../src/index.ts';
import { expectEveryRunSawForeignRows } from './harness.ts';
import { databaseCases, schemaCases, tenantTables } from './model-corpus.ts';

const seed = Number(process.env.TENANTPROOF_SEED ?? 20260403);
const runs = Number(process.env.TENANTPROOF_RUNS ?? 4);

describe('schema model corpus', () => {
  for (const c of schemaCases) {
    test(`${c.flaw ? `flaw ${c.flaw}` : 'correct'}: ${c.name} (seed=${seed})`, async () => {
      const { adminUrl } = testServer();
      await using db = await scratchDatabase('sch');
      const p = `tp${randomBytes(3).toString('hex')}`;
      const schemas = ['a', 'b', 'c'].map((t) => `${p}_${t}`);
      const roles = schemas.map((s) => `${s}_role`);
      const shared = `${p}_shared`;
      const pins = schemas.map(() => randomUUID());
      try {
        await withClient(adminUrl, (cl) => cl.query([...roles, shared].map((r) => `create role ${quoteIdent(r)};`).join('')));
        await withClient(db.url, async (cl) => {
          for (const [i, s] of schemas.entries()) {
            const pin = c.pinned ? `alter table ${s}.customers add column tenant_id uuid not null check (tenant_id = '${randomUUID()}');
              alter table ${s}.orders add column tenant_id uuid not null check (tenant_id = '${randomUUID()}'::uuid);` : '';
            await cl.query(`create schema ${s}; ${tenantTables(s)} ${pin.replace(/'[0-9a-f-]{36}'/g, `'${pins[i]}'`)}
              grant usage on schema ${s} to ${roles[i]}; grant select, insert, update, delete on all tables in schema ${s} to ${roles[i]};
              grant usage on schema ${s} to ${shared}; ${c.shared ? `grant select, insert, update, delete on all tables in schema ${s} to ${shared};` : ''}`);
          }
          if (c.extra) await cl.query(c.extra(schemas, roles));
        });
        const target: TargetConfig = {
          ...targetDefaults,
          databaseUrl: db.url,
          model: 'schema',
          schemaPattern: `${p}_%`,
          appRole: shared,
          tenantRole: c.shared ? null : '{tenant}_role',
        };
        const result = await verifyTarget(target, { runs, seed });
        expect(result.skippedTables.map((t) => `${t.table}: ${t.reason}`)).toEqual([]);
        expectEveryRunSawForeignRows(result, runs);
        const summary = result.findings.map((f) => `${f.checkId} ${f.object}`);
        if (!c.expect) expect(summary).toEqual([]);
        else {
          const wanted = c.expect.object(schemas);
          // The shared-role flaw is in every schema: whichever schemas the shrunk world kept.
          const missing = c.expect.checkIds.filter((id) => !summary.some((f) => f.startsWith(`${id} `) && f.endsWith(wanted)));
          expect(missing, `not found on ${wanted}; findings: ${summary.join('; ')}`).toEqual([]);
          if (c.expect.path) {
            // The evidence names the way in: acting role → grant or membership → the victim's data.
            const paths = result.findings.filter((f) => f.object.endsWith(wanted)).map((f) => String((f.observed as { path?: string } | undefined)?.path ?? ''));
            const want = c.expect.path(schemas, roles);
            expect(paths.some((p) => p.includes(want)), `no finding on ${wanted} with path ${want}; paths: ${paths.join('; ')}`).toBe(true);
          }
          const allowed = new Set(c.alsoFound?.(schemas) ?? []);
          const spurious = result.findings.filter((f) => !f.object.endsWith(wanted) && !allowed.has(f.object)).map((f) => `${f.checkId} ${f.object}`);
          expect(spurious, `findings on objects the flaw does not reach: ${spurious.join('; ')}`).toEqual([]);
        }
      } finally {
        await db.drop();
        await withClient(adminUrl, (cl) => cl.query([...roles, shared].map((r) => `drop role if exists ${quoteIdent(r)};`).join('')));
      }
    });
  }
});

test('a pinned tenant column is read from its CHECK, and nothing looser counts as a pin', () => {
  expect(pinnedValue(`CHECK ((tenant_id = '5f0c0e1a-0000-4000-8000-000000000001'::uuid))`, 'tenant_id')).toBe('5f0c0e1a-0000-4000-8000-000000000001');
  expect(pinnedValue(`CHECK ((tenant_id = 'o''brien'::text))`, 'tenant_id')).toBe("o'brien");
  expect(pinnedValue(`CHECK (("Tenant" = 'acme'::text))`, 'Tenant')).toBe('acme');
  expect(pinnedValue(`CHECK ((tenant_id <> 'acme'::text))`, 'tenant_id')).toBeNull();
  expect(pinnedValue(`CHECK (((tenant_id = 'a'::text) OR (tenant_id = 'b'::text)))`, 'tenant_id')).toBeNull();
  expect(pinnedValue(`CHECK ((other_id = 'a'::text))`, 'tenant_id')).toBeNull();
});

/**
 * Every role holding one of `roles` (a scratch login holds one while it exists), to compare before
 * and after a verify. (Not all of pg_roles: other test files create and drop roles meanwhile.)
 */
async function holdersOf(adminUrl: string, roles: readonly string[]): Promise<string[]> {
  return withClient(adminUrl, async (cl) => {
    const { rows } = await cl.query<{ name: string }>(
      `select m.member::regrole::text || ' in ' || m.roleid::regrole::text as name from pg_auth_members m
        where m.roleid in (select oid from pg_roles where rolname = any($1::text[])) order by 1`,
      [roles],
    );
    return rows.map((r) => r.name);
  });
}

describe('database model corpus', () => {
  for (const c of databaseCases) {
    test(`${c.flaw ? `flaw ${c.flaw}` : 'correct'}: ${c.name} (seed=${seed})`, async () => {
      const { adminUrl } = testServer();
      const p = `tp${randomBytes(3).toString('hex')}`;
      const dbs = ['a', 'b'].map((t) => `${p}_${t}`);
      const roles = dbs.map((d) => `${d}_role`);
      // Outside --database-pattern (LIKE's _ matches any character, so no shared prefix).
      const shared = `sh${p}`;
      try {
        await withClient(adminUrl, async (cl) => {
          for (const [i, d] of dbs.entries()) {
            await cl.query(`create database ${d}`);
            await cl.query(`create role ${roles[i]}`);
            if (!c.keepPublicConnect) await cl.query(`revoke connect on database ${d} from public`);
            await cl.query(`grant connect on database ${d} to ${roles[i]}`);
          }
          if (c.shared) await cl.query(`create database ${shared}`);
          if (c.cluster) await cl.query(c.cluster(dbs, roles, shared));
        });
        for (const [i, d] of dbs.entries()) {
          await withClient(urlFor(adminUrl, d), async (cl) => {
            await cl.query(`${tenantTables('public')} grant select, insert, update, delete on all tables in schema public to ${roles[i]};`);
            if (c.extra && i === 1) await cl.query(c.extra);
            if (c.first && i === 0) await cl.query(c.first(dbs, roles, new URL(adminUrl)));
          });
        }
        if (c.shared) await withClient(urlFor(adminUrl, shared), (cl) => cl.query(c.shared!(dbs, roles)));
        const rolesBefore = await holdersOf(adminUrl, roles);
        const target: TargetConfig = { ...targetDefaults, databaseUrl: adminUrl, model: 'database', databasePattern: `${p}_%`, tenantRole: '{tenant}_role' };
        const result = await verifyTarget(target, { runs, seed });
        expectEveryRunSawForeignRows(result, runs);
        const summary = result.findings.map((f) => `${f.checkId} ${f.object}`);
        // A finding made inside a world fails that world: the result names the smallest one and its
        // path. Reach found once before the worlds fails none.
        if (result.findings.some((f) => /^probe-database-(read|update|delete|insert)$/.test(f.checkId))) {
          expect(result.path).not.toBeNull();
          expect([...(result.counterexample as { tenants: string[] }).tenants].sort()).toEqual([...dbs].sort());
        } else {
          expect(result.path).toBeNull();
          expect(result.counterexample).toBeNull();
        }
        // The scratch logins are gone: the cluster's roles are what they were.
        expect(await holdersOf(adminUrl, roles)).toEqual(rolesBefore);
        if (!c.expect) expect(summary).toEqual([]);
        else {
          const wanted = c.expect.object(dbs, shared);
          for (const id of c.expect.checkIds) expect(summary).toContain(`${id} ${wanted}`);
          if (c.expect.path) {
            const paths = result.findings.filter((f) => f.object === wanted).map((f) => String((f.observed as { path?: string } | undefined)?.path ?? ''));
            const want = c.expect.path(dbs, roles, shared);
            expect(paths.some((x) => x.includes(want)), `no finding on ${wanted} with path ${want}; paths: ${paths.join('; ')}`).toBe(true);
          }
          const allowed = new Set([wanted, ...(c.alsoFound?.(dbs, shared) ?? [])]);
          const spurious = result.findings.filter((f) => !allowed.has(f.object)).map((f) => `${f.checkId} ${f.object}`);
          expect(spurious, `findings on objects the flaw does not reach: ${spurious.join('; ')}`).toEqual([]);
        }
      } finally {
        await withClient(adminUrl, async (cl) => {
          for (const d of [...dbs, shared]) await cl.query(`drop database if exists ${d} with (force)`);
          for (const r of roles) await cl.query(`drop role if exists ${r}`);
        });
      }
    });
  }
});
