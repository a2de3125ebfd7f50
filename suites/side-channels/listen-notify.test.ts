/**
 * LISTEN/NOTIFY. Channels have no privileges: any session of a database may LISTEN on any channel
 * name, so a payload that one tenant's trigger sends reaches every other tenant's listener. Within
 * one database PostgreSQL offers no mitigation (only payloads that carry nothing, e.g. an id the
 * listener must then read under RLS); notifications never cross databases (database model).
 */
import { describe, expect, test } from 'vitest';
import pg from 'pg';
import { quoteIdent } from '../../src/index.ts';
import { evidence, openLab, ruleFindings, tenantPredicate, tenants, type Lab } from './harness.ts';

const payloadOfB = 'order 7731 for ceo@globex.example, 48000 EUR';

/**
 * Listens on `orders` in `database` as `role` until the sentinel payload arrives (sent after B's
 * notification, so B's would already have arrived if it crossed) and returns every payload seen.
 */
async function listenUntilSentinel(lab: Lab, role: string, database: string, notifyAsB: () => Promise<void>): Promise<string[]> {
  const listener = new pg.Client({ connectionString: lab.urlAs(role, database) });
  listener.on('error', () => undefined);
  await listener.connect();
  try {
    const payloads: string[] = [];
    const sentinel = `sentinel-${lab.prefix}`;
    const arrived = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sentinel notification not received; saw ${JSON.stringify(payloads)}`)), 20_000);
      listener.on('notification', (n) => {
        if (n.payload === sentinel) {
          clearTimeout(timer);
          resolve();
        } else payloads.push(n.payload ?? '');
      });
    });
    await listener.query('listen orders');
    await notifyAsB();
    await lab.admin('select pg_notify($1, $2)', ['orders', sentinel], database);
    await arrived;
    return payloads;
  } finally {
    await listener.end().catch(() => undefined);
  }
}

const ordersTable = (app: string) => `
  grant usage on schema public to ${quoteIdent(app)};
  create table orders (id bigint generated always as identity primary key, tenant_id uuid not null, summary text not null);
  alter table orders enable row level security;
  alter table orders force row level security;
  create policy tenant_isolation on orders to ${quoteIdent(app)} using (${tenantPredicate}) with check (${tenantPredicate});
  grant select, insert on orders to ${quoteIdent(app)};
  create function notify_order() returns trigger language plpgsql set search_path = pg_catalog as $$
  begin perform pg_notify('orders', new.summary); return new; end $$;
  create trigger notify_order after insert on orders for each row execute function notify_order();`;

async function insertOrderOfB(lab: Lab, app: string, database: string): Promise<void> {
  await lab.admin(
    `begin; select set_config('app.current_tenant', '${tenants.b}', true); set local role ${quoteIdent(app)};
     insert into orders (tenant_id, summary) values ('${tenants.b}', '${payloadOfB}'); commit;`,
    [],
    database,
  );
}

describe('LISTEN/NOTIFY', () => {
  test("red: in one database, tenant A's listener receives the payload B's trigger sent", async () => {
    const lab = await openLab();
    await using _ = lab;
    const app = await lab.createRole('app');
    await lab.admin(ordersTable(app));
    const seen = await listenUntilSentinel(lab, app, lab.name('main'), () => insertOrderOfB(lab, app, lab.name('main')));
    await evidence('payloads received by tenant A', seen);
    expect(seen).toEqual([payloadOfB]);
    expect((await ruleFindings(lab, app, 'notify-from-tenant-table')).map((f) => f.object)).toEqual(['trigger notify_order on public.orders']);
  });

  test("green: database model — A's listener in A's database receives nothing from B's database", async () => {
    const lab = await openLab();
    await using _ = lab;
    const roleA = await lab.createRole('t_a_role');
    const roleB = await lab.createRole('t_b_role');
    const dbA = await lab.createDatabase('t_a');
    const dbB = await lab.createDatabase('t_b');
    await lab.admin(ordersTable(roleB), [], dbB);
    const seen = await listenUntilSentinel(lab, roleA, dbA, () => insertOrderOfB(lab, roleB, dbB));
    await evidence('payloads received by tenant A', seen);
    expect(seen).toEqual([]);
  });
});
