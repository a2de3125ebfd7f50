/**
 * Benchmark (not a test): tenantproof next to the Python RLS tools built for the Supabase case —
 * pgrls (static linter), rlsgrid (role × table × command grid + cross-tenant fuzzer) and
 * rlsautotest (generates seed rows and pgTAP, probes every identity, reports a matrix) — on the
 * convention corpora of suites/catalog/conventions.ts (Supabase, role per tenant, PostGraphile:
 * bases, green variants, red cases and their fixes).
 *
 *   npx tsx bench/compare-python-tools.ts                               # current tenantproof flags
 *   npx tsx bench/compare-python-tools.ts --tenantproof-args preset     # --preset supabase|postgraphile, --context-role
 *   npx tsx bench/compare-python-tools.ts --only supabase --no-docs     # a subset, print only
 *
 * Every schema state (a base, a green variant, a red case, a red case's fix) is built in a fresh
 * database on a real PostgreSQL server (PostgreSQL 15 from PG_BIN, default
 * /usr/lib/postgresql/15/bin, started as an unprivileged user by fixtures/postgres), and every tool
 * runs on it as its README says, as a fresh process, timed. The Python tools live in a venv under
 * ~/.cache/tenantproof/py-tools, created here with pinned versions; a tool that cannot be
 * installed or run is reported with the reason, never silently left out.
 *
 * Verdicts. Each tool's output is reduced to findings with a level: `error` (tenantproof: high or
 * critical, or an observed leak; pgrls: error; rlsgrid: a breach; rlsautotest: a hole, an exposed
 * table, a broken policy, a cross-policy or two-tenant leak, or a CRITICAL/HIGH bypass surface),
 * `warning` (tenantproof: medium; pgrls: warning; rlsautotest: an UNRELIABLE cell, an allowed
 * command that was blocked, a MEDIUM bypass surface) and `info`. A red case is *caught* when the
 * broken state has an error-level finding that its fixed state does not have (the finding is about
 * what the case broke), *partial* when the difference is only a warning, *missed* otherwise. On a
 * correct state (base, green variant, fixed red case, and the two corpus cases that are not flaws)
 * every error-level finding is a *false alarm*. docs/comparison.md is written from these results.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres, type PostgresServer } from '../fixtures/index.ts';
import { quoteIdent, urlFor, withClient } from '../src/index.ts';
import { applySql, dropPrefixed, expand } from '../suites/catalog/apply-sql.ts';
import { conventionBases, conventionCorpus, conventionGreens, type ConventionName } from '../suites/catalog/conventions.ts';

// ---------------------------------------------------------------------------------------------
// tenantproof's arguments per convention: one table, two variants. `@name` is the fixture prefix.
// `current`: the flags that exist today (static rules, plus whatever probes can act through one
// role and one setting). `preset`: the principals and context-template flags of issue 10, for the
// lead to run once the `principals` branch is merged.
// ---------------------------------------------------------------------------------------------
type ArgsVariant = 'current' | 'preset';

const tenantproofArgs: Record<ConventionName, Record<ArgsVariant, readonly string[]>> = {
  supabase: {
    current: ['--app-role', 'authenticated', '--tenant-table', 'public.accounts', '--tenant-column', 'account_id', '--tenant-setting', 'request.jwt.claims'],
    preset: ['--preset', 'supabase', '--tenant-table', 'public.accounts', '--tenant-column', 'account_id', '--membership-table', 'public.account_members'],
  },
  'role-per-tenant': {
    current: ['--app-role', '@tenant', '--tenant-table', 'public.tenants', '--tenant-column', 'tenant_id', '--tenant-setting', 'app.current_tenant'],
    // Each tenant acts as the role its row names (tenants.db_user); the per-tenant roles are members of @tenant.
    preset: ['--app-role', '@tenant', '--tenant-table', 'public.tenants', '--tenant-column', 'tenant_id', '--context-role', '{tenant.db_user}'],
  },
  postgraphile: {
    current: ['--app-role', '@visitor', '--tenant-table', '@app_public.organizations', '--tenant-column', 'organization_id', '--tenant-setting', 'jwt.claims.session_id'],
    // PostGraphile reaches the user through a session row: the context opens one for {user} and names it in jwt.claims.session_id.
    // As the probe corpus enters it (suites/isolation/conventions-probes.ts): the preset opens a session row per principal.
    preset: ['--preset', 'postgraphile', '--app-role', '@visitor', '--users-table', '@app_public.users', '--tenant-table', '@app_public.organizations', '--tenant-column', 'organization_id', '--membership-table', '@app_public.organization_memberships'],
  },
};

/** Pinned versions (the latest on PyPI when this bench was written). */
const pythonTools = [
  { name: 'pgrls', version: '0.57.1' },
  { name: 'rlsgrid', version: '0.5.7' },
  { name: 'rlsautotest', version: '0.7.1' },
] as const;
type PythonToolName = (typeof pythonTools)[number]['name'];
type ToolName = 'tenantproof' | PythonToolName;
const toolNames: readonly ToolName[] = ['tenantproof', 'pgrls', 'rlsgrid', 'rlsautotest'];

