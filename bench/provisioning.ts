/**
 * Benchmark (not a test): the cost of provisioning one tenant in the schema and database models,
 * next to the raw PostgreSQL cost of the same DDL in the same run, and whether it stays linear in N.
 *
 *   npx tsx bench/provisioning.ts [--schemas N] [--databases N]      # embedded PostgreSQL 18
 *   DATABASE_URL=postgres://… npx tsx bench/provisioning.ts           # an existing server (superuser)
 *
 * - schema, app: `TenantControl.provision` — per-tenant role (granted to the app role), schema,
 *   the ten tenant tables, grants, the directory trigger, the migration record: one transaction.
 *   raw: the same role + schema + tables + grants + trigger as one multi-statement transaction.
 * - database, app: per-tenant login role, `CREATE DATABASE … TEMPLATE`, CONNECT revoked from
 *   PUBLIC, a connection to the new database for its grants.
 *   raw: `CREATE DATABASE … TEMPLATE` of the same template.
 * Linearity: mean per-tenant time of the first and the last tenth of the run (flat = linear).
 * Target (issue 3): within 1.5× of raw; linear up to 1,000 schema and 100 database tenants.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startPostgres } from '../fixtures/index.ts';
import { createScratchDatabase, quoteIdent as q, withClient } from '../src/index.ts';
import { appMembershipGrant, dropReferenceRoles, migrateReferenceDatabase, TenantControl, tenantSchemaDdl } from '../reference-app/src/index.ts';

const { values } = parseArgs({ options: { schemas: { type: 'string', default: '50' }, databases: { type: 'string', default: '10' } } });
const schemas = Number(values.schemas);
const databases = Number(values.databases);

interface Figures {
  readonly perTenantMs: number;
  readonly firstTenthMs: number;
  readonly lastTenthMs: number;
  readonly totalS: number;
  /** Mean per-tenant ms of each tenth of the run, in order. */
  readonly tenthsMs: readonly number[];
  /** Least-squares slope of per-tenant ms against the tenant's ordinal, per 1,000 tenants (0 = linear total cost). */
  readonly slopeMsPer1000: number;
}

function slopePer1000(ms: readonly number[]): number {
  const n = ms.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = ms.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (i - mx) * (ms[i]! - my);
    den += (i - mx) ** 2;
  }
  return (num / den) * 1000;
}

/** Runs `app(i)` and `raw(i)` alternately (same conditions for both) and sums up each. */
async function timedPair(label: string, n: number, app: (i: number) => Promise<void>, raw: (i: number) => Promise<void>): Promise<[Figures, Figures]> {
  const times: [number[], number[]] = [[], []];
  const totals = [0, 0];
  for (let i = 0; i < n; i++) {
    for (const [k, one] of [app, raw].entries()) {
      const t0 = performance.now();
      await one(i);
      const ms = performance.now() - t0;
      times[k]!.push(ms);
      totals[k]! += ms;
    }
    if ((i + 1) % Math.max(1, Math.floor(n / 10)) === 0) {
      const last = (k: 0 | 1) => times[k].slice(-Math.max(1, Math.floor(n / 10)));
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      process.stderr.write(`  ${label}: ${i + 1}/${n} tenants, last tenth app ${mean(last(0)).toFixed(1)} ms, raw ${mean(last(1)).toFixed(1)} ms\n`);
    }
  }
  const tenth = Math.max(1, Math.floor(n / 10));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const figures = (k: 0 | 1): Figures => ({
    perTenantMs: mean(times[k]),
    firstTenthMs: mean(times[k].slice(0, tenth)),
    lastTenthMs: mean(times[k].slice(-tenth)),
    totalS: totals[k]! / 1000,
    tenthsMs: Array.from({ length: Math.ceil(n / tenth) }, (_, j) => mean(times[k].slice(j * tenth, (j + 1) * tenth))),
    slopeMsPer1000: slopePer1000(times[k]),
  });
  return [figures(0), figures(1)];
}

