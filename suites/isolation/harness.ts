/**
 * Puts a corpus schema in a scratch database with its own app role (and owner role), hands the
 * target to the test, and drops everything afterwards.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { scratchDatabase, testServer } from '../../fixtures/index.ts';
import { quoteIdent, targetDefaults, urlFor, withClient, type TargetConfig } from '../../src/index.ts';
import { baseSchema, type CorpusSchema } from './corpus.ts';

export interface CorpusTarget {
  readonly target: TargetConfig;
  /** Admin URL to the scratch database. */
  readonly adminUrl: string;
}

/** The same setup as withCorpusTarget, for a test file that declares its tests from it: `close()` drops it. */
export async function openCorpusTarget(schema: CorpusSchema): Promise<CorpusTarget & { close(): Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let ready!: (t: CorpusTarget) => void;
  const opened = new Promise<CorpusTarget>((r) => (ready = r));
  const done = withCorpusTarget(schema, async (t) => {
    ready(t);
    await released;
  });
  const t = await Promise.race([opened, done.then(() => Promise.reject(new Error('corpus target closed before it opened')))]);
  return { ...t, close: async () => (release(), done) };
}

export async function withCorpusTarget<T>(schema: CorpusSchema, fn: (t: CorpusTarget) => Promise<T>): Promise<T> {
  const { adminUrl } = testServer();
  const db = await scratchDatabase('iso');
  const suffix = randomBytes(4).toString('hex');
  const app = `tp_app_${suffix}`;
  const owner = `tp_owner_${suffix}`;
  const password = randomBytes(8).toString('hex');
  const idType = schema.idType ?? 'text';
  const render = (sql: string) => sql.replaceAll('{app}', quoteIdent(app)).replaceAll('{id}', idType);
  try {
    await withClient(adminUrl, (c) => c.query(`create role ${quoteIdent(app)} nologin`));
    let databaseUrl = db.url;
    if (schema.connectAsOwner) {
      await withClient(adminUrl, (c) => c.query(`create role ${quoteIdent(owner)} login password '${password}'; grant ${quoteIdent(app)} to ${quoteIdent(owner)}`));
      await withClient(db.url, (c) => c.query(`grant create on schema public to ${quoteIdent(owner)}`));
      databaseUrl = urlFor(db.url, db.name, { user: owner, password });
    }
    await withClient(databaseUrl, async (c) => {
      await c.query(render(schema.base ?? baseSchema(idType)));
      if (schema.sql) await c.query(render(schema.sql));
    });
    const target: TargetConfig = { ...targetDefaults, databaseUrl, model: 'rls', appRole: app };
    const result = await fn({ target, adminUrl: db.url });
    // Resources end where they begin: the engine has closed every connection it opened.
    // (A backend needs a moment to exit after its client hangs up: allow two seconds.)
    let open = 0;
    for (const deadline = Date.now() + 2_000; ; ) {
      const { rows } = await withClient(adminUrl, (c) =>
        c.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [db.name]),
      );
      open = rows[0]!.n;
      if (open === 0 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (open !== 0) throw new Error(`${open} connection(s) to ${db.name} left open after verification`);
    return result;
  } finally {
    await db.drop();
    await withClient(adminUrl, (c) => c.query(`drop role if exists ${quoteIdent(app)}; drop role if exists ${quoteIdent(owner)}`));
  }
}

/** The counts of a verification that say whether its runs could have shown a leak. */
export interface RunCounts {
  readonly runsExecuted: number;
  readonly runsWithForeignRows: number;
}

/**
 * A property proves isolation only if it ran and every run gave each acting tenant other tenants'
 * rows to leak: `runsWithForeignRows === runsExecuted` alone also holds for 0 === 0 (no run at
 * all, e.g. `TENANTPROOF_RUNS=0` or fast-check giving up on its pre-conditions).
 */
export function expectEveryRunSawForeignRows(result: RunCounts, runs: number): void {
  expect(runs, 'a property of 0 runs proves nothing').toBeGreaterThan(0);
  expect(result.runsExecuted, `property runs executed (asked for ${runs})`).toBeGreaterThanOrEqual(runs);
  expect(result.runsWithForeignRows, 'runs in which every acting tenant had foreign rows').toBe(result.runsExecuted);
}
