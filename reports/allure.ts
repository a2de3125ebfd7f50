/**
 * Allure results: one result per check (passed, or failed with each finding attached as JSON
 * evidence), written as `<uuid>-result.json` + `<uuid>-attachment.json` files that `allure
 * generate` reads. testCaseId derives from the check id; historyId from the check id and the
 * target, so history lines up across runs of one target, and results of different targets put in
 * one report are never merged as retries of each other (a pass hidden under another's failure).
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Severity } from '../src/findings/types.ts';
import { checksOf, findingMessage, fingerprint, isoTime, safeTarget, sortFindings, toolName, verdictOf, type ReportInput } from './model.ts';

const allureSeverity: Record<Severity, string> = { critical: 'blocker', high: 'critical', medium: 'normal', low: 'minor', info: 'trivial' };
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

export interface AllureResult {
  uuid: string;
  historyId: string;
  testCaseId: string;
  name: string;
  fullName: string;
  status: 'passed' | 'failed';
  statusDetails: { message?: string; trace?: string };
  stage: 'finished';
  start: number;
  stop: number;
  description: string;
  labels: { name: string; value: string }[];
  links: { name: string; url: string; type: string }[];
  parameters: { name: string; value: string }[];
  attachments: { name: string; source: string; type: string }[];
  steps: never[];
}

/** Writes the results into `dir` (created if needed) and returns the file names. */
export async function writeAllureResults(dir: string, input: ReportInput): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const start = new Date(isoTime(input.startedAt)).getTime();
  const stop = start + Math.round(input.durationMs);
  const findings = sortFindings(input.findings);
  const files: string[] = [];
  for (const check of checksOf(input)) {
    const own = findings.filter((f) => f.checkId === check.id);
    const uuid = randomUUID();
    const fullName = `${toolName}.${check.isRule ? 'rules' : 'probes'}.${check.id}`;
    const attachments: AllureResult['attachments'] = [];
    for (const f of own) {
      const source = `${randomUUID()}-attachment.json`;
      await writeFile(join(dir, source), `${JSON.stringify({ id: fingerprint(f), ...f }, null, 2)}\n`);
      attachments.push({ name: `${f.severity}: ${f.object}`, source, type: 'application/json' });
      files.push(source);
    }
    const result: AllureResult = {
      uuid,
      historyId: md5(`${fullName}|${safeTarget(input.target)}`),
      testCaseId: md5(fullName),
      name: `${check.id}: ${check.title}`,
      fullName,
      status: own.length > 0 ? 'failed' : 'passed',
      statusDetails:
        own.length > 0
          ? { message: `${own.length} finding${own.length === 1 ? '' : 's'}: ${own.map(findingMessage).join('; ')}`, trace: own.map((f) => `${f.object}: ${f.remediation}`).join('\n') }
          : {},
      stage: 'finished',
      start,
      stop,
      description: `${check.description}\n\nFix: ${check.remediation}`,
      labels: [
        { name: 'severity', value: allureSeverity[check.severity] },
        { name: 'epic', value: toolName },
        { name: 'feature', value: check.isRule ? 'Static rules' : 'Probes' },
        { name: 'story', value: check.id },
        { name: 'parentSuite', value: toolName },
        { name: 'suite', value: check.isRule ? 'catalog rules' : 'probes' },
        { name: 'tag', value: check.leakClass },
        ...(check.cwe ? [{ name: 'tag', value: check.cwe }] : []),
        ...(input.model ? [{ name: 'tag', value: `model:${input.model}` }] : []),
      ],
      links: check.cwe ? [{ name: check.cwe, url: `https://cwe.mitre.org/data/definitions/${check.cwe.replace(/^CWE-/, '')}.html`, type: 'issue' }] : [],
      parameters: [{ name: 'target', value: safeTarget(input.target) }, ...(input.model ? [{ name: 'model', value: input.model }] : []), ...(input.seed !== undefined ? [{ name: 'seed', value: String(input.seed) }] : [])],
      attachments,
      steps: [],
    };
    const name = `${uuid}-result.json`;
    await writeFile(join(dir, name), `${JSON.stringify(result, null, 2)}\n`);
    files.push(name);
  }
  files.push(await writeProofResult(dir, input, start, stop));
  return files;
}

/** One result for the proof itself: failed when something was not proven (the verdict is then incomplete). */
async function writeProofResult(dir: string, input: ReportInput, start: number, stop: number): Promise<string> {
  const { notProven } = verdictOf(input);
  const fullName = `${toolName}.proof.coverage`;
  const uuid = randomUUID();
  const result: AllureResult = {
    uuid,
    historyId: md5(`${fullName}|${input.model ?? ''}|${safeTarget(input.target)}`),
    testCaseId: md5(fullName),
    name: "proof: every tenant-scoped object was probed with other tenants' rows present",
    fullName,
    status: notProven.length > 0 ? 'failed' : 'passed',
    statusDetails: notProven.length > 0 ? { message: `incomplete: ${notProven.length} thing(s) not proven`, trace: notProven.map((n) => `${n.object}: ${n.reason}`).join('\n') } : {},
    stage: 'finished',
    start,
    stop,
    description: 'A run that could not probe a table, or whose worlds held no other tenant\'s rows, proves nothing about it: the verdict is then incomplete (exit 3), never verified.',
    labels: [
      { name: 'severity', value: 'critical' },
      { name: 'epic', value: toolName },
      { name: 'feature', value: 'Proof' },
      { name: 'parentSuite', value: toolName },
      { name: 'suite', value: 'proof' },
      ...(input.model ? [{ name: 'tag', value: `model:${input.model}` }] : []),
    ],
    links: [],
    parameters: [{ name: 'target', value: safeTarget(input.target) }, ...(input.model ? [{ name: 'model', value: input.model }] : []), ...(input.seed !== undefined ? [{ name: 'seed', value: String(input.seed) }] : [])],
    attachments: [],
    steps: [],
  };
  const name = `${uuid}-result.json`;
  await writeFile(join(dir, name), `${JSON.stringify(result, null, 2)}\n`);
  return name;
}
