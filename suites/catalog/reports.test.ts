import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Ajv } from 'ajv';
import AjvDraft04Module from 'ajv-draft-04';
import addFormatsModule from 'ajv-formats';
import { afterEach, describe, expect, test } from 'vitest';
import { probeCheckById, type Finding } from '../../src/index.ts';
import { exitCodeFor, writeReports, type ReportInput } from '../../reports/index.ts';
import { fixtureDatabase } from './harness.ts';

// CommonJS default exports seen through NodeNext typing: the class/function is `.default` for tsc, the module itself at run time.
const AjvDraft04 = ((AjvDraft04Module as unknown as { default?: typeof AjvDraft04Module }).default ?? AjvDraft04Module) as unknown as typeof AjvDraft04Module.default;
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as typeof addFormatsModule.default;

const sarifSchema = JSON.parse(await readFile('reports/schemas/sarif-2.1.0-rtm.5.json', 'utf8'));
const findingsSchema = JSON.parse(await readFile('reports/schemas/findings.schema.json', 'utf8'));

function sarifValidator() {
  const ajv = new AjvDraft04({ allErrors: true, strict: false, unicodeRegExp: false });
  addFormats(ajv);
  return ajv.compile(sarifSchema);
}
function findingsValidator() {
  const ajv = new Ajv({ allErrors: true, strict: true });
  addFormats(ajv);
  return ajv.compile(findingsSchema);
}

