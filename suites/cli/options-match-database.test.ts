import { describe, expect, test } from 'vitest';
import { withCorpusTarget } from '../isolation/harness.ts';
import { corpus } from '../isolation/corpus.ts';
import { errorLines, runCli } from './cli-helpers.ts';

/**
 * Options that do not match the database: each is exit 2 with one line naming it — never a
 * VERIFIED that verified nothing. The green case (the same target, right options) passes.
 */
const correct = corpus.find((s) => s.flaw === null)!;

function expectOneLineError(run: Awaited<ReturnType<typeof runCli>>, pattern: RegExp) {
  const lines = errorLines(run);
  expect(run.code, run.stderr + run.stdout).toBe(2);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^tenantproof: /);
  expect(lines[0]).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(run.stdout).not.toMatch(/VERIFIED/);
}

describe('tenantproof verify: options that match nothing in the database', () => {
  test('a tenant column, tenant table or schema that does not exist, and --tenant-role in the rls model: exit 2, one line naming it', { timeout: 120_000 }, async () => {
    await withCorpusTarget(correct, async ({ target }) => {
      const base = ['verify', '--database-url', target.databaseUrl, '--model', 'rls', '--app-role', target.appRole, '--runs', '1', '--seed', '1'];
      expectOneLineError(await runCli([...base, '--tenant-column', 'org_id']), /--tenant-column org_id matches no column/);
      expectOneLineError(await runCli([...base, '--tenant-table', 'public.organisations']), /--tenant-table public\.organisations does not exist/);
      expectOneLineError(await runCli([...base, '--schemas', 'public,no_such_schema']), /--schemas names schema no_such_schema, which does not exist/);
      expectOneLineError(await runCli([...base, '--tenant-role', '{tenant}_role']), /--tenant-role does not apply to --model rls/);
      // Green: the same target with options that match it verifies.
      const ok = await runCli([...base, '--tenant-column', 'tenant_id', '--tenant-table', 'public.tenants', '--schemas', 'public']);
      expect(ok.code, ok.stderr + ok.stdout).toBe(0);
      expect(ok.stdout).toMatch(/VERIFIED/);
    });
  });
});
