/**
 * Zero trace: pg_dump of a target is byte-identical before and after `tenantproof verify` — after
 * a full run with findings, after verify is killed halfway, and when the target rejects writes.
 * Runs on PostgreSQL 15 (Debian's binaries) so that Debian's pg_dump 15 can dump it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startPostgres, type PostgresServer } from '../../fixtures/index.ts';
import { quoteIdent, urlFor, withClient } from '../../src/index.ts';
import { baseSchema, corpus } from '../isolation/corpus.ts';
import { errorLines, runCli, startCli } from './cli-helpers.ts';

const pgBin = process.env.TENANTPROOF_PG15_BIN ?? '/usr/lib/postgresql/15/bin';
const available = existsSync(join(pgBin, 'pg_dump')) && existsSync(join(pgBin, 'initdb'));

function pgDump(url: string): string {
  const dump = spawnSync(join(pgBin, 'pg_dump'), ['--dbname', url, '--restrict-key', 'tenantproof'], { encoding: 'utf8' });
  if (dump.status !== 0) throw new Error(`pg_dump failed: ${dump.stderr}`);
  return dump.stdout;
}

describe.skipIf(!available)('zero trace: pg_dump is identical before and after verify (PostgreSQL 15)', () => {
  let server: PostgresServer;
  let url: string;
  /** A target without flaws: its 500 runs take long enough to be killed halfway. */
  let cleanUrl: string;
  const app = 'zt_app';

  beforeAll(async () => {
    server = await startPostgres({ provider: 'binaries', pgBin });
    await withClient(server.adminUrl, async (c) => {
      await c.query(`create database zt`);
      await c.query(`create database zt_clean`);
      await c.query(`create role ${app}`);
    });
    url = urlFor(server.adminUrl, 'zt');
    cleanUrl = urlFor(server.adminUrl, 'zt_clean');
    const flawed = corpus.find((s) => s.flaw === 'rls-off')!;
    const render = (sql: string) => sql.replaceAll('{app}', quoteIdent(app)).replaceAll('{id}', 'text');
    for (const [target, flaw] of [[url, flawed.sql], [cleanUrl, '']] as const) {
      await withClient(target, async (c) => {
        await c.query(render(baseSchema('text')));
        if (flaw) await c.query(render(flaw));
        // Pre-existing tenants and rows, so sequences have values that must not move.
        await c.query(`insert into tenants values ('existing-a', 'A'), ('existing-b', 'B');
          insert into projects (tenant_id, name, budget) values ('existing-a', 'alpha', 10), ('existing-b', 'beta', 20);
          insert into tasks (tenant_id, project_id, title) select tenant_id, id, 'first' from projects;`);
      });
    }
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
  });

  const args = () => ['verify', '--database-url', url, '--model', 'rls', '--app-role', app, '--seed', '5', '--report-dir', mkdtempSync(join(tmpdir(), 'tp-zt-'))];

  test('after a full run that finds leaks', { timeout: 180_000 }, async () => {
    const before = pgDump(url);
    const run = await runCli([...args(), '--runs', '3']);
    expect(run.code, run.stderr).toBe(1);
    expect(pgDump(url)).toBe(before);
  });

  test('after verify is killed halfway', { timeout: 180_000 }, async () => {
    const before = pgDump(cleanUrl);
    const { child, done } = startCli(['verify', '--database-url', cleanUrl, '--model', 'rls', '--app-role', app, '--seed', '5', '--report-dir', mkdtempSync(join(tmpdir(), 'tp-zt-')), '--runs', '500']);
    let stderr = '';
    let exited = false;
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    void done.then(() => (exited = true));
    const deadline = Date.now() + 120_000;
    while (!/run [1-9]\d*\//.test(stderr) && !exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(stderr).toMatch(/run [1-9]\d*\//); // probes were running when it was killed…
    expect(exited, stderr).toBe(false); // …and it had not finished
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    // The suites notice their parent is gone and exit; PostgreSQL rolls their transaction back.
    const gone = Date.now() + 30_000;
    let open = 1;
    while (open > 0 && Date.now() < gone) {
      open = (await withClient(server.adminUrl, (c) => c.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where datname = 'zt_clean' and pid <> pg_backend_pid()`))).rows[0]!.n;
      if (open > 0) await new Promise((r) => setTimeout(r, 250));
    }
    expect(open).toBe(0);
    expect(pgDump(cleanUrl)).toBe(before);
  });

  test('when the target rejects writes: exit 2 with one line, nothing changed', { timeout: 180_000 }, async () => {
    await withClient(server.adminUrl, (c) => c.query('alter database zt set default_transaction_read_only = on'));
    try {
      const before = pgDump(url);
      const run = await runCli([...args(), '--runs', '3']);
      expect(run.code, run.stderr).toBe(2);
      expect(errorLines(run)).toHaveLength(1);
      expect(run.stderr).toMatch(/^tenantproof: .*(read-only|rejects writes)/);
      expect(pgDump(url)).toBe(before);
    } finally {
      await withClient(server.adminUrl, (c) => c.query('alter database zt reset default_transaction_read_only'));
    }
  });
});
