/**
 * Shared sequences. An identity column on a shared table hands one counter to every tenant: the
 * gap between two ids tenant A receives is the number of rows other tenants inserted in between —
 * rolled-back inserts included (nextval is never rolled back). A per-tenant counter kept in an
 * RLS-protected table closes it.
 */
import { describe, expect, test } from 'vitest';
import { quoteIdent, type Queryable } from '../../src/index.ts';
import { asTenant, evidence, openLab, ruleFindings, tenantPredicate, tenants, withAdmin } from './harness.ts';

const insertsOfB = 37;

/** A inserts, B inserts 37 rows (committed) and 5 more (rolled back), A inserts again: the number A's second row got, minus its first, minus one. */
async function gapSeenByA(q: Queryable, app: string): Promise<number> {
  const insertAs = (tenant: string, end: 'commit' | 'rollback' = 'commit') =>
    asTenant(q, app, tenant, async () => (await q.query<{ number: string }>('insert into invoices (tenant_id) values ($1) returning number::text', [tenant])).rows[0]!.number, end);
  const first = Number(await insertAs(tenants.a));
  for (let i = 0; i < insertsOfB; i++) await insertAs(tenants.b);
  for (let i = 0; i < 5; i++) await insertAs(tenants.b, 'rollback');
  const second = Number(await insertAs(tenants.a));
  return second - first - 1;
}

describe('shared sequences', () => {
  test('red: an identity column shared by all tenants tells A how many invoices the others created in between (rolled-back ones too)', async () => {
    const lab = await openLab();
    await using _ = lab;
    const app = await lab.createRole('app');
    await lab.admin(`
      grant usage on schema public to ${quoteIdent(app)};
      create table invoices (number bigint generated always as identity primary key, tenant_id uuid not null);
      alter table invoices enable row level security;
      alter table invoices force row level security;
      create policy tenant_isolation on invoices to ${quoteIdent(app)} using (${tenantPredicate}) with check (${tenantPredicate});
      grant select, insert on invoices to ${quoteIdent(app)};`);
    const gap = await withAdmin(lab, (q) => gapSeenByA(q, app));
    await evidence('gap between two of A\'s invoice numbers', { gap, insertsOfB, rolledBackByB: 5 });
    expect(gap).toBe(insertsOfB + 5);
    expect((await ruleFindings(lab, app, 'shared-sequence-on-tenant-table')).map((f) => f.object)).toEqual(['public.invoices.number']);
  });

  test('green: a per-tenant counter in an RLS-protected table numbers A\'s invoices 1, 2 whatever B does', async () => {
    const lab = await openLab();
    await using _ = lab;
    const app = await lab.createRole('app');
    await lab.admin(`
      grant usage on schema public to ${quoteIdent(app)};
      create table invoice_counters (tenant_id uuid primary key, last bigint not null);
      alter table invoice_counters enable row level security;
      alter table invoice_counters force row level security;
      create policy tenant_isolation on invoice_counters to ${quoteIdent(app)} using (${tenantPredicate}) with check (${tenantPredicate});
      grant select, insert, update on invoice_counters to ${quoteIdent(app)};
      create table invoices (tenant_id uuid not null, number bigint not null, primary key (tenant_id, number));
      alter table invoices enable row level security;
      alter table invoices force row level security;
      create policy tenant_isolation on invoices to ${quoteIdent(app)} using (${tenantPredicate}) with check (${tenantPredicate});
      grant select, insert on invoices to ${quoteIdent(app)};
      create function next_invoice_number() returns trigger language plpgsql set search_path = pg_catalog, public as $$
      begin
        insert into public.invoice_counters as c (tenant_id, last) values (new.tenant_id, 1)
          on conflict (tenant_id) do update set last = c.last + 1
          returning last into new.number;
        return new;
      end $$;
      create trigger number_invoice before insert on invoices for each row execute function next_invoice_number();`);
    const gap = await withAdmin(lab, (q) => gapSeenByA(q, app));
    await evidence('gap between two of A\'s invoice numbers', { gap, insertsOfB, rolledBackByB: 5 });
    expect(gap).toBe(0);
    expect(await ruleFindings(lab, app, 'shared-sequence-on-tenant-table')).toEqual([]);
  });
});
