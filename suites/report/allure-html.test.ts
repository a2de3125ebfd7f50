/**
 * The Allure report a reviewer opens: built from a `tenantproof verify` run on a seeded leak, it
 * is one HTML file that opens from disk (file://) in headless Chromium, shows the leak, and makes
 * no request beyond that file — no analytics. A screenshot is kept in reports/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { findTool, needTool, scratchDatabase } from '../../fixtures/index.ts';
import { withClient, type ScratchDatabase } from '../../src/index.ts';
import { buildAllureReport, stripAnalytics } from '../../reports/allure-html.ts';

const browser = findTool('chromium');
const screenshot = 'reports/allure-report.png';

/** Notes of each tenant, readable by the app role, and no Row-Level Security at all. */
const leakySchema = `
  do $$ begin
    if not exists (select 1 from pg_roles where rolname = 'tp_report_app') then create role tp_report_app nologin; end if;
  end $$;
  create table tenants (id text primary key);
  create table notes (id bigint generated always as identity primary key, tenant_id text not null references tenants (id), body text not null);
  grant select, insert, update, delete on tenants, notes to tp_report_app;
`;

describe('the Allure report opens from disk and shows a seeded leak', () => {
  let db: ScratchDatabase;
  let out: string;
  let verifyExit: number | null;
  let reportFile: string;

  beforeAll(async () => {
    db = await scratchDatabase('report');
    await withClient(db.url, (c) => c.query(leakySchema));
    out = mkdtempSync(join(tmpdir(), 'tenantproof-report-'));
    const verify = spawnSync(
      process.execPath,
      ['bin/tenantproof.js', 'verify', '--database-url', db.url, '--model', 'rls', '--app-role', 'tp_report_app', '--runs', '1', '--seed', '11', '--report-dir', out],
      { encoding: 'utf8' },
    );
    verifyExit = verify.status;
    // A report left from an earlier run: the build must replace it, not add to it.
    mkdirSync(join(out, 'allure-report', 'old-run'), { recursive: true });
    writeFileSync(join(out, 'allure-report', 'stale.html'), '<p>an earlier run</p>');
    reportFile = buildAllureReport(join(out, 'allure-results'), join(out, 'allure-report'));
  }, 180_000);

  afterAll(async () => {
    await db?.drop();
    if (out) rmSync(out, { recursive: true, force: true });
  });

  test('the seeded leak is found (exit 1); the report, rebuilt from scratch, is one HTML file without analytics', () => {
    expect(reportFile).toBe(join(out, 'allure-report', 'index.html'));
    expect(verifyExit).toBe(1);
    expect(readdirSync(join(out, 'allure-report')).sort()).toEqual(['index.html', 'summary.json', 'test-results.json']);
    const html = readFileSync(reportFile, 'utf8');
    expect(html).not.toMatch(/googletagmanager|gtag\(/);
    // The analytics block as the awesome plugin writes it is what stripAnalytics removes.
    const tagged = '<body>\n    <script async src="https://www.googletagmanager.com/gtag/js?id=G-X"></script>\n    <script>\n        window.dataLayer = window.dataLayer || [];\n        gtag(\'js\', new Date());\n    </script>\n</body>';
    expect(stripAnalytics(tagged)).toBe('<body>\n</body>');
  });

  test('opened from file:// in headless Chromium it renders the leak and requests nothing else', async (context) => {
    await needTool(browser, context);
    const instance = await chromium.launch({
      executablePath: browser.binary!,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      const page = await instance.newPage({ viewport: { width: 1400, height: 900 } });
      const requests: string[] = [];
      page.on('request', (request) => requests.push(request.url()));
      await page.goto(`file://${resolve(reportFile)}`);
      // The reviewer's path: the root cause (RLS off on notes) is one finding, under its rule; open it.
      await page.getByPlaceholder('Search tests').fill('rls-disabled');
      await page.getByText(/^rls-disabled: /).first().click({ timeout: 30_000 });
      // Its evidence: the cause, how many probe findings it explains, and which tenant read which other tenant's rows.
      const evidence = page.getByText(/Row-level security is off on public\.notes: \d+ probe findings? on public\.notes: public\.notes \(tenant \S+ → \S+\)/).first();
      await evidence.waitFor({ timeout: 30_000 });
      expect(await evidence.isVisible()).toBe(true);
      await page.screenshot({ path: screenshot, fullPage: true });
      expect(existsSync(screenshot)).toBe(true);
      const elsewhere = requests.filter((url) => !/^(file|data|blob):/.test(url));
      expect(elsewhere).toEqual([]);
    } finally {
      await instance.close();
    }
  }, 120_000);
});
