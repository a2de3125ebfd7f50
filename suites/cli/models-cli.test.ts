import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { scratchDatabase, testServer } from '../../fixtures/index.ts';
import { quoteIdent, withClient } from '../../src/index.ts';
import { errorLines, runCli } from './cli-helpers.ts';

describe('tenantproof verify: schema and database models', () => {
  test('--model database without --tenant-role: exit 2 with one line', async () => {
    const run = await runCli(['verify', '--database-url', 'postgres://u@127.0.0.1:1/x', '--model', 'database']);
    expect(run.code).toBe(2);
    expect(errorLines(run)).toEqual([expect.stringMatching(/^tenantproof: --tenant-role is required for --model database/)]);
  });

  test('--model schema with fewer than two tenant schemas: exit 2 with one line', async () => {
    await using db = await scratchDatabase('clis');
    const run = await runCli(['verify', '--database-url', db.url, '--model', 'schema', '--schema-pattern', 'nobody_%']);
    expect(run.code).toBe(2);
    expect(errorLines(run)).toEqual([expect.stringMatching(/at least 2 tenant schemas matching --schema-pattern nobody_%/)]);
  });

  test('--model schema: a grant across tenant schemas is a finding (exit 1)', { timeout: 120_000 }, async () => {
    const { adminUrl } = testServer();
    await using db = await scratchDatabase('clis');
    const roles = ['cli_t_a_role', 'cli_t_b_role'].map((r) => `${r}_${db.name}`);
    try {
      await withClient(adminUrl, (c) => c.query(roles.map((r) => `create role ${quoteIdent(r)};`).join('')));
      await withClient(db.url, async (c) => {
        for (const [i, s] of ['t_a', 't_b'].entries()) {
          await c.query(`create schema ${s}; create table ${s}.notes (id int primary key, body text not null);
            grant usage on schema ${s} to ${quoteIdent(roles[i]!)}; grant select, insert, update, delete on ${s}.notes to ${quoteIdent(roles[i]!)};`);
        }
        await c.query(`grant usage on schema t_b to ${quoteIdent(roles[0]!)}; grant select on t_b.notes to ${quoteIdent(roles[0]!)};`);
      });
      const run = await runCli([
        'verify', '--database-url', db.url, '--model', 'schema', '--schema-pattern', 't\\_%', '--tenant-role', `cli_{tenant}_role_${db.name}`,
        '--runs', '2', '--seed', '3', '--format', 'json', '--report-dir', mkdtempSync(join(tmpdir(), 'tp-clis-')),
      ]);
      expect(run.code, run.stderr).toBe(1);
      const report = JSON.parse(run.stdout) as { findings: { checkId: string; object: string; actingTenant?: string; victimTenant?: string }[] };
      expect(report.findings).toContainEqual(expect.objectContaining({ checkId: 'probe-schema-read', object: 't_b.notes', actingTenant: 't_a', victimTenant: 't_b' }));
    } finally {
      await db.drop();
      await withClient(adminUrl, (c) => c.query(roles.map((r) => `drop role if exists ${quoteIdent(r)};`).join('')));
    }
  });
});