function printTable(rows: [string, number, Figures, Figures][]): void {
  const fmt = (x: number) => x.toFixed(1).padStart(8);
  console.log(`\nprovisioning per tenant (ms), PostgreSQL ${server.versionNum}, ${new Date().toISOString()}`);
  console.log('model       N   app/tenant  raw/tenant  app/raw   app first 10%  app last 10%  raw first 10%  raw last 10%   app total s');
  for (const [model, n, app, raw] of rows) {
    console.log(
      `${model.padEnd(9)}${String(n).padStart(5)} ${fmt(app.perTenantMs)}    ${fmt(raw.perTenantMs)}   ${(app.perTenantMs / raw.perTenantMs).toFixed(2).padStart(5)}×  ${fmt(app.firstTenthMs)}       ${fmt(app.lastTenthMs)}      ${fmt(raw.firstTenthMs)}       ${fmt(raw.lastTenthMs)}     ${app.totalS.toFixed(1).padStart(7)}`,
    );
  }
  console.log('\nper tenth of the run (ms per tenant), and the slope of per-tenant ms per 1,000 tenants (0 = linear)');
  for (const [model, , app, raw] of rows) {
    for (const [who, f] of [['app', app], ['raw', raw]] as const) {
      console.log(`${model.padEnd(9)}${who}  ${f.tenthsMs.map((x) => x.toFixed(1).padStart(6)).join(' ')}   slope ${f.slopeMsPer1000.toFixed(1)} ms/1000`);
    }
  }
}

await using server = await startPostgres();
const db = await createScratchDatabase(server.adminUrl, 'bench');
const ref = await migrateReferenceDatabase(db.url);
const control = new TenantControl(ref, new Set());
const rawRoles: string[] = [];
const rawDatabases: string[] = [];
const rows: [string, number, Figures, Figures][] = [];
try {
  if (schemas > 0) {
    const [app, raw] = await withClient(db.url, (c) =>
      timedPair(
        'schema',
        schemas,
        (i) => control.provision({ id: randomUUID(), slug: `s-${i}`, model: 'schema' }),
        async (i) => {
          const role = `${ref.roles.tenantBase}_raw_${i}`;
          rawRoles.push(role);
          await c.query(
            `begin;
             create role ${q(role)} nologin inherit;
             grant ${q(ref.roles.tenantBase)} to ${q(role)};
             ${appMembershipGrant(role, ref.roles.app, server.versionNum)};
             set local role ${q(ref.roles.owner)};
             ${tenantSchemaDdl(`raw_${i}`, role, ref.schema, randomUUID())}
             commit;`,
          );
        },
      ),
    );
    rows.push(['schema', schemas, app, raw]);
  }
  if (databases > 0) {
    await control.ensureTemplate();
    const template = ref.tenantObjects.templateDatabase;
    const [app, raw] = await withClient(server.adminUrl, (c) =>
      timedPair(
        'database',
        databases,
        (i) => control.provision({ id: randomUUID(), slug: `d-${i}`, model: 'database' }),
        async (i) => {
          const name = `${db.name}_raw_${i}`;
          rawDatabases.push(name);
          await c.query(`create database ${q(name)} template ${q(template)}`);
        },
      ),
    );
    rows.push(['database', databases, app, raw]);
  }
  printTable(rows);
} finally {
  await control.close();
  await withClient(server.adminUrl, async (c) => {
    for (const name of rawDatabases) await c.query(`drop database if exists ${q(name)} with (force)`);
  });
  await withClient(db.url, async (c) => {
    for (let i = 0; i < rawRoles.length; i++) await c.query(`drop schema if exists ${q(`raw_${i}`)} cascade`);
    for (const role of rawRoles) await c.query(`drop role if exists ${q(role)}`);
  });
  await dropReferenceRoles(db.url);
  await db.drop();
}

