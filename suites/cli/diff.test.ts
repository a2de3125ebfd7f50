/**
 * `tenantproof diff`: two schema versions (here folders of migrations, as a pull request has them:
 * the base branch's and the head's), what changed in isolation between them. A widened policy and
 * a dropped FORCE are worse (exit 1); the same change undone shows as fixed (exit 0); a version
 * compared with itself shows nothing.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { randomBytes } from 'node:crypto';
import { scratchDatabase, testServer } from '../../fixtures/index.ts';
import { readIsolationSnapshot, withClient, type IsolationDiff } from '../../src/index.ts';
import { baseSchema, corpus } from '../isolation/corpus.ts';
import { errorLines, runCli } from './cli-helpers.ts';

const schema = `create role app_user nologin;\n${baseSchema('text').replaceAll('{app}', 'app_user')}`;
/**
 * The pull request: one table's FORCE dropped, one policy OR-ed with a support exception, one
 * permissive policy added, one policy given to PUBLIC too, one table granted to PUBLIC.
 */
const widening = `
alter table projects no force row level security;
alter policy tenant_isolation on comments using (tenant_id = current_setting('app.current_tenant', true) or author_email like '%@support.example');
create policy done_tasks_readable on tasks for select to app_user using (done);
alter policy via_comment on attachments to app_user, public;
grant select on attachments to public;
`;

