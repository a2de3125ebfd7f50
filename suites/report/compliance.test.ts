/**
 * What a reviewer signs and opens, from real `tenantproof verify` runs on a correct schema and on
 * one with row level security off:
 *
 * - the compliance summary (compliance-summary.md + .json): target, PostgreSQL version, commit,
 *   tables and tenants probed, checks run, counts per leak class and severity, the control
 *   objectives each check evidences — and, as the main job builds it over several targets, red
 *   cases that never count against a control and k6 figures;
 * - the main job's Allure results: each target under its own history, a caught red case shown as
 *   expected catches (not failures), one result per k6 case with its summary attached.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { withClient } from '../../src/index.ts';
import { collectAllureResults, type JobOutcome } from '../../reports/allure-main-job.ts';
import { buildComplianceSummary, k6Figures, renderComplianceMarkdown, type ComplianceSummary, type ComplianceTarget } from '../../reports/compliance.ts';
import { runCli } from '../cli/cli-helpers.ts';
import { corpus } from '../isolation/corpus.ts';
import { openCorpusTarget } from '../isolation/harness.ts';

const correct = corpus.find((s) => s.flaw === null)!;
const flawed = corpus.find((s) => s.flaw === 'rls-off')!;
/** CI variables that would name a commit: cleared, so the test decides where the commit comes from. */
const noCiCommit = { TENANTPROOF_COMMIT: undefined, GITHUB_SHA: undefined, CI_COMMIT_SHA: undefined, BUILD_SOURCEVERSION: undefined, GIT_COMMIT: undefined };

interface Run {
  readonly dir: string;
  readonly code: number | null;
  readonly summary: ComplianceSummary;
  readonly markdown: string;
  readonly serverVersion: string;
}

async function verifyInto(schema: typeof correct, extra: readonly string[]): Promise<Run & { close(): Promise<void> }> {
  const t = await openCorpusTarget(schema);
  const dir = mkdtempSync(join(tmpdir(), 'tp-compliance-'));
  const run = await runCli(['verify', '--database-url', t.target.databaseUrl, '--model', 'rls', '--app-role', t.target.appRole, '--runs', '3', '--seed', '5', '--report-dir', dir, ...extra], { env: noCiCommit });
  const serverVersion = await withClient(t.target.databaseUrl, async (c) => (await c.query<{ v: string }>("select current_setting('server_version') as v")).rows[0]!.v.split(' ')[0]!);
  return {
    dir,
    code: run.code,
    summary: JSON.parse(readFileSync(join(dir, 'compliance-summary.json'), 'utf8')) as ComplianceSummary,
    markdown: readFileSync(join(dir, 'compliance-summary.md'), 'utf8'),
    serverVersion,
    close: t.close,
  };
}

let good: Run & { close(): Promise<void> };
let bad: Run & { close(): Promise<void> };

beforeAll(async () => {
  good = await verifyInto(correct, ['--commit', '0123abcd']);
  bad = await verifyInto(flawed, []);
}, 300_000);
afterAll(async () => {
  await good?.close();
  await bad?.close();
});