/** Corpus cases that are not flaws (info by design): their "red" state is a correct schema. */
const notFlaws: ReadonlySet<string> = new Set(['policy-undecided', 'service-role-bypass-by-design']);

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------
function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const variant = (option('--tenantproof-args') ?? 'current') as ArgsVariant;
if (variant !== 'current' && variant !== 'preset') {
  console.error(`--tenantproof-args ${variant}: use current or preset`);
  process.exit(2);
}
const only = option('--only');
const writeDocs = !process.argv.includes('--no-docs');
const toolTimeoutMs = Number(process.env.BENCH_TOOL_TIMEOUT_MS ?? 180_000);
const pgBin = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const venv = join(homedir(), '.cache', 'tenantproof', 'py-tools');

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------
interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
  readonly timedOut: boolean;
}

function run(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Ran> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, toolTimeoutMs);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: stderr + String(error), seconds: (performance.now() - started) / 1000, timedOut });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, seconds: (performance.now() - started) / 1000, timedOut });
    });
  });
}

const lastLine = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .at(-1) ?? '';

// ---------------------------------------------------------------------------------------------
// The venv
// ---------------------------------------------------------------------------------------------
interface Installed {
  readonly version: string | null;
  /** Why the tool cannot run here, or null. */
  readonly problem: string | null;
}

function installPythonTools(): Record<PythonToolName, Installed> {
  const python = join(venv, 'bin', 'python');
  const fail = (problem: string) => Object.fromEntries(pythonTools.map((t) => [t.name, { version: null, problem }])) as Record<PythonToolName, Installed>;
  const installedVersion = (name: string): string | null => {
    if (!existsSync(python)) return null;
    const out = spawnSync(python, ['-c', 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))', name], { encoding: 'utf8' });
    return out.status === 0 ? out.stdout.trim() : null;
  };
  if (!pythonTools.every((t) => installedVersion(t.name) === t.version)) {
    if (!existsSync(python)) {
      const made = spawnSync('python3', ['-m', 'venv', venv], { encoding: 'utf8' });
      if (made.status !== 0) {
        return fail(`python3 -m venv failed (${lastLine(made.stderr || String(made.error))}); on Debian/Ubuntu: apt-get install python3-venv`);
      }
    }
    const pins = pythonTools.map((t) => `${t.name}==${t.version}`);
    console.error(`installing ${pins.join(' ')} into ${venv} …`);
    const pip = spawnSync(join(venv, 'bin', 'pip'), ['install', '--disable-pip-version-check', '-q', ...pins], { encoding: 'utf8' });
    if (pip.status !== 0) {
      // Install one by one, so one tool that cannot install does not take the others with it.
      for (const pin of pins) spawnSync(join(venv, 'bin', 'pip'), ['install', '--disable-pip-version-check', '-q', pin], { encoding: 'utf8' });
    }
  }
  return Object.fromEntries(
    pythonTools.map((t) => {
      const version = installedVersion(t.name);
      return [t.name, { version, problem: version === t.version ? null : `pip install ${t.name}==${t.version} into ${venv} failed` }];
    }),
  ) as Record<PythonToolName, Installed>;
}

// ---------------------------------------------------------------------------------------------
// Findings, reduced
// ---------------------------------------------------------------------------------------------
type Level = 'error' | 'warning' | 'info';

interface Finding {
  /** Stable across databases: the fixture prefix is replaced by `@`. */
  readonly key: string;
  readonly level: Level;
}

interface ToolRun {
  readonly seconds: number;
  /** Null when the tool could not run on this state; `problem` says why. */
  readonly findings: Finding[] | null;
  readonly problem: string | null;
  /** What the tool could not cover (skipped probes, untested cells, tables not probed). */
  readonly notes: string[];
  readonly exitCode: number | null;
}

interface State {
  readonly convention: ConventionName;
  readonly url: string;
  readonly prefix: string;
}

const unprefix = (text: string, prefix: string) => text.replaceAll(`${prefix}_`, '@');

