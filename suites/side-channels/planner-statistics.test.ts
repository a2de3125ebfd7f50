/**
 * Planner statistics through EXPLAIN. ANALYZE samples a shared table across every tenant; under
 * row level security the planner still uses those statistics for leakproof operators (text and
 * uuid equality, int and text comparisons), so tenant A's EXPLAIN estimates reflect tenant B's
 * rows: which values B has many of, how many rows B has, how B's amounts are distributed.
 * pg_stats hides them (it filters RLS tables); EXPLAIN does not.
 */
import { describe, expect, test } from 'vitest';
import { testServer } from '../../fixtures/index.ts';
import { quoteIdent, runStaticRules, targetDefaults, urlFor, withClient, type Finding } from '../../src/index.ts';
import { asTenant, estimatedRows, evidence, literal, openLab, rowsOfB, secret, sharedDocuments, tenants, withAdmin, type Lab } from './harness.ts';

const { a: tenantA, b: tenantB, nobody } = tenants;
const absent = 'no-tenant-has-this';

interface Measurement {
  /** Estimate for B's common value over the estimate for a value nobody has. */
  readonly valueRatio: number;
  /** Estimate for `tenant_id = B` over the estimate for a tenant id that does not exist. */
  readonly tenantRatio: number;
  readonly tenantEstimate: number;
  /** Estimate for amounts above 500000 (only B's) over amounts above 50000000 (nobody's). */
  readonly rangeRatio: number;
  /** What A reads of B's rows directly: must be 0 (RLS holds; the channel is beside it). */
  readonly rowsOfBVisible: number;
}

/** What tenant A learns from EXPLAIN alone, in A's tenant context. */
async function measureAsTenantA(lab: Lab, app: string, table = 'documents'): Promise<Measurement> {
  return withAdmin(lab, (q) =>
      asTenant(q, app, tenantA, async () => {
        const est = (where: string) => estimatedRows(q, `select * from ${table} where ${where}`);
        const [common, none, b, nobodys, above, farAbove] = [
          await est(`category = ${literal(secret)}`),
          await est(`category = ${literal(absent)}`),
          await est(`tenant_id = ${literal(tenantB)}`),
          await est(`tenant_id = ${literal(nobody)}`),
          await est('amount_cents > 500000'),
          await est('amount_cents > 50000000'),
        ];
        const visible = await q.query<{ n: number }>(`select count(*)::int as n from ${table} where tenant_id = $1`, [tenantB]);
        return {
          valueRatio: common / none,
          tenantRatio: b / nobodys,
          tenantEstimate: b,
          rangeRatio: above / farAbove,
          rowsOfBVisible: visible.rows[0]!.n,
        };
      }),
  );
}

/** Drops a column's statistics: pg_clear_attribute_stats (18+) or pg_statistic directly (superuser, below 18). */
async function clearStatistics(lab: Lab, table: string, column: string): Promise<void> {
  if (testServer().versionNum >= 180000) await lab.admin(`select pg_clear_attribute_stats('public', $1, $2, false)`, [table, column]);
  else await lab.admin(`delete from pg_statistic where starelid = $1::regclass and staattnum = (select attnum from pg_attribute where attrelid = $1::regclass and attname = $2)`, [table, column]);
}