const dirs: string[] = [];
async function reportDir() {
  const dir = await mkdtemp(join(tmpdir(), 'tenantproof-reports-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** A real run on a deliberately broken schema: findings of several severities and kinds. */
async function brokenRun(): Promise<ReportInput> {
  await using db = await fixtureDatabase('rls');
  await db.apply(`
drop policy tenant_isolation on tasks;
alter table tasks disable row level security;
alter table tasks add column code text unique;
create function add_one(i int) returns int language sql as $$ select i + 1 $$;
create policy "weird | <name> & 'quoted'" on projects for select to @app using (true);`);
  const startedAt = new Date();
  const { findings, rulesRun } = await db.run();
  return { findings, rulesRun, target: 'postgres://admin:hunter2secret@127.0.0.1:5432/app', model: 'rls', startedAt, durationMs: 1234, seed: 42 };
}

describe('reports', () => {
  test('a failing run writes findings.json, junit.xml, SARIF 2.1.0, summary.md and Allure results that agree', async () => {
    const input = await brokenRun();
    const probeFinding: Finding = {
      checkId: 'probe-read-scan',
      title: 'Tenant read another tenant\'s rows',
      severity: 'critical',
      leakClass: 'read',
      leak: true,
      model: 'rls',
      object: 'public.tasks',
      actingTenant: 'acme',
      victimTenant: 'globex',
      statement: 'select * from tasks',
      observed: { rows: 3 },
      seed: 7,
      remediation: 'Enable RLS on public.tasks.',
    };
    const withProbe = { ...input, findings: [...input.findings, probeFinding] };
    const counts = { critical: 0, high: 0, medium: 0, low: 0, info: 0 };
    for (const f of withProbe.findings) counts[f.severity]++;
    expect(counts.critical).toBeGreaterThanOrEqual(2);
    expect(counts.medium + counts.low).toBeGreaterThanOrEqual(2);

    const dir = await reportDir();
    const written = await writeReports(dir, withProbe);
    expect(written).toHaveLength(5);

    // No file carries the password.
    const names = await readdir(dir);
    expect(names.sort()).toEqual(['allure-results', 'findings.json', 'junit.xml', 'summary.md', 'tenantproof.sarif']);
    for (const name of names.filter((n) => n !== 'allure-results')) expect(await readFile(join(dir, name), 'utf8')).not.toContain('hunter2secret');

    // findings.json: schema-valid, stable order, counts match.
    const json = JSON.parse(await readFile(join(dir, 'findings.json'), 'utf8'));
    const validateFindings = findingsValidator();
    expect(validateFindings(json), JSON.stringify(validateFindings.errors)).toBe(true);
    expect(json.verdict).toBe('findings');
    expect(json.exitCode).toBe(1);
    expect(json.counts).toEqual(counts);
    expect(json.findings).toHaveLength(withProbe.findings.length);
    expect(json.findings[0].severity).toBe('critical');
    expect(json.target.url).toContain('***');
    expect(json.checks.map((c: { id: string }) => c.id)).toEqual([...input.rulesRun, 'probe-read-scan']);
    // A probe check's metadata comes from the probe registry, not from whichever finding came first.
    expect(json.checks.at(-1)).toMatchObject({ id: 'probe-read-scan', title: probeCheckById('probe-read-scan')!.title, cwe: 'CWE-863', kind: 'probe', findings: 1 });
    const again = await reportDir();
    await writeReports(again, withProbe, ['json']);
    expect(await readFile(join(again, 'findings.json'), 'utf8')).toBe(await readFile(join(dir, 'findings.json'), 'utf8'));

    // SARIF: valid against the 2.1.0 schema; rules carry security-severity and CWE tags; results name db objects.
    const sarif = JSON.parse(await readFile(join(dir, 'tenantproof.sarif'), 'utf8'));
    const validateSarif = sarifValidator();
    expect(validateSarif(sarif), JSON.stringify(validateSarif.errors?.slice(0, 5))).toBe(true);
    const run = sarif.runs[0];
    expect(run.results).toHaveLength(withProbe.findings.length);
    const rlsRule = run.tool.driver.rules.find((r: { id: string }) => r.id === 'rls-disabled');
    expect(rlsRule.properties['security-severity']).toBe('9.5');
    expect(rlsRule.properties.tags).toContain('CWE-862');
    expect(rlsRule.help.text).toMatch(/ENABLE ROW LEVEL SECURITY/);
    for (const r of run.results) {
      expect(run.tool.driver.rules[r.ruleIndex].id).toBe(r.ruleId);
      expect(r.locations[0].logicalLocations[0].fullyQualifiedName).not.toBe('');
      // GitHub code scanning rejects the whole file if a result has no physical location.
      expect(r.locations[0].physicalLocation.artifactLocation.uri).toMatch(/^tenantproof\/catalog\/[A-Za-z0-9._-]+$/);
    }
    const fn = run.results.find((r: { ruleId: string }) => r.ruleId === 'function-search-path-mutable');
    expect(fn.level).toBe('note');
    expect(fn.locations[0].logicalLocations[0].kind).toBe('function');

    // JUnit: one testcase per check and one for the proof's completeness, one failure per finding, XML-escaped.
    const junit = await readFile(join(dir, 'junit.xml'), 'utf8');
    expect(junit.match(/<testcase /g)).toHaveLength(input.rulesRun.length + 2);
    expect(junit.match(/<failure /g)).toHaveLength(withProbe.findings.length);
    expect(junit).toContain('weird | &lt;name&gt; &amp; &apos;quoted&apos;');
    expect(junit).not.toMatch(/<name>|& /);

    // summary.md: verdict, counts, a row per finding.
    const summary = await readFile(join(dir, 'summary.md'), 'utf8');
    expect(summary).toMatch(/^## tenantproof: FAILED — \d+ findings at or above high/);
    expect(summary).toContain(`| ${counts.critical} | ${counts.high} | ${counts.medium} | ${counts.low} | ${counts.info} |`);
    expect(summary.match(/^\| (critical|high|medium|low|info) \| `/gm)).toHaveLength(withProbe.findings.length);
    expect(summary).toContain('weird \\| <name>');
    expect(summary.split('\n').length).toBeLessThan(80);

    // Allure: one result per check and one for the proof, failed ones with evidence attachments that exist.
    const allureDir = join(dir, 'allure-results');
    const allureFiles = await readdir(allureDir);
    const results = await Promise.all(allureFiles.filter((f) => f.endsWith('-result.json')).map(async (f) => JSON.parse(await readFile(join(allureDir, f), 'utf8'))));
    expect(results).toHaveLength(input.rulesRun.length + 2);
    const failed = results.filter((r) => r.status === 'failed');
    expect(failed.map((r) => r.labels.find((l: { name: string }) => l.name === 'story').value).sort()).toEqual([...new Set(withProbe.findings.map((f) => f.checkId))].sort());
    for (const r of failed) {
      expect(r.attachments.length).toBeGreaterThan(0);
      for (const a of r.attachments) expect(allureFiles).toContain(a.source);
      expect(r.labels.map((l: { name: string }) => l.name)).toEqual(expect.arrayContaining(['severity', 'feature', 'story']));
    }
  });

  test('Allure 3 reads the results: one test per check, failed ones with their evidence', async () => {
    const input = await brokenRun();
    const dir = await reportDir();
    await writeReports(dir, input, ['allure']);
    const out = join(dir, 'allure-report');
    await promisify(execFile)(resolve('node_modules/.bin/allure'), ['generate', join(dir, 'allure-results'), '--output', out], { cwd: dir, timeout: 60_000 });
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
    const failedChecks = new Set(input.findings.map((f) => f.checkId)).size;
    // One result per check, plus the proof's completeness (passed: nothing was left unproven here).
    expect(summary.stats).toMatchObject({ total: input.rulesRun.length + 1, failed: failedChecks, passed: input.rulesRun.length + 1 - failedChecks });
    expect((await readdir(join(out, 'data', 'attachments'))).length).toBe(input.findings.length);
  });

  test('SARIF results are anchored on the given source file when there is one', async () => {
    const input = await brokenRun();
    const dir = await reportDir();
    await writeReports(dir, { ...input, sourceUri: 'db/migrations/001_schema.sql' }, ['sarif']);
    const sarif = JSON.parse(await readFile(join(dir, 'tenantproof.sarif'), 'utf8'));
    expect(sarifValidator()(sarif)).toBe(true);
    const uris = new Set(sarif.runs[0].results.map((r: { locations: { physicalLocation: { artifactLocation: { uri: string } } }[] }) => r.locations[0]!.physicalLocation.artifactLocation.uri));
    expect([...uris]).toEqual(['db/migrations/001_schema.sql']);
  });

  test('the SARIF check has teeth: a log with a bad level or no rule id is rejected', async () => {
    const input = await brokenRun();
    const dir = await reportDir();
    await writeReports(dir, input, ['sarif']);
    const sarif = JSON.parse(await readFile(join(dir, 'tenantproof.sarif'), 'utf8'));
    const validate = sarifValidator();
    expect(validate(sarif)).toBe(true);
    expect(validate({ ...sarif, version: '2.0.0' })).toBe(false);
    const badLevel = structuredClone(sarif);
    badLevel.runs[0].results[0].level = 'fatal';
    expect(validate(badLevel)).toBe(false);
    const noMessage = structuredClone(sarif);
    delete noMessage.runs[0].results[0].message;
    expect(validate(noMessage)).toBe(false);
  });

  test('a clean run is verified: exit code 0, summary says so, SARIF has no results', async () => {
    await using db = await fixtureDatabase('rls');
    const { findings, rulesRun } = await db.run(undefined, { skip: ['server-version-vulnerable'] });
    expect(findings).toEqual([]);
    const dir = await reportDir();
    await writeReports(dir, { findings, rulesRun, target: db.url, model: 'rls', startedAt: new Date(), durationMs: 10 });
    expect(await readFile(join(dir, 'summary.md'), 'utf8')).toMatch(/^## tenantproof: verified — no finding at or above high/);
    const json = JSON.parse(await readFile(join(dir, 'findings.json'), 'utf8'));
    expect([json.verdict, json.exitCode]).toEqual(['verified', 0]);
    const sarif = JSON.parse(await readFile(join(dir, 'tenantproof.sarif'), 'utf8'));
    expect(sarifValidator()(sarif)).toBe(true);
    expect(sarif.runs[0].results).toEqual([]);
    expect(await readFile(join(dir, 'junit.xml'), 'utf8')).not.toContain('<failure');
  });

  test.each([
    [['medium'], 'high', 0],
    [['medium'], 'medium', 1],
    [['high'], 'high', 1],
    [['critical', 'info'], 'critical', 1],
    [['low', 'info'], 'low', 1],
    [['info'], 'low', 0],
    [[], 'info', 0],
  ] as const)('--fail-on: findings %j with threshold %s → exit %i', (severities, failOn, code) => {
    expect(exitCodeFor(severities.map((severity) => ({ severity })), failOn)).toBe(code);
  });

  test('--fail-on defaults to high', () => {
    expect(exitCodeFor([{ severity: 'medium' }])).toBe(0);
    expect(exitCodeFor([{ severity: 'high' }])).toBe(1);
  });
});
