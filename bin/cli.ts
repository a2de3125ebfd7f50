/**
 * `tenantproof verify`: parse and validate options (flags over a config file), check the target
 * can be entered, run the static rules, run the isolation suites (vitest) on the target, write
 * reports, and map the outcome to an exit code:
 *
 *   0 verified · 1 findings · 2 cannot run (one line on stderr, never a stack trace)
 *
 * Nothing is left in the target: every probe runs in a transaction that is rolled back, and no
 * object (role, table, temp table) is ever created outside it. If verify is killed, the suites
 * notice their parent is gone and exit; PostgreSQL rolls their transaction back.
 */
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { CannotRunError, describeError, ExitCode } from '../src/errors.ts';
import type { Finding } from '../src/findings/types.ts';
import { redactUrl } from '../src/target/url.ts';
import type { VerifyProgress, VerifyResult } from '../src/checks/probes/engine.ts';
import { listTenantTables } from '../src/checks/probes/tables.ts';
import { exitCodeFor, runStaticRules } from '../src/checks/rules/index.ts';
import { withClient } from '../src/target/connection.ts';
import { writeReports } from '../reports/index.ts';
import { findConfigFile, loadConfigFile, resolveVerifyConfig, targetEnvVar, verifyConfigToEnv, type TenantproofConfigFile, type VerifyConfig } from '../src/target/config.ts';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const exitCodesHelp = `
Exit codes:
  0  verified: no tenant could read, write or aggregate another tenant's rows
  1  findings: at least one observed leak, or a static finding at or above --fail-on (default high)
  2  cannot run: bad option or config, unreachable database, missing privilege
     (one line on stderr, never a stack trace)

Everything verify writes into the target is rolled back: a pg_dump before and after is identical.
Replay a run exactly with the --seed it printed.`;

function fail(message: string): never {
  process.stderr.write(`tenantproof: ${message.split('\n')[0]}\n`);
  process.exit(ExitCode.cannotRun);
}

process.on('uncaughtException', (error) => fail(describeError(error)));
process.on('unhandledRejection', (error) => fail(describeError(error)));

/** What commander hands over: every option of a config file, as the string typed, plus --config. */
type VerifyFlags = { [K in keyof TenantproofConfigFile]?: string } & { config?: string };

const program = new Command('tenantproof')
  .description('Proves that a multi-tenant PostgreSQL application keeps every tenant\'s data to itself.')
  .exitOverride()
  .configureOutput({ outputError: () => undefined });

program
  .command('verify')
  .description('Generate tenants and rows, act as each tenant, and prove no tenant can read, write or aggregate another\'s rows.')
  .option('--database-url <url>', 'a role allowed to create rows and SET ROLE to the app role (everything is rolled back)')
  .addOption(new Option('--model <model>', 'isolation model').choices(['rls', 'schema', 'database']))
  .option('--app-role <role>', 'role the application uses (rls, schema with a shared role)', 'app_user')
  .option('--tenant-table <table>', 'table listing tenants', 'tenants')
  .option('--tenant-column <column>', 'tenant column of tenant-scoped tables', 'tenant_id')
  .option('--tenant-setting <name>', 'setting carrying the tenant id (rls)', 'app.current_tenant')
  .option('--schema-pattern <pattern>', 'LIKE pattern of tenant schemas (schema)', 'tenant_%')
  .option('--database-pattern <pattern>', 'LIKE pattern of tenant databases (database)', 'tenant_%')
  .option('--tenant-role <template>', "per-tenant role; '{tenant}' = schema/database name")
  .option('--schemas <list>', 'rls: only these schemas hold tenant tables, comma-separated (default: every schema)')
  .option('--runs <n>', 'property runs (generated worlds)', '20')
  .option('--seed <n>', 'replay a run exactly (printed by every run)')
  .option('--report-dir <dir>', 'where findings.json, junit.xml, SARIF, summary and Allure results go', 'reports/tenantproof')
  .addOption(new Option('--format <format>', 'console output').choices(['text', 'json']).default('text'))
  .addOption(
    new Option('--fail-on <severity>', 'static findings at or above this severity fail the run (an observed leak always does)')
      .choices(['critical', 'high', 'medium', 'low', 'info'])
      .default('high'),
  )
  .option('--config <file>', 'config file (default: tenantproof.config.json or .ts in the current directory)')
  .addHelpText('after', exitCodesHelp)
  .action(async (_opts: VerifyFlags, command: Command) => {
    // Only flags given on the command line override the config file (defaults live in the schema).
    const flags: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(command.opts<VerifyFlags>())) {
      if (command.getOptionValueSource(key) === 'cli') flags[key] = value;
    }
    delete flags.config;
    const configFile = findConfigFile(command.opts<VerifyFlags>().config);
    const file = configFile ? await loadConfigFile(configFile) : {};
    const config = resolveVerifyConfig(flags, file);
    process.exit(await verify(config));
  });