describe('planner statistics through EXPLAIN: rls model (red)', () => {
  test("tenant A's estimates reveal B's common value, B's row count, and the range of B's amounts; A reads none of B's rows", async () => {
    const lab = await openLab();
    await using _ = lab;
    const app = await sharedDocuments(lab);
    const m = await measureAsTenantA(lab, app);
    await evidence('estimates seen by tenant A', m);
    expect(m.rowsOfBVisible).toBe(0);
    // Observed 429 vs 3 on PostgreSQL 15 and 18: the MCV list gathered over all tenants.
    expect(m.valueRatio, JSON.stringify(m)).toBeGreaterThanOrEqual(20);
    // Observed exactly 6000 (B's row count) vs 1 for a tenant that does not exist.
    expect(m.tenantEstimate).toBeGreaterThanOrEqual(rowsOfB * 0.8);
    expect(m.tenantEstimate).toBeLessThanOrEqual(rowsOfB * 1.2);
    expect(m.tenantRatio).toBeGreaterThanOrEqual(100);
    // The histogram: A holds no amount above 1000, yet amounts above 500000 are estimated to exist.
    expect(m.rangeRatio).toBeGreaterThanOrEqual(20);
  });

  test('SET STATISTICS 0 and a fresh ANALYZE are not enough: the old statistics stay and the channel stays open', async () => {
    const lab = await openLab();
    await using _ = lab;
    const app = await sharedDocuments(lab);
    await lab.admin('alter table documents alter column category set statistics 0; alter table documents alter column amount_cents set statistics 0; analyze documents');
    const kept = await lab.admin(
      "select count(*)::int as n from pg_statistic s join pg_attribute a on a.attrelid = s.starelid and a.attnum = s.staattnum where s.starelid = 'documents'::regclass and a.attname in ('category', 'amount_cents')",
    );
    expect(kept.rows[0]!.n).toBe(2);
    const m = await measureAsTenantA(lab, app);
    await evidence('estimates seen by tenant A', m);
    expect(m.valueRatio, JSON.stringify(m)).toBeGreaterThanOrEqual(20);
    expect(m.rangeRatio).toBeGreaterThanOrEqual(20);
  });
});

describe('planner statistics through EXPLAIN: mitigations (green)', () => {
  test('SET STATISTICS 0, then a same-type ALTER COLUMN … TYPE (drops the column statistics, any version, table owner): estimates no longer depend on B', async () => {
    const lab = await openLab();
    await using _ = lab;
    const app = await sharedDocuments(lab);
    await lab.admin(`
      alter table documents alter column category set statistics 0, alter column amount_cents set statistics 0;
      alter table documents alter column category type text, alter column amount_cents type int;
      analyze documents;`);
    const m = await measureAsTenantA(lab, app);
    await evidence('estimates seen by tenant A', m);
    expect(m.rowsOfBVisible).toBe(0);
    expect(m.valueRatio, JSON.stringify(m)).toBeLessThanOrEqual(2);
    expect(m.rangeRatio, JSON.stringify(m)).toBeLessThanOrEqual(2);
  });

  test('the tenant column (used by the policy, so its type cannot be altered): SET STATISTICS 0 and clearing its statistics hide B\'s row count', async () => {
    const lab = await openLab();
    await using _ = lab;
    const app = await sharedDocuments(lab);
    await lab.admin('alter table documents alter column tenant_id set statistics 0');
    await clearStatistics(lab, 'documents', 'tenant_id');
    await lab.admin('analyze documents');
    const m = await measureAsTenantA(lab, app);
    await evidence('estimates seen by tenant A', m);
    expect(m.tenantRatio, JSON.stringify(m)).toBeLessThanOrEqual(2);
    expect(m.tenantEstimate).toBeLessThan(rowsOfB * 0.2);
  });

  test("schema model: A's table holds only A's rows, so A's estimates say nothing about B; B's table cannot even be explained", async () => {
    const lab = await openLab();
    await using _ = lab;
    const roleA = await lab.createRole('t_a_role');
    const roleB = await lab.createRole('t_b_role');
    const schemaOf = { a: lab.name('t_a'), b: lab.name('t_b') };
    for (const [schema, role, rows] of [
      [schemaOf.a, roleA, `select '${tenantA}'::uuid, 'a-' || (i % 50), i from generate_series(1, 1000) i`],
      [schemaOf.b, roleB, `select '${tenantB}'::uuid, case when i % 2 = 0 then '${secret}' else 'b-' || (i % 200) end, 1000000 + i * 1000 from generate_series(1, ${rowsOfB}) i`],
    ] as const) {
      await lab.admin(`
        create schema ${quoteIdent(schema)};
        create table ${quoteIdent(schema)}.documents (id uuid primary key default gen_random_uuid(), tenant_id uuid not null, category text not null, amount_cents int not null);
        grant usage on schema ${quoteIdent(schema)} to ${quoteIdent(role)};
        grant select on ${quoteIdent(schema)}.documents to ${quoteIdent(role)};
        insert into ${quoteIdent(schema)}.documents (tenant_id, category, amount_cents) ${rows};
        analyze ${quoteIdent(schema)}.documents;`);
    }
    const m = await measureAsTenantA(lab, roleA, `${quoteIdent(schemaOf.a)}.documents`);
    await evidence('estimates seen by tenant A', m);
    expect(m.valueRatio, JSON.stringify(m)).toBeLessThanOrEqual(2);
    expect(m.tenantRatio).toBeLessThanOrEqual(2);
    expect(m.rangeRatio).toBeLessThanOrEqual(2);
    const denied = withAdmin(lab, (q) => asTenant(q, roleA, tenantA, () => estimatedRows(q, `select * from ${quoteIdent(schemaOf.b)}.documents`)));
    await expect(denied).rejects.toThrow(/permission denied/);
  });

  test('extended statistics: a multi-column MCV list leaks the same way and survives clearing the column statistics; DROP STATISTICS closes it', async () => {
    const lab = await openLab();
    await using _ = lab;
    const app = await sharedDocuments(lab);
    await lab.admin('create statistics documents_tenant_category (mcv) on tenant_id, category from documents; analyze documents');
    await lab.admin('alter table documents alter column category set statistics 0');
    await clearStatistics(lab, 'documents', 'category');
    const ratio = () =>
      withAdmin(lab, (q) =>
        asTenant(q, app, tenantA, async () => {
          const est = (category: string) => estimatedRows(q, `select * from documents where tenant_id = ${literal(tenantB)} and category = ${literal(category)}`);
          return (await est(secret)) / (await est(absent));
        }),
      );
    const kept = await ratio();
    await lab.admin('drop statistics documents_tenant_category');
    const dropped = await ratio();
    await evidence('estimate ratio, B\'s common value over an absent one', { withExtendedStatistics: kept, afterDropStatistics: dropped });
    expect(kept).toBeGreaterThanOrEqual(20);
    expect(dropped).toBeLessThanOrEqual(2);
  });
});

