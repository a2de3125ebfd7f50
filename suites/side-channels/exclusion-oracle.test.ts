/**
 * Exclusion constraints as an existence oracle. Like a unique key, an EXCLUDE constraint is checked
 * against every row, whatever the policies: when it leaves the tenant column out, tenant A's insert
 * fails exactly when some other tenant holds an overlapping row — A maps B's bookings by bisecting
 * time ranges, without ever reading them. (With RLS on, PostgreSQL leaves the conflicting key out
 * of the error's DETAIL: existence crosses, values do not.) The probes' unique/foreign-key oracles
 * do not cover EXCLUDE; the static rule exclusion-without-tenant-column does.
 */
import { describe, expect, test } from 'vitest';
import { quoteIdent, withSavepoint, type Queryable } from '../../src/index.ts';
import { asTenant, evidence, openLab, ruleFindings, tenantPredicate, tenants, withAdmin, type Lab } from './harness.ts';

/** Tenant B's booking of room 7; tenant A never books it. */
const bookingOfB = '["2026-03-02 10:00+00", "2026-03-02 11:00+00")';

async function bookings(lab: Lab, exclusion: string): Promise<string> {
  const app = await lab.createRole('app');
  await lab.admin(`
    create extension btree_gist;
    grant usage on schema public to ${quoteIdent(app)};
    create table bookings (
      id uuid primary key default gen_random_uuid(), tenant_id uuid not null, room int not null, during tstzrange not null,
      ${exclusion});
    alter table bookings enable row level security;
    alter table bookings force row level security;
    create policy tenant_isolation on bookings to ${quoteIdent(app)} using (${tenantPredicate}) with check (${tenantPredicate});
    grant select, insert on bookings to ${quoteIdent(app)};
    insert into bookings (tenant_id, room, during) values ('${tenants.b}', 7, '${bookingOfB}');`);
  return app;
}

/** For each slot A tries for room 7: 'free' or the SQLSTATE (and DETAIL) of the refusal. Everything is rolled back. */
async function probeSlots(q: Queryable, app: string, slots: readonly string[]) {
  return asTenant(q, app, tenants.a, async () => {
    const seen = (await q.query<{ n: number }>('select count(*)::int as n from bookings')).rows[0]!.n;
    const answers: Record<string, string> = {};
    for (const slot of slots) {
      answers[slot] = await withSavepoint(q, () => q.query('insert into bookings (tenant_id, room, during) values ($1, 7, $2)', [tenants.a, slot])).then(
        () => 'free',
        (e: { code?: string; detail?: string }) => `${e.code}${e.detail ? ` ${e.detail}` : ''}`,
      );
    }
    return { rowsVisibleToA: seen, answers };
  });
}

const overlapping = '["2026-03-02 10:30+00", "2026-03-02 10:45+00")';
const elsewhere = '["2026-03-02 12:00+00", "2026-03-02 13:00+00")';

describe('exclusion constraints as an existence oracle', () => {
  test("red: EXCLUDE (room WITH =, during WITH &&) without the tenant column refuses A's slot exactly when B holds an overlapping booking", async () => {
    const lab = await openLab();
    await using _ = lab;
    const app = await bookings(lab, 'exclude using gist (room with =, during with &&)');
    const seen = await withAdmin(lab, (q) => probeSlots(q, app, [overlapping, elsewhere]));
    await evidence("tenant A's attempts on room 7", seen);
    expect(seen.rowsVisibleToA).toBe(0);
    // exclusion_violation; under RLS the DETAIL is 'Key conflicts with existing key.' without B's values.
    expect(seen.answers[overlapping]).toMatch(/^23P01/);
    expect(seen.answers[overlapping]).not.toContain('10:00');
    expect(seen.answers[elsewhere]).toBe('free');
    expect((await ruleFindings(lab, app, 'exclusion-without-tenant-column')).map((f) => f.object)).toEqual([expect.stringMatching(/^public\.bookings \(/)]);
  });

  test('green: EXCLUDE (tenant_id WITH =, room WITH =, during WITH &&): A books the same slot as B, nothing is refused', async () => {
    const lab = await openLab();
    await using _ = lab;
    const app = await bookings(lab, 'exclude using gist (tenant_id with =, room with =, during with &&)');
    const seen = await withAdmin(lab, (q) => probeSlots(q, app, [overlapping, elsewhere]));
    await evidence("tenant A's attempts on room 7", seen);
    expect(seen.answers).toEqual({ [overlapping]: 'free', [elsewhere]: 'free' });
    expect(await ruleFindings(lab, app, 'exclusion-without-tenant-column')).toEqual([]);
  });
});
