/**
 * Builds the Allure report a reviewer opens: one HTML file (allurerc.mjs: `singleFile: true`, so
 * it opens from disk — without it a file:// report spins forever), rebuilt from scratch on every
 * run (the old folder is removed first, so the printed path is this run's report), and without
 * the Google Tag Manager script Allure 3.18's awesome plugin always embeds (its generator hard-codes
 * `analyticsEnable: true`): a report of tenant data must make no third-party request.
 *
 *   tsx reports/allure-html.ts [results-dir]     (default reports/allure-results; npm run report)
 *
 * Prints the report's path. Exit 2 with one line when it cannot build one.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const allureReportDir = 'reports/allure-report';
export const allureReportFile = join(allureReportDir, 'index.html');

/** The analytics tag and its inline config, exactly as the awesome plugin's template writes them. */
const analytics = /\s*<script async src="https:\/\/www\.googletagmanager\.com\/gtag\/js\?id=[^"]*"><\/script>\s*<script>\s*window\.dataLayer = [\s\S]*?<\/script>/g;

/** Removes the analytics tag; throws when a trace of it is left (the template changed). */
export function stripAnalytics(html: string): string {
  const stripped = html.replace(analytics, '');
  if (/googletagmanager|gtag\(/.test(stripped)) {
    throw new Error('the Allure report still loads Google Tag Manager after stripping it: check reports/allure-html.ts against this allure version');
  }
  return stripped;
}

/** Builds the report of `resultsDir` into `reportDir` (emptied first); returns its one HTML file. */
export function buildAllureReport(resultsDir = 'reports/allure-results', reportDir = allureReportDir): string {
  if (!existsSync(resultsDir)) throw new Error(`no Allure results at ${resultsDir}: run npm test or npm run verify first`);
  rmSync(reportDir, { recursive: true, force: true });
  const allure = spawnSync(process.execPath, ['node_modules/allure/cli.js', 'generate', resultsDir, '--output', reportDir], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  const file = join(reportDir, 'index.html');
  if (allure.status !== 0 || !existsSync(file)) {
    const why = allure.stderr?.trim().split('\n').at(-1) ?? allure.error?.message;
    throw new Error(`allure generate failed (exit ${allure.status})${why ? `: ${why}` : ''}`);
  }
  writeFileSync(file, stripAnalytics(readFileSync(file, 'utf8')));
  return file;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    console.log(`Allure report: ${buildAllureReport(process.argv[2])}`);
  } catch (error) {
    console.error(`report: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    process.exit(2);
  }
}