function migrations(files: Readonly<Record<string, string>>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tp-diff-src-'));
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

type DiffJson = IsolationDiff & { exitCode: number; seed: number };

async function diff(base: string, head: string, ...extra: string[]) {
  const out = mkdtempSync(join(tmpdir(), 'tp-diff-out-'));
  const run = await runCli(['diff', '--base', base, '--head', head, '--model', 'rls', '--runs', '3', '--seed', '11', '--format', 'json', '--report-dir', out, ...extra]);
  const json = run.code === 0 || run.code === 1 ? (JSON.parse(run.stdout) as DiffJson) : undefined;
  return { run, json, markdown: () => readFileSync(join(out, 'diff.md'), 'utf8') };
}

describe('tenantproof diff', () => {
  const correct = migrations({ '1_schema.sql': schema });
  const widened = migrations({ '1_schema.sql': schema, '2_support_access.sql': widening });

  test('a widened policy, an added permissive policy and a dropped FORCE are worse: exit 1, each named', { timeout: 180_000 }, async () => {
    const { run, json, markdown } = await diff(correct, widened);
    expect(run.code, run.stderr).toBe(1);
    expect(json!.worse).toBe(true);
    const widenedKinds = json!.widened.map((c) => `${c.kind} ${c.object}`);
    expect(widenedKinds).toContain('force-dropped public.projects');
    expect(widenedKinds).toContain('policy-changed public.comments policy tenant_isolation');
    expect(widenedKinds).toContain('policy-added public.tasks policy done_tasks_readable');
    expect(widenedKinds).toContain('policy-roles-added public.attachments policy via_comment');
    expect(widenedKinds).toContain('grant-added PUBLIC SELECT on public.attachments');
    // The probes saw it too: new findings, keyed by fingerprint, none of them "fixed".
    expect(json!.newFindings.length).toBeGreaterThan(0);
    expect(json!.newFindings.every((f) => /^[0-9a-f]{16}$/.test(f.fingerprint))).toBe(true);
    expect(json!.newFindings.map((f) => f.object).join(' ')).toMatch(/public\.(comments|tasks|projects)/);
    expect(json!.fixedFindings).toEqual([]);
    expect(markdown()).toMatch(/^## tenantproof diff: isolation got WORSE/);
    expect(markdown()).toMatch(/no longer forces row level security/);
  });

  test('the change undone shows as fixed and narrowed, nothing worse: exit 0', { timeout: 180_000 }, async () => {
    const { run, json, markdown } = await diff(widened, correct);
    expect(run.code, run.stderr).toBe(0);
    expect(json!.worse).toBe(false);
    expect(json!.widened).toEqual([]);
    expect(json!.newFindings.filter((f) => f.blocking)).toEqual([]);
    expect(json!.fixedFindings.length).toBeGreaterThan(0);
    expect(json!.narrowed.map((c) => `${c.kind} ${c.object}`)).toEqual(
      expect.arrayContaining(['force-added public.projects', 'policy-roles-removed public.attachments policy via_comment', 'grant-revoked PUBLIC SELECT on public.attachments']),
    );
    expect(markdown()).toMatch(/isolation did not get worse/);
    expect(markdown()).toMatch(/\*\*Fixed\*\*/);
  });

  test('a version compared with itself: nothing new, nothing fixed, nothing widened', { timeout: 180_000 }, async () => {
    const { run, json } = await diff(correct, correct, '--seed', '12');
    expect(run.code, run.stderr).toBe(0);
    expect([json!.newFindings, json!.fixedFindings, json!.widened, json!.narrowed, json!.newlyNotProven]).toEqual([[], [], [], [], []]);
  });

  test('a policy rewritten with no sign either way is listed to review, not counted as worse (no false alarm)', { timeout: 180_000 }, async () => {
    const rewritten = migrations({
      '1_schema.sql': schema,
      '2_named_projects.sql': "alter policy tenant_isolation on projects using (tenant_id = current_setting('app.current_tenant', true) and name <> '');",
    });
    const { run, json } = await diff(correct, rewritten);
    expect(run.code, run.stderr).toBe(0);
    expect(json!.widened).toEqual([]);
    expect(json!.changed.map((c) => c.object)).toEqual(['public.projects policy tenant_isolation']);
    expect(json!.changed[0]!.detail).toMatch(/the probes found no leak through it: review/);
  });

  test('a table the head can no longer prove is worse too: a table not probed hides what it would show', { timeout: 180_000 }, async () => {
    const unfillable = corpus.find((c) => c.skipped === 'public.codes')!.sql.replaceAll('{app}', 'app_user').replaceAll('{id}', 'text');
    const head = migrations({ '1_schema.sql': schema, '2_codes.sql': unfillable });
    const { run, json } = await diff(correct, head);
    expect(run.code, run.stderr).toBe(1);
    expect(json!.newlyNotProven.map((n) => n.object)).toContain('public.codes');
    expect(json!.widened).toEqual([]);
  });

  test('two databases by URL: the same change is worse, and neither database is changed by the diff', { timeout: 180_000 }, async () => {
    const role = `tp_diff_app_${randomBytes(3).toString('hex')}`;
    const { adminUrl } = testServer();
    await withClient(adminUrl, (c) => c.query(`create role ${role} nologin`));
    try {
      await using before = await scratchDatabase('diffbase');
      await using after = await scratchDatabase('diffhead');
      const sql = baseSchema('text').replaceAll('{app}', role);
      await withClient(before.url, (c) => c.query(sql));
      await withClient(after.url, (c) => c.query(`${sql}\n${widening.replaceAll('app_user', role)}`));
      const snapshot = (url: string) => withClient(url, (c) => readIsolationSnapshot(c));
      const untouched = [await snapshot(before.url), await snapshot(after.url)];
      const { run, json } = await diff(before.url, after.url, '--app-role', role);
      expect(run.code, run.stderr).toBe(1);
      expect(json!.widened.map((c) => c.kind).sort()).toEqual(['force-dropped', 'grant-added', 'policy-added', 'policy-changed', 'policy-roles-added']);
      expect([await snapshot(before.url), await snapshot(after.url)]).toEqual(untouched);
    } finally {
      // After both databases are dropped (their policies name the role).
      await withClient(adminUrl, (c) => c.query(`drop role ${role}`));
    }
  });

  test('a side that is neither a URL nor a folder is one line, exit 2', async () => {
    const { run } = await diff('/nonexistent/base', correct);
    expect(run.code).toBe(2);
    expect(errorLines(run)).toEqual(['tenantproof: /nonexistent/base is neither a postgres:// URL nor a folder of migrations']);
  });
});