function parseJson<T>(text: string): T | null {
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

const cannotRun = (ran: Ran, what: string): ToolRun => ({
  seconds: ran.seconds,
  findings: null,
  problem: ran.timedOut ? `${what} did not finish in ${toolTimeoutMs / 1000} s` : `${what} exited ${ran.code}: ${lastLine(ran.stderr || ran.stdout).slice(0, 200)}`,
  notes: [],
  exitCode: ran.code,
});

async function runTenantproof(state: State): Promise<ToolRun> {
  const reportDir = mkdtempSync(join(tmpdir(), 'tp-compare-'));
  try {
    const args = tenantproofArgs[state.convention][variant].map((a) => expand(a, state.prefix));
    const ran = await run(process.execPath, ['bin/tenantproof.js', 'verify', '--database-url', state.url, '--model', 'rls', ...args, '--report-dir', reportDir, '--format', 'json']);
    type Out = { verdict: string; findings: { checkId: string; severity: string; object: string; leak: boolean }[]; notProven: { object: string; reason: string }[]; skippedTables: unknown[]; tables: string[] };
    const out = parseJson<Out>(ran.stdout);
    if (!out) return cannotRun(ran, 'tenantproof verify');
    const findings = out.findings.map((f) => ({
      key: unprefix(`${f.checkId} ${f.object}`, state.prefix),
      level: (f.leak || f.severity === 'high' || f.severity === 'critical' ? 'error' : f.severity === 'medium' ? 'warning' : 'info') as Level,
    }));
    const notes: string[] = [];
    if (out.notProven.length > 0) {
      // The reason without the value that failed (it changes with the seed), so equal causes group together.
      const reasons = new Set(out.notProven.map((n) => n.reason.replace(/^\S+ could not act: /, '').replace(/: "[^"]*"$/, '')));
      notes.push(`probes could not act on ${new Set(out.notProven.map((n) => n.object)).size} of ${out.tables.length} table(s): ${[...reasons].slice(0, 2).join('; ')}`);
    } else if (out.tables.length === 0) {
      notes.push('no tenant-scoped table probed');
    }
    notes.push(`verdict ${out.verdict} (exit ${ran.code})`);
    return { seconds: ran.seconds, findings, problem: null, notes, exitCode: ran.code };
  } finally {
    rmSync(reportDir, { recursive: true, force: true });
  }
}

async function runPgrls(state: State): Promise<ToolRun> {
  const schemas = state.convention === 'postgraphile' ? ['--schemas', `public,${state.prefix}_app_public`] : [];
  const ran = await run(join(venv, 'bin', 'pgrls'), ['lint', '--database-url', state.url, ...schemas, '--format', 'json']);
  type Out = { violations: { rule_id: string; severity: string; location: string }[] };
  const out = parseJson<Out>(ran.stdout);
  if (!out) return cannotRun(ran, 'pgrls lint');
  const findings = out.violations.map((v) => ({
    key: unprefix(`${v.rule_id} ${v.location}`, state.prefix),
    level: (v.severity === 'error' ? 'error' : v.severity === 'warning' ? 'warning' : 'info') as Level,
  }));
  return { seconds: ran.seconds, findings, problem: null, notes: [], exitCode: ran.code };
}

/** rlsgrid as its README says: `rlsgrid init --from-db`, then `rlsgrid check --tenants 5`. */
async function runRlsgrid(state: State): Promise<ToolRun> {
  const dir = mkdtempSync(join(tmpdir(), 'rlsgrid-'));
  try {
    const env = { DATABASE_URL: state.url };
    const init = await run(join(venv, 'bin', 'rlsgrid'), ['init', '--from-db', '--out', join(dir, 'rlsgrid.toml')], { cwd: dir, env });
    if (init.code !== 0) return cannotRun(init, 'rlsgrid init --from-db');
    const check = await run(join(venv, 'bin', 'rlsgrid'), ['check', '--config', join(dir, 'rlsgrid.toml'), '--tenants', '5', '--json'], { cwd: dir, env });
    type Out = {
      ok: boolean;
      error?: string;
      iterations?: number;
      skipped?: number;
      skip_reasons?: Record<string, number>;
      breaches?: { actor_role: string; schema: string; table: string; operation: string; detail: string }[];
    };
    const out = parseJson<Out>(check.stdout.slice(check.stdout.indexOf('{')));
    const seconds = init.seconds + check.seconds;
    if (!out) return { ...cannotRun(check, 'rlsgrid check'), seconds };
    if (out.error) return { seconds, findings: null, problem: `rlsgrid check: ${out.error}`, notes: [], exitCode: check.code };
    const findings = [...new Set((out.breaches ?? []).map((b) => unprefix(`${b.operation} ${b.schema}.${b.table} as ${b.actor_role}`, state.prefix)))].map((key) => ({ key, level: 'error' as Level }));
    const notes: string[] = [];
    const config = readFileSync(join(dir, 'rlsgrid.toml'), 'utf8');
    const tenantColumn = /^tenant_column = "([^"]*)"/m.exec(config)?.[1];
    if (out.iterations === 0) notes.push('no probe: no table with an allow/conditional cell');
    else if (out.skipped)
      notes.push(
        `${out.skipped} of ${out.iterations} probes skipped (${Object.entries(out.skip_reasons ?? {})
          .map(([r, n]) => `${r}: ${n}`)
          .join('; ')})`,
      );
    if (tenantColumn) notes.push(`tenant_column guessed: ${tenantColumn}`);
    // Not timed, for the page only: which tables rlsgrid's seeder could not fill (check --json does not say).
    const seed = await run(join(venv, 'bin', 'rlsgrid'), ['seed', '--config', join(dir, 'rlsgrid.toml'), '--tenants', '2', '--json', '--state-out', join(dir, 'state.json')], { cwd: dir, env });
    const seeded = parseJson<{ skipped?: { table: string; reason: string }[] }>(seed.stdout.slice(seed.stdout.indexOf('{')));
    if (existsSync(join(dir, 'state.json'))) await run(join(venv, 'bin', 'rlsgrid'), ['teardown', '--config', join(dir, 'rlsgrid.toml'), '--state', join(dir, 'state.json')], { cwd: dir, env });
    for (const s of seeded?.skipped ?? []) notes.push(unprefix(`not seeded: ${s.table} (${s.reason.replace(/ violates foreign key constraint .*/, ' violates a foreign key')})`, state.prefix));
    return { seconds, findings, problem: null, notes, exitCode: check.code };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * rlsautotest as its README says, both halves: the static checks (`rlsautotest lint --schema S`,
 * which also lists the bypass surfaces) and the CI gate (`rlsautotest --db-url … --schema S
 * --report`, plus --report-json to read it), which seeds rows and probes every identity.
 */
async function runRlsautotest(state: State): Promise<ToolRun> {
  const dir = mkdtempSync(join(tmpdir(), 'rlsautotest-'));
  try {
    const schema = state.convention === 'postgraphile' ? `${state.prefix}_app_public` : 'public';
    const findings: Finding[] = [];
    const notes: string[] = [];

    const lintJson = join(dir, 'lint.json');
    const lint = await run(join(venv, 'bin', 'rlsautotest'), ['lint', '--db-url', state.url, '--schema', schema, '--json', lintJson], { cwd: dir });
    const linted = existsSync(lintJson) ? parseJson<{ severity: string; table: string; policy: string | null; message: string }[]>(readFileSync(lintJson, 'utf8')) : null;
    if (!linted) return cannotRun(lint, 'rlsautotest lint');
    for (const l of linted) {
      const level: Level = l.severity === 'CRITICAL' || l.severity === 'HIGH' ? 'error' : l.severity === 'MEDIUM' ? 'warning' : 'info';
      // Unprefixed before it is cut, so the key is the same in every database.
      const what = unprefix(l.message, state.prefix).replace(/\s+/g, ' ').slice(0, 48).trim();
      findings.push({ key: `lint ${l.severity} ${l.table}${l.policy ? `.${l.policy}` : ''}: ${what}…`, level });
    }

    const json = join(dir, 'report.json');
    const ran = await run(join(venv, 'bin', 'rlsautotest'), ['--db-url', state.url, '--schema', schema, '--report', '--report-json', json], { cwd: dir });
    if (!existsSync(json)) return { ...cannotRun(ran, 'rlsautotest --report'), seconds: lint.seconds + ran.seconds };
    type Cell = { exp?: boolean; pass?: boolean };
    type Table = {
      table: string;
      exposed?: boolean;
      idgrid?: Record<string, Record<string, Cell>>;
      transition_leaks?: unknown[];
      multi_findings?: unknown[];
      unreliable_cells?: [string, string][];
      unreliable?: string[];
      footguns?: string[];
    };
    const out = parseJson<{ tables: Table[] }>(readFileSync(json, 'utf8'));
    if (!out) return { ...cannotRun(ran, 'rlsautotest --report'), seconds: lint.seconds + ran.seconds };
    let untested = 0;
    for (const t of out.tables) {
      const at = `${schema}.${t.table}`;
      if (t.exposed) findings.push({ key: `exposed ${at}`, level: 'error' });
      for (const [cmd, identities] of Object.entries(t.idgrid ?? {})) {
        for (const [identity, cell] of Object.entries(identities)) {
          if (cell.pass !== false) continue;
          // exp false and failed: the identity can act but should not (a hole); exp true and failed: blocked but should act.
          findings.push(cell.exp === false ? { key: `hole ${cmd} ${at} as ${identity}`, level: 'error' } : { key: `blocked ${cmd} ${at} as ${identity}`, level: 'warning' });
        }
      }
      if (t.transition_leaks?.length) findings.push({ key: `cross-policy leak ${at}`, level: 'error' });
      if (t.multi_findings?.length) findings.push({ key: `two-tenant user mis-served ${at}`, level: 'error' });
      if (t.footguns?.some((f) => f.includes('BROKEN POLICY'))) findings.push({ key: `broken policy ${at}`, level: 'error' });
      for (const [cmd, identity] of t.unreliable_cells ?? []) findings.push({ key: `unreliable ${cmd} ${at} as ${identity}`, level: 'warning' });
      if (t.unreliable?.length && !t.unreliable_cells?.length) findings.push({ key: `unreliable ${at}`, level: 'warning' });
      if (t.footguns?.some((f) => f.includes('NOT TESTABLE'))) untested++;
    }
    if (untested) notes.push(`${untested} of ${out.tables.length} table(s) with cells left untested ("NOT TESTABLE")`);
    if (ran.code === 1) notes.push(`gate: ${lastLine(ran.stdout).replace(/\s*\(exit 1.*$/, '').replace(/^FAIL: /, '').slice(0, 160)}`);
    return {
      seconds: lint.seconds + ran.seconds,
      findings: findings.map((f) => ({ ...f, key: unprefix(f.key, state.prefix) })),
      problem: null,
      notes: notes.map((n) => unprefix(n, state.prefix)),
      exitCode: ran.code,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Cases and states
// ---------------------------------------------------------------------------------------------
interface Case {
  readonly convention: ConventionName;
  readonly kind: 'base' | 'green' | 'red' | 'not a flaw';
  readonly title: string;
  /** SQL applied after the base; for red cases, the break. */
  readonly sql: string;
  /** Red cases: the fix, applied after `sql` in a second database. */
  readonly fix?: string;
  /** tenantproof's rule for this case in the corpus. */
  readonly rule?: string;
}

const conventions: readonly ConventionName[] = ['supabase', 'role-per-tenant', 'postgraphile'];
const allCases: Case[] = [
  ...conventions.map((convention) => ({ convention, kind: 'base' as const, title: `${convention} base`, sql: '' })),
  ...conventionGreens.map((g) => ({ convention: g.convention, kind: 'green' as const, title: g.title, sql: g.sql })),
  ...conventionCorpus.map((e) => ({
    convention: e.convention,
    kind: notFlaws.has(e.rule) ? ('not a flaw' as const) : ('red' as const),
    title: e.title,
    sql: e.setup,
    fix: e.fix,
    rule: e.rule,
  })),
];
const cases = allCases.filter((c) => !only || `${c.convention} ${c.title}`.includes(only));

async function withState<T>(server: PostgresServer, convention: ConventionName, sqls: readonly string[], body: (state: State) => Promise<T>): Promise<T> {
  const prefix = `k${randomBytes(4).toString('hex')}`;
  const name = `${prefix}_main`;
  await withClient(server.adminUrl, (c) => c.query(`create database ${quoteIdent(name)}`));
  const url = urlFor(server.adminUrl, name);
  try {
    for (const sql of [conventionBases[convention].sql, ...sqls]) if (sql) await applySql(server.adminUrl, url, expand(sql, prefix));
    return await body({ convention, url, prefix });
  } finally {
    await dropPrefixed(server.adminUrl, prefix);
  }
}

// ---------------------------------------------------------------------------------------------
// Run
// ---------------------------------------------------------------------------------------------
const installed = installPythonTools();
const runners: Record<ToolName, (state: State) => Promise<ToolRun>> = {
  tenantproof: runTenantproof,
  pgrls: runPgrls,
  rlsgrid: runRlsgrid,
  rlsautotest: runRlsautotest,
};
const unavailable = (tool: ToolName): string | null => (tool === 'tenantproof' ? null : installed[tool].problem);

// Interrupted: exit normally, so the server started below is stopped by its exit hook.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
const startServer = () => startPostgres(process.env.TENANTPROOF_PG_PROVIDER ? {} : { provider: 'binaries', pgBin });
await using server = await startServer();
// Supabase's roles (anon, authenticated, service_role) are cluster-wide: on a server that has them,
// rlsgrid takes any database for a Supabase one and acts only as those roles. The other conventions
// get a server of their own without them (with an existing server by URL, both are that server).
await using plainServer = process.env.TENANTPROOF_PG_PROVIDER === 'url' ? null : await startServer();
const serverFor = (convention: ConventionName): PostgresServer => (convention === 'supabase' ? server : (plainServer ?? server));
const serverVersion = await withClient(server.adminUrl, async (c) => (await c.query<{ v: string }>("select current_setting('server_version') as v")).rows[0]!.v);
console.error(`PostgreSQL ${serverVersion} (${server.provider}); tenantproof arguments: ${variant}; ${cases.length} case(s)`);

async function runAll(state: State): Promise<Record<ToolName, ToolRun>> {
  const out = {} as Record<ToolName, ToolRun>;
  // One after another, never in parallel: the times are per tool on a quiet server (as quiet as a shared machine gets).
  for (const tool of toolNames) {
    const problem = unavailable(tool);
    out[tool] = problem ? { seconds: 0, findings: null, problem, notes: [], exitCode: null } : await runners[tool](state);
  }
  return out;
}

type Verdict = 'caught' | 'partial' | 'missed' | 'false alarm' | 'quiet' | 'not run';

interface Outcome {
  readonly verdict: Verdict;
  /** The findings behind the verdict (new in the broken state, or false alarms). */
  readonly evidence: string[];
  readonly seconds: number;
  readonly notes: string[];
  readonly problem: string | null;
}

interface Result {
  readonly case: Case;
  readonly outcomes: Record<ToolName, Outcome>;
  /** Error-level findings on the correct state (base, green, fixed, not-a-flaw) per tool. */
  readonly falseAlarms: Record<ToolName, string[] | null>;
  /** The tool's exit code on that correct state. */
  readonly correctExit: Record<ToolName, number | null>;
}

const errors = (run: ToolRun) => (run.findings ?? []).filter((f) => f.level === 'error').map((f) => f.key);
const uniq = (xs: readonly string[]) => [...new Set(xs)];

function judgeRed(red: ToolRun, fixed: ToolRun): Outcome {
  const seconds = red.seconds;
  const notes = uniq([...red.notes]);
  if (!red.findings || !fixed.findings) return { verdict: 'not run', evidence: [], seconds, notes, problem: red.problem ?? fixed.problem };
  const after = new Set(fixed.findings.map((f) => f.key));
  const fresh = red.findings.filter((f) => !after.has(f.key));
  const newErrors = uniq(fresh.filter((f) => f.level === 'error').map((f) => f.key));
  const newWarnings = uniq(fresh.filter((f) => f.level === 'warning').map((f) => f.key));
  if (newErrors.length) return { verdict: 'caught', evidence: newErrors, seconds, notes, problem: null };
  if (newWarnings.length) return { verdict: 'partial', evidence: newWarnings, seconds, notes, problem: null };
  return { verdict: 'missed', evidence: [], seconds, notes, problem: null };
}

function judgeCorrect(run: ToolRun): Outcome {
  if (!run.findings) return { verdict: 'not run', evidence: [], seconds: run.seconds, notes: run.notes, problem: run.problem };
  const alarms = uniq(errors(run));
  return { verdict: alarms.length ? 'false alarm' : 'quiet', evidence: alarms, seconds: run.seconds, notes: run.notes, problem: null };
}

const results: Result[] = [];
for (const c of cases) {
  process.stderr.write(`· ${c.convention}: ${c.title} … `);
  const first = await withState(serverFor(c.convention), c.convention, [c.sql], runAll);
  const outcomes = {} as Record<ToolName, Outcome>;
  const falseAlarms = {} as Record<ToolName, string[] | null>;
  const correctExit = {} as Record<ToolName, number | null>;
  if (c.kind === 'red') {
    const fixed = await withState(serverFor(c.convention), c.convention, [c.sql, c.fix ?? ''], runAll);
    for (const tool of toolNames) {
      outcomes[tool] = judgeRed(first[tool], fixed[tool]);
      falseAlarms[tool] = fixed[tool].findings ? uniq(errors(fixed[tool])) : null;
      correctExit[tool] = fixed[tool].findings ? fixed[tool].exitCode : null;
    }
  } else {
    for (const tool of toolNames) {
      outcomes[tool] = judgeCorrect(first[tool]);
      falseAlarms[tool] = first[tool].findings ? uniq(errors(first[tool])) : null;
      correctExit[tool] = first[tool].findings ? first[tool].exitCode : null;
    }
  }
  results.push({ case: c, outcomes, falseAlarms, correctExit });
  process.stderr.write(toolNames.map((t) => `${t} ${outcomes[t].verdict} (${outcomes[t].seconds.toFixed(1)} s)`).join(', ') + '\n');
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------
const versions: Record<ToolName, string> = {
  tenantproof: `${(JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version} (this checkout, ${spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim()})`,
  pgrls: installed.pgrls.version ?? 'not installed',
  rlsgrid: installed.rlsgrid.version ?? 'not installed',
  rlsautotest: installed.rlsautotest.version ?? 'not installed',
};

const shorten = (xs: readonly string[], n = 3) => xs.slice(0, n).join(', ') + (xs.length > n ? ` +${xs.length - n}` : '');
const cell = (o: Outcome) => (o.verdict === 'not run' ? `not run: ${o.problem ?? ''}` : `${o.verdict}${o.evidence.length ? `: ${shorten(o.evidence)}` : ''}`);
const md = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

const reds = results.filter((r) => r.case.kind === 'red');
const corrects = results.filter((r) => r.case.kind !== 'red');
const count = (rs: readonly Result[], tool: ToolName, v: Verdict) => rs.filter((r) => r.outcomes[tool].verdict === v).length;
const times = (tool: ToolName) => results.map((r) => r.outcomes[tool]).filter((o) => o.verdict !== 'not run').map((o) => o.seconds).sort((a, b) => a - b);
const median = (xs: readonly number[]) => (xs.length ? xs[Math.floor(xs.length / 2)]! : NaN);
const correctStates = (tool: ToolName) => results.filter((r) => r.falseAlarms[tool] !== null);
const alarmedStates = (tool: ToolName) => results.filter((r) => (r.falseAlarms[tool]?.length ?? 0) > 0);
const alarmCount = (tool: ToolName) => results.reduce((n, r) => n + (r.falseAlarms[tool]?.length ?? 0), 0);
const nonZeroExits = (tool: ToolName) => results.filter((r) => r.correctExit[tool] !== null && r.correctExit[tool] !== 0);

const summaryHead = ['tool', 'version', 'caught', 'partial', 'missed', 'not run', 'correct states with a false alarm', 'non-zero exit on correct states', 'seconds per state: median (min–max)'];
const summaryRows = toolNames.map((tool) => {
  const t = times(tool);
  const exits = nonZeroExits(tool);
  const codes = [...new Set(exits.map((r) => r.correctExit[tool]))].sort().join(', ');
  return [
    tool,
    versions[tool],
    `${count(reds, tool, 'caught')} of ${reds.length}`,
    String(count(reds, tool, 'partial')),
    String(count(reds, tool, 'missed')),
    String(count(reds, tool, 'not run')),
    `${alarmedStates(tool).length} of ${correctStates(tool).length} (${alarmCount(tool)} findings)`,
    `${exits.length} of ${correctStates(tool).length}${codes ? ` (exit ${codes})` : ''}`,
    t.length ? `${median(t).toFixed(1)} (${t[0]!.toFixed(1)}–${t.at(-1)!.toFixed(1)})` : '—',
  ];
});

// Console
console.log(`\nPostgreSQL ${serverVersion} · tenantproof arguments: ${variant}\n`);
for (const r of results) {
  console.log(`${r.case.kind.padEnd(10)} ${r.case.convention}: ${r.case.title}`);
  for (const tool of toolNames) {
    const o = r.outcomes[tool];
    console.log(`    ${tool.padEnd(12)} ${o.seconds.toFixed(1).padStart(5)} s  ${cell(o)}${o.notes.length ? `  [${o.notes.join('; ')}]` : ''}`);
  }
  if (r.case.kind === 'red') {
    console.log(`    after the fix, error-level: ${toolNames.map((t) => `${t} ${r.falseAlarms[t] === null ? 'not run' : r.falseAlarms[t]!.length}`).join(', ')}`);
  }
}
console.log('');
const widths = summaryHead.map((h, i) => Math.max(h.length, ...summaryRows.map((row) => row[i]!.length)));
for (const row of [summaryHead, ...summaryRows]) console.log(row.map((c, i) => c.padEnd(widths[i]!)).join('  '));

if (writeDocs && !only) {
  writeFileSync('docs/comparison.md', renderPage());
  console.log('\nwrote docs/comparison.md');
} else if (writeDocs) {
  console.log('\n(--only: docs/comparison.md not written; it covers the whole corpus)');
}

function renderPage(): string {
  const table = (head: readonly string[], rows: readonly (readonly string[])[]) =>
    [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.map(md).join(' | ')} |`)].join('\n');
  const redRows = reds.map((r) => [`${r.case.convention}: ${r.case.title}`, ...toolNames.map((t) => `${cell(r.outcomes[t])} (${r.outcomes[t].seconds.toFixed(1)} s)`)]);
  const alarmCell = (r: Result, t: ToolName) => (r.falseAlarms[t] === null ? 'not run' : r.falseAlarms[t]!.length ? `${r.falseAlarms[t]!.length}: ${shorten(r.falseAlarms[t]!, 2)}` : '0');
  const correctRows = [
    ...corrects.map((r) => [`${r.case.kind}: ${r.case.convention}: ${r.case.title}`, ...toolNames.map((t) => alarmCell(r, t))]),
    ...reds.map((r) => [`fixed: ${r.case.convention}: ${r.case.title}`, ...toolNames.map((t) => alarmCell(r, t))]),
  ];
  // What the tools said they could not cover, grouped: one row per tool and note, with how many states it concerned.
  const grouped = new Map<string, { tool: ToolName; note: string; states: number }>();
  for (const r of results)
    for (const t of toolNames)
      for (const note of r.outcomes[t].notes) {
        const g = grouped.get(`${t}\0${note}`) ?? { tool: t, note, states: 0 };
        g.states++;
        grouped.set(`${t}\0${note}`, g);
      }
  const noteRows = [...grouped.values()].sort((a, b) => toolNames.indexOf(a.tool) - toolNames.indexOf(b.tool) || b.states - a.states).map((g) => [g.tool, g.note, String(g.states)]);
  const problems = uniq(results.flatMap((r) => toolNames.filter((t) => r.outcomes[t].verdict === 'not run').map((t) => `${t}: ${r.outcomes[t].problem}`)));
  const args = conventions.map((c) => [c, `\`${tenantproofArgs[c][variant].join(' ')}\``]);
  const notFlawCount = results.filter((r) => r.case.kind === 'not a flaw').length;

  return `# tenantproof next to pgrls, rlsgrid and rlsautotest, on the convention corpora

A docs page, not a test. Written by \`npx tsx bench/compare-python-tools.ts\` (tenantproof arguments:
\`${variant}\`); every figure below comes from that run, and rerunning the script rewrites the page.

## How it was measured

- **Schemas**: the convention corpora in \`suites/catalog/conventions.ts\`: Supabase (accounts,
  memberships, profiles, SECURITY DEFINER helpers, Supabase's default grants to anon and
  authenticated), role per tenant (a RESTRICTIVE tenant policy over a permissive \`USING (true)\`)
  and PostGraphile (\`jwt.claims.session_id\`, a sessions table, organisation memberships). That is
  ${results.filter((r) => r.case.kind === 'base').length} correct bases, ${results.filter((r) => r.case.kind === 'green').length} green variants, ${reds.length} red cases (each breaks one thing) with their fixes,
  and ${notFlawCount} corpus cases that are not flaws (info by design): ${reds.length} broken states and
  ${corrects.length + reds.length} correct ones.
- **Server**: PostgreSQL ${serverVersion}, started for the run by \`fixtures/postgres\` from
  \`${server.provider === 'binaries' ? pgBin : server.provider}\` as an unprivileged user: one server for the Supabase cases and one for the others, because
  Supabase's roles are cluster-wide (on a server that has them, \`rlsgrid init --from-db\` takes every
  database for a Supabase one and acts only as anon, authenticated and service_role). Every state is built in its own fresh database
  (base SQL, then the case's SQL, then for the fixed state the fix), and dropped afterwards.
- **Tools**: ${toolNames.map((t) => `${t} ${versions[t]}`).join('; ')}. The Python tools come
  from PyPI, pinned, in a venv under \`~/.cache/tenantproof/py-tools\` that the script creates.
  Each tool runs on each state as a fresh process, one tool at a time; the time is wall clock and
  includes process start-up (Python imports; Node with tsx for tenantproof). The machine has 2
  cores shared with other work, so times vary by ±50% between runs; compare within a run.
- **How each tool ran** (as its README says, configuration not edited by hand):
  - tenantproof: \`node bin/tenantproof.js verify --database-url … --model rls <arguments below> --format json\`:
    static rules and probes (20 generated worlds, the default).
  - pgrls: \`pgrls lint --database-url … --format json\` (PostGraphile: \`--schemas public,<prefix>_app_public\`).
    Static only.
  - rlsgrid: \`rlsgrid init --from-db\` (writes \`rlsgrid.toml\` from the live schema: it guesses the
    tenant column, the roles and whether this is Supabase), then \`rlsgrid check --tenants 5 --json\`
    (seeds synthetic tenants, runs 300 cross-tenant read/insert/update/delete probes as each role
    with JWT claims, tears the seed down). For this page only, an untimed \`rlsgrid seed --json\`
    and \`teardown\` record which tables its seeder could not fill (\`check\` does not say).
  - rlsautotest: \`rlsautotest lint --schema S\` (its static checks, including the bypass surfaces)
    and its CI gate \`rlsautotest --db-url … --schema S --report --report-json …\` (seeds rows, acts as
    each identity it derives — service_role, an authorized and an unauthorized authenticated user,
    anon, custom roles — in rolled-back transactions). S is \`public\`, or \`<prefix>_app_public\` for
    PostGraphile. Its time is the two commands together.

**Levels.** Each tool's output is reduced to findings with a level. *error*: tenantproof high or
critical, or an observed leak; pgrls \`error\`; rlsgrid a breach; rlsautotest an exposed table, a
hole (an identity can act where its policy says it should not), a broken policy, a cross-policy or
two-tenant leak, or a lint finding of severity CRITICAL or HIGH (bypass surfaces included).
*warning*: tenantproof medium; pgrls \`warning\`; rlsautotest an UNRELIABLE cell, a command blocked
that should be allowed, a MEDIUM lint finding. Everything else is info.

**Verdicts.** A red case is **caught** when its broken state has an error-level finding that its
fixed state does not have (so the finding is about what the case broke, not something the tool
says about every schema), **partial** when that difference is only warnings, **missed** when there
is none. On a correct state every error-level finding is a **false alarm** (the fixed states of the
red cases are correct schemas too). The cells show the findings behind the verdict, as each tool
names them (\`@\` stands for the case's prefix).

## tenantproof's arguments (${variant})

${table(['convention', 'arguments (`@` = the case\'s prefix)'], args)}

${variant === 'current' ? `These are the flags that exist today: one application role and one setting that receives the
tenant id. On Supabase and PostGraphile that setting is read as a JWT or a session id, so the
probes cannot act as a user (\`22P02\` below) and the verdict is *incomplete* (exit 3), never
VERIFIED: tenantproof's results there come from its static rules. On role per tenant the probes
act as the group role, which is no tenant's \`db_user\`: they found the leaks of both red cases,
but on the correct states they see no row at all, their own tenant's included, and the verdict is
VERIFIED (exit 0), a proof about the group role only.
The \`preset\` variant (\`--tenantproof-args preset\`) uses the principals and context templates of
issue 10 (\`--preset supabase\`, \`--membership-table\`, \`--context-role '{tenant.db_user}'\`).` : `These use the principals and context templates of issue 10; \`--tenantproof-args current\` runs the
flags that existed before them.`}

## Summary

${table(summaryHead, summaryRows)}

## Red cases (each breaks one thing)

What each tool reported on the broken state and not on the fixed one, and its time on the broken state.

${table(['case', ...toolNames], redRows)}

## Correct schemas: false alarms

Error-level findings on each correct state.

${table(['state', ...toolNames], correctRows)}

## What the tools said they could not cover

One row per tool and message, with the number of cases (of ${results.length}) it was printed on (for a red case, on its broken state).

${noteRows.length ? table(['tool', 'message', 'cases'], noteRows) : 'No tool reported anything it could not cover.'}
${problems.length ? `\nRuns that could not happen:\n\n${problems.map((p) => `- ${md(p)}`).join('\n')}\n` : ''}
## Reading the results

- **rlsgrid** fills a \`user_id\` column with its synthetic user's id without creating that user
  in \`auth.users\`, so it cannot seed \`account_members\` (foreign key to \`auth.users\`): its users
  belong to no account, every membership policy shows them nothing, and the fuzz only sees what is
  open to everyone. On PostGraphile, \`init --from-db\` found no role with an allow or conditional
  cell and \`check\` ran no probe at all, and still exits 0. On role per tenant it acts as the group
  role (with JWT claims it does not use); its seeder could not fill the tenant tables (a unique
  \`db_user\`, a composite foreign key), so most probes were skipped, yet it saw the group role read
  and write through the \`USING (true)\` left once the RESTRICTIVE policy was dropped.
- **rlsautotest**'s probes prove that the database does what the policies declare; its README
  says it cannot know intent, so a wrong policy (a self-insert into memberships, a wrong
  comparison, a membership check not tied to the row) is confirmed as declared. Its lint catches
  the open policies (\`USING (true)\`, \`WITH CHECK (true)\`, no \`TO\` clause), the exposed table, the
  definer RPC and the view, but it also names CRITICAL or HIGH, on correct schemas: the \`is_member\`
  and membership helpers (SECURITY DEFINER, EXECUTE-able by anon through PUBLIC's default grant),
  a public price list's \`USING (true)\`, the permissive \`USING (true) WITH CHECK (true)\` that a
  RESTRICTIVE policy narrows, and every PostGraphile policy that calls a helper function. Its gate
  exits 1 on the Supabase states because the cells behind the helpers are UNRELIABLE (mocking the
  helper did not grant the command), and on role per tenant and PostGraphile because it marks
  their tables UNRELIABLE; its probes caught none of those conventions' broken states.
- **pgrls** raises error-level findings on every correct state: \`SEC002\` (FORCE ROW LEVEL
  SECURITY missing, on tables the API roles do not own), \`SEC038\` on \`USING (true)\` that a
  RESTRICTIVE policy narrows or that serves a public price list, \`SEC042\` on the correct
  membership helpers. On the two broken role-per-tenant states it reports nothing above info that it does not also report on the correct one.
- **tenantproof**'s static rules understand memberships, definer helpers, \`auth.uid()\` and
  RESTRICTIVE layering; with the current flags its probes add evidence only where they can act
  (role per tenant, and tables open to everyone).

## Not done

- pgrls \`verify\` (its Z3 mode), rlsautotest \`--emit\` + \`pg_prove\` (the pgTAP suite it writes; its
  \`--report\` runs the same probes) and rlsgrid \`gen pgtap\` were not run.
- rlsgrid's grid (\`rlsgrid plan\`: each role × table × command labelled allow, deny, conditional or
  unrestricted) is not a finding and was not scored; \`check\` fuzzes its allow and conditional cells.
- No tool was configured by hand (an \`rlsgrid.toml\` in function mode, rlsautotest's
  \`--allow-unreliable\` or \`--allow-bypass\`, a pgrls baseline): each ran as its README's quick start
  says. A team that tunes them would see fewer false alarms and perhaps more catches.
- One PostgreSQL version per run (set \`PG_BIN\` for another installed version, or
  \`TENANTPROOF_PG_PROVIDER=embedded\` for PostgreSQL 18).
`;
}
