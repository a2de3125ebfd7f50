/**
 * Reports: turn findings into the files a reviewer and a CI system read. `tenantproof verify`
 * calls writeReports(--report-dir, …) once per run; exitCodeFor maps --fail-on to the exit code.
 *
 * Files: findings.json (stable schema, docs/findings-schema.md), junit.xml, tenantproof.sarif
 * (SARIF 2.1.0), summary.md, allure-results/ (Allure result JSON + evidence attachments).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAllureResults } from './allure.ts';
import { renderFindingsJson } from './findings-json.ts';
import { renderJunit } from './junit.ts';
import type { ReportInput } from './model.ts';
import { renderSarif } from './sarif.ts';
import { renderSummary } from './summary.ts';

export { exitCodeFor } from '../src/findings/verdict.ts';
export { checksOf, fingerprint, verdictOf, type ReportInput } from './model.ts';
export { renderFindingsJson, findingsSchemaVersion } from './findings-json.ts';
export { renderJunit } from './junit.ts';
export { renderSarif, sarifSchemaUri } from './sarif.ts';
export { renderSummary } from './summary.ts';
export { writeAllureResults } from './allure.ts';

export type ReportFormat = 'json' | 'junit' | 'sarif' | 'summary' | 'allure';
export const reportFormats: readonly ReportFormat[] = ['json', 'junit', 'sarif', 'summary', 'allure'];

export const reportFiles = {
  json: 'findings.json',
  junit: 'junit.xml',
  sarif: 'tenantproof.sarif',
  summary: 'summary.md',
  allure: 'allure-results',
} as const satisfies Record<ReportFormat, string>;

/** Writes the chosen formats (default: all) into `dir`; returns the paths written. */
export async function writeReports(dir: string, input: ReportInput, formats: readonly ReportFormat[] = reportFormats): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  const write = async (format: Exclude<ReportFormat, 'allure'>, text: string) => {
    const path = join(dir, reportFiles[format]);
    await writeFile(path, text);
    written.push(path);
  };
  if (formats.includes('json')) await write('json', renderFindingsJson(input));
  if (formats.includes('junit')) await write('junit', renderJunit(input));
  if (formats.includes('sarif')) await write('sarif', renderSarif(input));
  if (formats.includes('summary')) await write('summary', renderSummary(input));
  if (formats.includes('allure')) {
    const allureDir = join(dir, reportFiles.allure);
    await writeAllureResults(allureDir, input);
    written.push(allureDir);
  }
  return written;
}
