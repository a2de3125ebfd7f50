/**
 * The context flags (`--preset`, `--users-table`, `--membership-*`, `--context-*`) and the config
 * file's `context` block: the example command verifies a correct Supabase-style schema and
 * catches a flawed one; options that name nothing in the database are exit 2, one line naming it,
 * with the static findings already computed still written to the report directory.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { conventionBases } from '../catalog/conventions.ts';
import { fixtureDatabase } from '../catalog/harness.ts';
import { errorLines, runCli, type CliRun } from './cli-helpers.ts';

function expectOneLineError(run: CliRun, pattern: RegExp) {
  const lines = errorLines(run).filter((l) => l.startsWith('tenantproof: '));
  expect(run.code, run.stderr + run.stdout).toBe(2);
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(run.stdout).not.toMatch(/VERIFIED/);
}

const example = (url: string, reportDir: string) => [
  'verify', '--database-url', url, '--model', 'rls', '--preset', 'supabase',
  '--tenant-table', 'public.accounts', '--tenant-column', 'account_id', '--membership-table', 'public.account_members',
  '--runs', '2', '--seed', '7', '--report-dir', reportDir,
];

describe('tenantproof verify with a context (Supabase, memberships)', () => {
  test("the issue's example command: exit 0 on the correct schema, exit 1 when a user can join any account", { timeout: 180_000 }, async () => {
    await using db = await fixtureDatabase('rls', conventionBases.supabase);
    const dir = mkdtempSync(join(tmpdir(), 'tp-ctx-'));
    const green = await runCli(example(db.url, dir));
    expect(green.code, green.stderr + green.stdout).toBe(0);
    expect(green.stdout).toMatch(/VERIFIED/);
    await db.apply('drop policy owners_add_members on account_members;\ncreate policy join_any_account on account_members for insert to authenticated with check (user_id = (select auth.uid()));');
    const red = await runCli(example(db.url, dir));
    expect(red.code, red.stderr + red.stdout).toBe(1);
    const report = JSON.parse(readFileSync(join(dir, 'findings.json'), 'utf8')) as { findings: { checkId: string; object: string }[] };
    expect(report.findings.map((f) => `${f.checkId} ${f.object}`)).toContain('probe-membership-self-add public.account_members');
  });

  test('the config file context block does what the flags do', { timeout: 180_000 }, async () => {
    await using db = await fixtureDatabase('rls', conventionBases.supabase);
    await db.apply('create policy anon_reads on documents for select to anon using (true);');
    const dir = mkdtempSync(join(tmpdir(), 'tp-ctx-'));
    const config = join(dir, 'tenantproof.config.json');
    writeFileSync(
      config,
      JSON.stringify({ model: 'rls', tenantTable: 'public.accounts', tenantColumn: 'account_id', context: { preset: 'supabase', membershipTable: 'public.account_members' } }),
    );
    const run = await runCli(['verify', '--config', config, '--database-url', db.url, '--runs', '2', '--seed', '7', '--report-dir', dir]);
    expect(run.code, run.stderr + run.stdout).toBe(1);
    const report = JSON.parse(readFileSync(join(dir, 'findings.json'), 'utf8')) as { findings: { checkId: string; object: string }[] };
    expect(report.findings.map((f) => `${f.checkId} ${f.object}`)).toContain('probe-principal-anonymous-read public.documents');
    // A bad field of the block is one line naming it.
    writeFileSync(config, JSON.stringify({ model: 'rls', context: { preset: 'firebase' } }));
    expectOneLineError(await runCli(['verify', '--config', config, '--database-url', db.url]), /context\.preset must be one of supabase, postgraphile/);
  });

  test('options that name nothing: exit 2, one line naming it; static findings still written', { timeout: 240_000 }, async () => {
    await using db = await fixtureDatabase('rls', conventionBases.supabase);
    const dir = mkdtempSync(join(tmpdir(), 'tp-ctx-'));
    const base = example(db.url, dir);
    const without = (flag: string) => {
      const at = base.indexOf(flag);
      return [...base.slice(0, at), ...base.slice(at + 2)];
    };
    expectOneLineError(await runCli([...base, '--preset', 'firebase']), /--preset.*firebase|supabase, postgraphile/);
    expectOneLineError(await runCli([...without('--membership-table'), '--membership-table', 'public.account_memberz']), /--membership-table public\.account_memberz does not exist/);
    expectOneLineError(await runCli([...without('--membership-table'), '--membership-table', 'public.price_list']), /--membership-table public\.price_list has no foreign key to auth\.users/);
    expectOneLineError(await runCli([...base, '--membership-user-column', 'member_id']), /--membership-user-column member_id is not a column of public\.account_members/);
    expectOneLineError(await runCli([...base, '--membership-tenant-column', 'org_id']), /--membership-tenant-column org_id is not a column of public\.account_members/);
    expectOneLineError(await runCli([...base, '--users-table', 'public.users']), /--users-table public\.users does not exist/);
    expectOneLineError(await runCli([...base, '--context-role', 'tenant_reader']), /SET ROLE tenant_reader/);
    expectOneLineError(await runCli([...base, '--context-role', '{tenant.db_user}']), /\{tenant\.db_user\}, which is not a column of the tenants table public\.accounts/);
    expectOneLineError(await runCli([...base, '--context-setting', 'request.jwt.claims']), /--context-setting must be NAME=TEMPLATE/);
    expectOneLineError(await runCli([...base, '--context-setting', 'request.jwt.claims={"sub":"{uid}"}']), /unknown placeholder \{uid\}/);
    expectOneLineError(await runCli([...base, '--model', 'schema']), /apply to --model rls only/);
    // The static rules ran before the membership table was refused: their findings are in the report directory.
    await db.apply('create policy anon_reads on documents for select to anon using (true);');
    const refused = await runCli([...without('--membership-table'), '--membership-table', 'public.account_memberz']);
    expectOneLineError(refused, /account_memberz/);
    const report = JSON.parse(readFileSync(join(dir, 'findings.json'), 'utf8')) as { findings: { checkId: string; object: string }[] };
    expect(report.findings.map((f) => f.checkId)).toContain('anonymous-reads-tenant-data');
  });
});