describe('the compliance summary of one verify run', () => {
  test('names the target, PostgreSQL version, commit, tables, tenants and checks run', () => {
    expect(good.code).toBe(0);
    const [t] = good.summary.targets;
    expect(t!.postgresVersion).toBe(good.serverVersion);
    expect(t!.commit).toBe('0123abcd');
    expect(t!.target).toMatch(/^postgres:\/\/.*\*\*\*@127\.0\.0\.1:\d+\//);
    expect(t!.tables).toEqual(expect.arrayContaining(['public.projects', 'public.tasks', 'public.comments', 'public.attachments']));
    expect(t!.tenants).toMatch(/^2–6 generated tenants in each of [3-9]\d* worlds$/);
    expect(t!.checksRun).toEqual(expect.arrayContaining(['rls-disabled', 'rls-not-forced', 'probe-read-scan', 'probe-write-insert-foreign']));
    expect(good.markdown).toContain(`PostgreSQL ${good.serverVersion}`);
    expect(good.markdown).toContain('`0123abcd`');
    expect(good.markdown).toMatch(/## Sign-off\n\nReviewed by: _+/);
  });

  test('a correct schema evidences the access-control objectives; RLS off leaves them not met, counted per leak class and severity', () => {
    const control = (s: ComplianceSummary, id: string) => s.controls.find((c) => c.id === id)!;
    for (const id of ['soc2-CC6.1', 'iso27001-A.8.3', 'iso27001-A.5.15', 'asvs5-8.4.1']) {
      expect(control(good.summary, id).status, id).toBe('evidenced');
      expect(control(good.summary, id).checks.length, id).toBeGreaterThan(0);
      expect(control(bad.summary, id).status, id).toBe('not met');
    }
    expect(good.summary.counts.byLeakClass.read.critical).toBe(0);
    expect(bad.code).toBe(1);
    expect(bad.summary.counts.byLeakClass.read.critical).toBeGreaterThan(0);
    expect(bad.summary.counts.bySeverity.critical).toBe(Object.values(bad.summary.counts.byLeakClass).reduce((n, c) => n + c.critical, 0));
    expect(bad.markdown).toMatch(/\| SOC 2 \(2017 TSC\) \| CC6\.1 \| .* \| \*\*NOT MET\*\* \(\d+ findings?/);
    expect(bad.markdown).toMatch(/\| read \| [1-9]\d* \|/);
  });

  test('without --commit in a checkout, the commit is git rev-parse HEAD', () => {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    expect(bad.summary.targets[0]!.commit).toMatch(new RegExp(`^${head}( \\(with uncommitted changes\\))?$`));
  });
});

describe('the main job: one summary and one Allure report over every target', () => {
  /** A k6 summary folder as load/run.ts writes it (victims.json beside k6's summary.json). */
  function k6Folder(p95: number): string {
    const dir = mkdtempSync(join(tmpdir(), 'tp-k6-'));
    writeFileSync(join(dir, 'summary.json'), JSON.stringify({ metrics: { http_req_duration: { values: { 'p(95)': p95 } }, http_reqs: { values: { count: 1234 } } } }));
    writeFileSync(join(dir, 'victims.json'), JSON.stringify({ baseline: { p95: 8.2, errors: 0 }, contended: { p95, errors: 0 }, ratioToBaseline: p95 / 8.2, aggressorThrottled: 237 }));
    // The crossed threshold as the Finding load/run.ts writes (load/verdict.ts).
    writeFileSync(join(dir, 'findings.json'), JSON.stringify({ findings: [{ checkId: 'load-victim-errors', severity: 'high', title: "12.5% of the victim tenants' requests failed" }] }));
    return dir;
  }

  test('red cases never count against a control and show the checks catch; k6 figures are listed', () => {
    const asJob = (run: Run, name: string, expectation: ComplianceTarget['expectation']): ComplianceTarget => ({ ...run.summary.targets[0]!, name, expectation, held: true });
    const summary = buildComplianceSummary({
      title: 'main job',
      tenantproofVersion: 'test',
      targets: [asJob(good, 'shipped', 'must verify'), asJob(bad, 'rls-off', 'red case: findings expected')],
      load: [
        { name: 'shipped build holds', checkId: 'load-noisy-neighbour', expectation: 'must verify', outcome: 'held', figures: k6Figures(k6Folder(15.2)) },
        { name: 'red case: rate-limit-global', checkId: 'load-noisy-neighbour', expectation: 'red case: findings expected', outcome: 'caught', figures: k6Figures(k6Folder(900)) },
      ],
    });
    const cc61 = summary.controls.find((c) => c.id === 'soc2-CC6.1')!;
    expect(cc61.status).toBe('evidenced');
    expect(cc61.redCasesCaught).toBe(1);
    expect(summary.counts.byLeakClass.read.critical).toBe(0);
    const capacity = summary.controls.find((c) => c.id === 'soc2-A1.1')!;
    expect(capacity.checks).toContain('load-noisy-neighbour');
    expect(capacity.redCasesCaught).toBe(1);
    const md = renderComplianceMarkdown(summary);
    expect(md).toMatch(/## Red cases \(1\)[\s\S]*- rls-off: caught — \d+ finding\(s\)/);
    expect(md).toMatch(/\| red case: rate-limit-global \| red case: findings expected \| caught \| .*victim p95 contended \(ms\) 900/);
    expect(md).toMatch(/\| shipped build holds \| must verify \| held \| .*victim p95 contended \(ms\) 15\.20/);
  });

  test('Allure: each target under its own history, a caught red case as expected catches, k6 summaries attached to the load cases', () => {
    const results = mkdtempSync(join(tmpdir(), 'tp-allure-job-'));
    const summaryDir = k6Folder(900);
    const outcomes: JobOutcome[] = [
      { name: 'shipped', kind: 'verify', expected: 0, seconds: 1, reportDir: good.dir, held: true },
      { name: 'rls-off', kind: 'verify', expected: 1, seconds: 1, reportDir: bad.dir, held: true },
      { name: 'red case: rate-limit-global', kind: 'load', expected: 0, seconds: 30, held: true, summaryDirs: [summaryDir] },
      { name: 'isolation under load, hybrid: shipped build holds', kind: 'load', expected: 0, seconds: 0, held: false, notRun: 'k6 is not installed — bash load/install-k6.sh' },
    ];
    mkdirSync(results, { recursive: true });
    collectAllureResults(results, outcomes);
    type Result = { historyId: string; testCaseId: string; name: string; status: string; fullName: string; labels: { name: string; value: string }[]; parameters: { name: string; value: string }[]; attachments: { source: string }[] };
    const all = readdirSync(results).filter((f) => f.endsWith('-result.json')).map((f) => JSON.parse(readFileSync(join(results, f), 'utf8')) as Result);
    const target = (r: Result) => r.parameters.find((p) => p.name === 'target')?.value;

    // The same check in two targets: one test case, two histories (never merged as retries).
    const rlsDisabled = all.filter((r) => r.fullName === 'tenantproof.rules.rls-disabled');
    expect(rlsDisabled.map(target).sort()).toEqual(['rls-off', 'shipped']);
    expect(new Set(rlsDisabled.map((r) => r.testCaseId)).size).toBe(1);
    expect(new Set(rlsDisabled.map((r) => r.historyId)).size).toBe(2);
    expect(new Set(all.map((r) => r.historyId)).size).toBe(all.length);

    // The red case's catches: passed, named and tagged as expected; the caught check among them.
    const red = all.filter((r) => target(r) === 'rls-off' && r.fullName !== 'tenantproof.proof.coverage');
    expect(red.filter((r) => r.status === 'failed')).toEqual([]);
    const caught = red.filter((r) => r.name.startsWith('caught as expected — '));
    expect(caught.map((r) => r.fullName)).toContain('tenantproof.rules.rls-disabled');
    expect(red.every((r) => r.labels.some((l) => l.name === 'tag' && l.value === 'expected red case'))).toBe(true);
    // The shipped build's results keep their own status.
    const shipped = all.filter((r) => target(r) === 'shipped' && r.fullName === 'tenantproof.rules.rls-disabled');
    expect(shipped.map((r) => r.status)).toEqual(['passed']);

    // k6: the red case caught, its summaries attached; the case not run is skipped, not failed.
    const load = all.find((r) => r.fullName === 'tenantproof.load.red case: rate-limit-global')!;
    expect(load.status).toBe('passed');
    expect(load.name).toBe('caught as expected — red case: rate-limit-global');
    const attached = load.attachments.map((a) => readFileSync(join(results, a.source), 'utf8'));
    expect(attached).toContain(readFileSync(join(summaryDir, 'summary.json'), 'utf8'));
    expect(attached).toContain(readFileSync(join(summaryDir, 'victims.json'), 'utf8'));
    expect(attached).toContain(readFileSync(join(summaryDir, 'findings.json'), 'utf8'));
    // Its crossed threshold is a step, passed: in a red case the finding is the expected outcome.
    expect((load as Result & { steps: { name: string; status: string }[] }).steps).toEqual([
      expect.objectContaining({ name: "[high] load-victim-errors: 12.5% of the victim tenants' requests failed", status: 'passed' }),
    ]);
    const notRun = all.find((r) => r.fullName === 'tenantproof.load.isolation under load, hybrid: shipped build holds')!;
    expect(notRun.status).toBe('skipped');
  });
});
