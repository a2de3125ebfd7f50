import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { withClient } from '../../src/index.ts';
import { withCorpusTarget } from '../isolation/harness.ts';
import { corpus } from '../isolation/corpus.ts';
import { errorLines, runCli } from './cli-helpers.ts';

const correct = corpus.find((s) => s.flaw === null)!;
const flawed = corpus.find((s) => s.flaw === 'rls-off')!;
const bypass = corpus.find((s) => s.flaw === 'bypassrls')!;
const targetFlags = (url: string, appRole: string) => ['--database-url', url, '--model', 'rls', '--app-role', appRole];

/** A cannot-run outcome: exit 2, exactly one line on stderr, no stack trace, nothing on stdout. */
function expectOneLineError(run: Awaited<ReturnType<typeof runCli>>, pattern: RegExp) {
  const lines = errorLines(run);
  expect(run.code, run.stderr).toBe(2);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^tenantproof: /);
  expect(lines[0]).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(run.stdout).toBe('');
}

describe('tenantproof verify: options and exit codes', () => {
  test('--help documents the flags and the exit codes 0, 1, 2 and 3', async () => {
    const run = await runCli(['verify', '--help']);
    expect(run.code).toBe(0);
    for (const flag of ['--database-url', '--model', '--app-role', '--tenant-table', '--tenant-column', '--tenant-setting', '--schema-pattern', '--database-pattern', '--tenant-role', '--runs', '--seed', '--report-dir', '--format', '--fail-on', '--config']) {
      expect(run.stdout).toContain(flag);
    }
    expect(run.stdout).toMatch(/0\s+verified/);
    expect(run.stdout).toMatch(/1\s+findings/);
    expect(run.stdout).toMatch(/2\s+cannot run/);
    expect(run.stdout).toMatch(/3\s+incomplete/);
  });

  test('no arguments: the help on stderr, exit 2, no stray line; --version prints the version', async () => {
    const bare = await runCli([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^Usage: tenantproof/);
    expect(bare.stderr).not.toMatch(/outputHelp/);
    const version = await runCli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  test('a table that cannot be filled: never VERIFIED, exit 3 (incomplete) naming it, and every report says so', { timeout: 120_000 }, async () => {
    await withCorpusTarget(correct, async ({ target }) => {
      // Every row of tasks is refused: no probe can run on it, so nothing is proven about it.
      await withClient(target.databaseUrl, (c) => c.query('alter table public.tasks add constraint tp_never check (false) not valid'));
      const dir = mkdtempSync(join(tmpdir(), 'tp-cli-'));
      const run = await runCli(['verify', ...targetFlags(target.databaseUrl, target.appRole), '--runs', '2', '--seed', '3', '--report-dir', dir]);
      expect(run.code, run.stderr + run.stdout).toBe(3);
      expect(run.stdout).not.toMatch(/VERIFIED/);
      expect(run.stdout).toMatch(/NOT PROVEN[\s\S]*public\.tasks/);
      const json = JSON.parse(readFileSync(join(dir, 'findings.json'), 'utf8')) as { verdict: string; exitCode: number; notProven: { object: string }[] };
      expect(json).toMatchObject({ verdict: 'incomplete', exitCode: 3 });
      expect(json.notProven.map((n) => n.object)).toContain('public.tasks');
      expect(readFileSync(join(dir, 'summary.md'), 'utf8')).toMatch(/INCOMPLETE/);
      expect(readFileSync(join(dir, 'junit.xml'), 'utf8')).toMatch(/type="incomplete"/);
      const sarif = JSON.parse(readFileSync(join(dir, 'tenantproof.sarif'), 'utf8')) as { runs: { invocations: { exitCode: number; toolExecutionNotifications: unknown[] }[] }[] };
      expect(sarif.runs[0]!.invocations[0]!.exitCode).toBe(3);
      expect(sarif.runs[0]!.invocations[0]!.toolExecutionNotifications.length).toBeGreaterThan(0);
    });
  });

  test('a tenant context that admits no tenant to its own rows: never VERIFIED, NOT PROVEN names the context', { timeout: 120_000 }, async () => {
    await withCorpusTarget(correct, async ({ target }) => {
      // The policies read app.current_tenant; the probes set another setting, so every tenant sees
      // nothing — its own rows included — and "no foreign row seen" proves nothing.
      const dir = mkdtempSync(join(tmpdir(), 'tp-cli-'));
      const run = await runCli(['verify', ...targetFlags(target.databaseUrl, target.appRole), '--tenant-setting', 'app.not_the_apps_setting', '--runs', '2', '--seed', '3', '--report-dir', dir]);
      // Exit 1: the static rules see policies that never read the setting named (high); the
      // probes, for their part, say they proved nothing instead of "no foreign row seen".
      expect(run.code, run.stderr + run.stdout).toBe(1);
      expect(run.stdout).not.toMatch(/VERIFIED/);
      expect(run.stdout).not.toMatch(/^LEAKS/m);
      expect(run.stdout).toMatch(/NOT PROVEN[\s\S]*tenant context: in \d+ scans .* showed none of them/);
      const json = JSON.parse(readFileSync(join(dir, 'findings.json'), 'utf8')) as { verdict: string; notProven: { object: string }[]; findings: { leak: boolean }[] };
      expect(json.verdict).toBe('findings');
      expect(json.findings.filter((f) => f.leak)).toEqual([]);
      expect(json.notProven.map((n) => n.object)).toContain('tenant context');
      // The same schema with the application's own setting verifies.
      const right = await runCli(['verify', ...targetFlags(target.databaseUrl, target.appRole), '--runs', '2', '--seed', '3', '--report-dir', mkdtempSync(join(tmpdir(), 'tp-cli-'))]);
      expect(right.code, right.stderr + right.stdout).toBe(0);
    });
  });

  test.each([
    ['an unknown flag', ['verify', '--database-url', 'postgres://u@127.0.0.1:1/x', '--model', 'rls', '--frobnicate'], /unknown option '--frobnicate'/],
    ['a bad model', ['verify', '--database-url', 'postgres://u@127.0.0.1:1/x', '--model', 'sharded'], /--model.*sharded.*rls, schema, database/],
    ['an unparsable URL', ['verify', '--database-url', 'not a url', '--model', 'rls'], /--database-url is not a URL/],
    ['a non-postgres URL', ['verify', '--database-url', 'mysql://u@h/x', '--model', 'rls'], /--database-url must start with postgres:\/\//],
    ['a missing URL', ['verify', '--model', 'rls'], /--database-url is required/],
    ['a bad run count', ['verify', '--database-url', 'postgres://u@127.0.0.1:1/x', '--model', 'rls', '--runs', 'many'], /--runs must be a number/],
    ['a tenant role without {tenant}', ['verify', '--database-url', 'postgres://u@127.0.0.1:1/x', '--model', 'schema', '--tenant-role', 'tenant_role'], /--tenant-role must contain \{tenant\}/],
    ['an unreachable database', ['verify', '--database-url', 'postgres://u:secret@127.0.0.1:1/x', '--model', 'rls'], /cannot connect/],
  ])('%s: exit 2 with one line', async (_what, args, pattern) => {
    const run = await runCli(args);
    expectOneLineError(run, pattern);
    expect(run.stderr).not.toContain('secret');
  });

  test('a config file failing validation: exit 2 naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tp-cli-'));
    writeFileSync(join(dir, 'tenantproof.config.json'), JSON.stringify({ databaseUrl: 'postgres://u@127.0.0.1:1/x', model: 'rls', runs: -3 }));
    expectOneLineError(await runCli(['verify'], { cwd: dir }), /config file .*tenantproof\.config\.json: runs must be at least 1/);
    writeFileSync(join(dir, 'other.json'), JSON.stringify({ model: 'rls', tenantColum: 'x' }));
    expectOneLineError(await runCli(['verify', '--config', join(dir, 'other.json')], { cwd: dir }), /unknown option "tenantColum"/);
  });

  test('a role that cannot SET ROLE to the app role: exit 2 with one line', async () => {
    await withCorpusTarget(correct, async ({ target }) => {
      const run = await runCli(['verify', ...targetFlags(target.databaseUrl, 'no_such_role_xyz')]);
      expectOneLineError(run, /cannot SET ROLE no_such_role_xyz/);
    });
  });

  test('a correct schema is verified (exit 0); a config file supplies the options', { timeout: 120_000 }, async () => {
    await withCorpusTarget(correct, async ({ target }) => {
      const dir = mkdtempSync(join(tmpdir(), 'tp-cli-'));
      writeFileSync(join(dir, 'tenantproof.config.json'), JSON.stringify({ databaseUrl: target.databaseUrl, model: 'rls', appRole: target.appRole, runs: 3, seed: 7 }));
      const run = await runCli(['verify', '--report-dir', join(dir, 'out')], { cwd: dir });
      expect(run.code, run.stderr + run.stdout).toBe(0);
      expect(run.stdout).toMatch(/VERIFIED/);
      expect(run.stdout).toContain('seed 7');
      expect(run.stderr).toMatch(/4 tenant-scoped tables/);
      // Progress is printed at most once a second, but the last line always is: all 3 runs.
      expect(run.stderr.match(/run \d+\/3/g)?.at(-1)).toBe('run 3/3');
      expect(existsSync(join(dir, 'out', 'findings.json'))).toBe(true);
    });
  });

  test('a flawed schema: exit 1, findings with seed in JSON and reports; --seed replays the same findings', { timeout: 180_000 }, async () => {
    await withCorpusTarget(flawed, async ({ target }) => {
      const dir = mkdtempSync(join(tmpdir(), 'tp-cli-'));
      const args = ['verify', ...targetFlags(target.databaseUrl, target.appRole), '--runs', '2', '--seed', '42', '--format', 'json', '--report-dir', dir];
      const first = await runCli(args);
      expect(first.code, first.stderr).toBe(1);
      const report = JSON.parse(first.stdout) as { seed: number; findings: { checkId: string; object: string; seed?: number; leak: boolean; affected?: { checkId: string; object: string }[] }[] };
      expect(report.seed).toBe(42);
      const leaks = report.findings.filter((f) => f.leak);
      // RLS off on tasks is the root cause: one finding, named by its rule, with the read it allowed under it.
      const cause = leaks.find((f) => f.checkId === 'rls-disabled' && f.object === 'public.tasks');
      expect(cause?.affected?.map((a) => `${a.checkId} ${a.object}`)).toContain('probe-read-scan public.tasks');
      expect(leaks.every((f) => f.seed === 42)).toBe(true);
      expect(JSON.parse(readFileSync(join(dir, 'findings.json'), 'utf8'))).toBeTruthy();
      expect(existsSync(join(dir, 'allure-results'))).toBe(true);
      const again = await runCli(args);
      const replay = JSON.parse(again.stdout) as typeof report;
      const key = (r: typeof report) => r.findings.filter((f) => f.leak).map((f) => `${f.checkId} ${f.object}`).sort();
      expect(key(replay)).toEqual(key(report));
    });
  });

  test('one finding per root cause: a BYPASSRLS app role is one finding listing every table it exposes', { timeout: 180_000 }, async () => {
    await withCorpusTarget(bypass, async ({ target }) => {
      const dir = mkdtempSync(join(tmpdir(), 'tp-cli-'));
      const run = await runCli(['verify', ...targetFlags(target.databaseUrl, target.appRole), '--runs', '2', '--seed', '8', '--format', 'json', '--report-dir', dir]);
      expect(run.code, run.stderr).toBe(1);
      type Out = { checkId: string; object: string; leak: boolean; title: string; affected?: { object: string; checkId: string }[] };
      const findings = (JSON.parse(run.stdout) as { findings: Out[] }).findings;
      const cause = findings.filter((f) => f.checkId === 'app-role-bypassrls');
      expect(cause).toHaveLength(1);
      expect(cause[0]!.object).toBe(`role ${target.appRole}`);
      expect(cause[0]!.leak).toBe(true);
      expect(cause[0]!.title).toMatch(/has BYPASSRLS/);
      // Its consequences are listed under it, every tenant table among them …
      const exposed = new Set(cause[0]!.affected!.map((a) => a.object));
      for (const table of ['public.projects', 'public.tasks', 'public.comments', 'public.attachments']) expect(exposed).toContain(table);
      // … and no probe finding on those tables is reported beside it.
      expect(findings.filter((f) => f.checkId.startsWith('probe-') && exposed.has(f.object))).toEqual([]);
      // Far fewer lines than one per table and probe.
      expect(findings.length).toBeLessThan(cause[0]!.affected!.length);
      const written = JSON.parse(readFileSync(join(dir, 'findings.json'), 'utf8')) as { findings: { checkId: string; rootCause: string | null }[] };
      expect(written.findings.find((f) => f.checkId === 'app-role-bypassrls')?.rootCause).toBe(`bypassrls:${target.appRole}`);
    });
  });

  test('--fail-on sets the static threshold: a low finding passes by default and fails with --fail-on low', { timeout: 180_000 }, async () => {
    await withCorpusTarget(correct, async ({ target }) => {
      // One low-severity static finding (a function without a fixed search_path), no leak.
      await withClient(target.databaseUrl, (c) => c.query(`create function public.tp_helper(x int) returns int language sql as 'select x'`));
      const dir = mkdtempSync(join(tmpdir(), 'tp-cli-'));
      const args = ['verify', ...targetFlags(target.databaseUrl, target.appRole), '--runs', '1', '--seed', '5', '--format', 'json', '--report-dir', dir];
      const byDefault = await runCli(args);
      expect(byDefault.code, byDefault.stderr).toBe(0);
      const findings = (JSON.parse(byDefault.stdout) as { findings: { checkId: string; severity: string; leak: boolean }[] }).findings;
      expect(findings).toContainEqual(expect.objectContaining({ checkId: 'function-search-path-mutable', severity: 'low', leak: false }));
      expect(findings.filter((f) => f.leak)).toEqual([]);
      const strict = await runCli([...args, '--fail-on', 'low']);
      expect(strict.code, strict.stderr).toBe(1);
      expect(JSON.parse(readFileSync(join(dir, 'findings.json'), 'utf8'))).toMatchObject({ failOn: 'low' });
    });
  });

  test('a bad --fail-on: exit 2 with one line naming the severities', async () => {
    const run = await runCli(['verify', '--database-url', 'postgres://u@127.0.0.1:1/x', '--model', 'rls', '--fail-on', 'severe']);
    expectOneLineError(run, /--fail-on.*severe.*critical, high, medium, low, info/);
  });
});