describe('rls-planner-statistics-exposed: the static rule sees the channel from the catalog, read-only', () => {
  const findingsAs = (url: string, app: string): Promise<Finding[]> =>
    withClient(url, (c) => runStaticRules(c, { ...targetDefaults, databaseUrl: url, model: 'rls', appRole: app }, { only: ['rls-planner-statistics-exposed'] })).then((r) => r.findings);
  const columnsOf = (findings: Finding[]) =>
    findings.flatMap((f) => (f.observed as { columns: { column: string; source: string }[] }).columns.map((c) => `${c.column}:${c.source}`)).sort();

  test('as a superuser it reads pg_statistic; as the tables\' owner under FORCE (pg_stats hides the table) it presumes statistics of an analyzed table; both are silent once the statistics are off and cleared', async () => {
    const lab = await openLab();
    await using _ = lab;
    const app = await sharedDocuments(lab);
    const owner = await lab.createRole('owner');
    await lab.admin(`alter table documents owner to ${quoteIdent(owner)}; grant usage on schema public to ${quoteIdent(owner)}`);
    const superuserUrl = urlForLab(lab);
    const ownerUrl = lab.urlAs(owner);

    expect(columnsOf(await findingsAs(superuserUrl, app))).toEqual(['amount_cents:pg_statistic', 'category:pg_statistic', 'id:pg_statistic', 'tenant_id:pg_statistic']);
    expect(columnsOf(await findingsAs(ownerUrl, app))).toEqual(['amount_cents:analyzed', 'category:analyzed', 'id:analyzed', 'tenant_id:analyzed']);

    await lab.admin('alter table documents alter column id set statistics 0, alter column tenant_id set statistics 0, alter column category set statistics 0, alter column amount_cents set statistics 0');
    // Targets at 0 but the old statistics kept: the superuser still sees them; the owner cannot tell (the heuristic's blind spot).
    expect(columnsOf(await findingsAs(superuserUrl, app))).toHaveLength(4);
    expect(await findingsAs(ownerUrl, app)).toEqual([]);
    for (const column of ['id', 'tenant_id', 'category', 'amount_cents']) await clearStatistics(lab, 'documents', column);
    expect(await findingsAs(superuserUrl, app)).toEqual([]);
  });
});

function urlForLab(lab: Lab): string {
  return urlFor(testServer().adminUrl, lab.name('main'));
}