async function verify(config: VerifyConfig): Promise<number> {
  const started = new Date();
  const seed = config.seed ?? randomInt(0, 2_147_483_647);
  const { target } = config;
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const elapsed = () => `${((Date.now() - started.getTime()) / 1000).toFixed(1)}s`;

  // Checked before printing anything, so that a target that cannot be verified gives one line.
  const tables = await listTenantTables(target);
  say(`tenantproof verify · model ${target.model} · ${redactUrl(target.databaseUrl)} · seed ${seed} · ${config.runs} runs`);
  say(`  ${tables.length} tenant-scoped table${tables.length === 1 ? '' : 's'}: ${tables.join(', ')}`);

  const reportDir = resolve(config.reportDir);
  mkdirSync(reportDir, { recursive: true });
  const staticResult = await runStatic(config);
  if (staticResult.findings.length > 0) say(`  static rules: ${staticResult.findings.length} finding(s) from ${staticResult.rulesRun.length} rules`);

  const result = await runTargetSuites({ ...config, seed, reportDir }, (p) =>
    say(`  run ${Math.min(p.run, p.runs)}/${p.runs}${p.run > p.runs ? ` (+${p.run - p.runs} shrinking)` : ''} · ${p.probes} probes · ${p.findings} finding(s) · ${tables.length} tables · ${elapsed()}`),
  );
  for (const { table, reason } of result.skippedTables ?? []) say(`  not probed: ${table} (${reason})`);
  const findings: Finding[] = [...result.findings, ...staticResult.findings];
  const exitCode = exitCodeFor(findings, config.failOn) === 1 ? ExitCode.findings : ExitCode.verified;

  const reports = await writeReports(reportDir, {
    findings,
    rulesRun: [...staticResult.rulesRun, ...new Set(result.findings.map((f) => f.checkId))],
    target: redactUrl(target.databaseUrl),
    model: target.model,
    startedAt: started,
    durationMs: Date.now() - started.getTime(),
    seed,
    failOn: config.failOn,
  });

  if (config.format === 'json') {
    process.stdout.write(
      `${JSON.stringify(
        {
          verdict: exitCode === 0 ? 'verified' : 'findings',
          exitCode,
          model: target.model,
          seed,
          path: result.path,
          runs: result.runs,
          runsExecuted: result.runsExecuted,
          probes: result.probes,
          tables: result.tables,
          elapsedMs: Date.now() - started.getTime(),
          counterexample: result.counterexample,
          skippedTables: result.skippedTables ?? [],
          findings,
          reports,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    printText(config, seed, result, staticResult, exitCode, reports, elapsed());
  }
  return exitCode;
}

interface StaticOutcome {
  findings: Finding[];
  rulesRun: string[];
  failing: boolean;
}

/** Static catalog rules (read-only). */
async function runStatic(config: VerifyConfig): Promise<StaticOutcome> {
  try {
    const result = await withClient(config.target.databaseUrl, (client) => runStaticRules(client, config.target));
    return { findings: result.findings, rulesRun: result.rulesRun, failing: exitCodeFor(result.findings, config.failOn) === 1 };
  } catch (error) {
    // The probes still prove what they prove; say that the static rules did not run.
    process.stderr.write(`  static rules did not run: ${describeError(error)}\n`);
    return { findings: [], rulesRun: [], failing: false };
  }
}

/**
 * Runs the suites/target vitest project on the target in a child process, tailing its progress.
 * The child gets the validated config through the environment and writes its result to a file.
 */
async function runTargetSuites(config: VerifyConfig & { seed: number; reportDir: string }, onProgress: (p: VerifyProgress) => void): Promise<VerifyResult> {
  const work = join(config.reportDir, '.tenantproof');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const resultFile = join(work, 'result.json');
  const progressFile = join(work, 'progress.jsonl');
  const vitest = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
  const child = spawn(process.execPath, [vitest, 'run', '--config', 'suites/target/vitest.config.ts'], {
    cwd: packageRoot,
    env: {
      ...process.env,
      [targetEnvVar]: verifyConfigToEnv(config),
      TENANTPROOF_RESULT_FILE: resultFile,
      TENANTPROOF_PROGRESS_FILE: progressFile,
      TENANTPROOF_PARENT_PID: String(process.pid),
      TENANTPROOF_REPORT_DIR: config.reportDir,
      FORCE_COLOR: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 200) output.shift();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const stop = () => {
    child.kill('SIGTERM');
    fail('interrupted: nothing was committed to the target');
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  let offset = 0;
  let lastPrinted = 0;
  // The newest progress line not printed yet: at most one line a second is printed, but the
  // newest one always is, a second later at worst (a burst of runs must not leave it unsaid).
  let pending: string | undefined;
  const tail = () => {
    if (existsSync(progressFile) && statSync(progressFile).size > offset) {
      const text = readFileSync(progressFile).subarray(offset).toString('utf8');
      const complete = text.slice(0, text.lastIndexOf('\n') + 1);
      offset += Buffer.byteLength(complete);
      pending = complete.split('\n').filter(Boolean).at(-1) ?? pending;
    }
    if (pending === undefined || Date.now() - lastPrinted < 1_000) return;
    lastPrinted = Date.now();
    const line = pending;
    pending = undefined;
    onProgress(JSON.parse(line) as VerifyProgress);
  };
  const timer = setInterval(tail, 250);
  const code = await new Promise<number | null>((done) => child.on('exit', (c) => done(c)));
  clearInterval(timer);
  lastPrinted = 0;
  tail();
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);

  if (!existsSync(resultFile)) {
    const hint = output.join('').split('\n').map((l) => l.trim()).filter((l) => /error/i.test(l)).at(0);
    throw new CannotRunError(`the isolation suites did not finish (exit ${code})${hint ? `: ${hint}` : ''}`);
  }
  const payload = JSON.parse(readFileSync(resultFile, 'utf8')) as { result?: VerifyResult; error?: string };
  rmSync(work, { recursive: true, force: true });
  if (payload.error) throw new CannotRunError(payload.error);
  return payload.result!;
}

function describeFinding(f: Finding): string[] {
  const out = [`  [${f.severity}] ${f.checkId} · ${f.object} — ${f.title}`];
  if (f.actingTenant !== undefined || f.victimTenant !== undefined) out.push(`      acting ${JSON.stringify(f.actingTenant ?? null)} → victim ${JSON.stringify(f.victimTenant ?? null)}`);
  if (f.statement) out.push(`      statement: ${f.statement.replace(/\s+/g, ' ').slice(0, 300)}`);
  if (f.observed !== undefined) out.push(`      observed: ${JSON.stringify(f.observed).slice(0, 300)}`);
  out.push(`      fix: ${f.remediation}`);
  return out;
}

function printText(config: VerifyConfig, seed: number, result: VerifyResult, statics: StaticOutcome, exitCode: number, reports: string[], elapsed: string): void {
  const out: string[] = [];
  const shrunk = result.runsExecuted - result.runs;
  out.push(
    `${config.target.model}: ${result.tables.length} tables · ${result.runs} runs${shrunk > 0 ? ` (+${shrunk} shrinking)` : ''} · ${result.probes} probes · ${elapsed} · seed ${seed}${result.path ? ` · path ${result.path}` : ''}`,
  );
  const skipped = result.skippedTables ?? [];
  if (result.findings.length === 0) {
    out.push("VERIFIED: no tenant could read, write or aggregate another tenant's rows.");
    if (skipped.length > 0) out.push(`  … except in ${skipped.length} table(s) that could not be filled and were not probed: ${skipped.map((s) => s.table).join(', ')}`);
  } else {
    out.push(`LEAKS (${result.findings.length}):`);
    for (const f of result.findings) out.push(...describeFinding(f));
    out.push(`Replay: tenantproof verify --model ${config.target.model} --database-url … --runs ${config.runs} --seed ${seed}`);
    if (result.counterexample) out.push(`Smallest world: ${JSON.stringify(result.counterexample)}`);
  }
  if (statics.findings.length > 0) {
    out.push(`STATIC FINDINGS (${statics.findings.length}${statics.failing ? '' : `, none at or above ${config.failOn}`}):`);
    for (const f of statics.findings) out.push(...describeFinding(f));
  }
  out.push(exitCode === 0 ? 'Exit 0: verified.' : 'Exit 1: findings.');
  out.push(`Reports: ${reports.join(', ')}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

try {
  await program.parseAsync(process.argv);
  if (!process.argv.slice(2).length) {
    program.outputHelp();
    process.exit(ExitCode.cannotRun);
  }
} catch (error) {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0) process.exit(0);
    fail(error.message.replace(/^error: /, ''));
  }
  fail(describeError(error));
}
