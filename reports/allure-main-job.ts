/**
 * The main job's Allure results (bin/main-job.ts): every target's results in one report, each
 * under its own history, red cases labelled as such, and one result per k6 case with its summary.
 */
import { createHash, randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the main job knows of one case when it collects results. */
export interface JobOutcome {
  readonly name: string;
  readonly kind: 'verify' | 'load';
  /** verify: the exit code the case must have (1 for a red case); load: always 0 (run.ts inverts red cases). */
  readonly expected: number;
  readonly seconds: number;
  readonly reportDir?: string;
  readonly held: boolean;
  readonly why?: string;
  readonly notRun?: string;
  /** Load: the k6 summary folders the case wrote (summary.json, victims.json). */
  readonly summaryDirs?: readonly string[];
}

/** A load case is a red case when it runs a named vulnerability or a protection switched off. */
export const isRedLoadCase = (name: string) => /red case/.test(name);

/**
 * This run's results only (the folder lives under reports/verify, emptied at the start), each
 * target's under its own name and history: every target runs the same checks, and results with
 * one historyId would be merged as retries (a shipped build's pass hidden under a red case's
 * failure). Red cases, whose findings are the expected outcome, say so in their suite's name.
 */
export function collectAllureResults(allureResults: string, outcomes: readonly JobOutcome[]): void {
  mkdirSync(allureResults, { recursive: true });
  for (const outcome of outcomes) {
    const dir = outcome.reportDir && join(outcome.reportDir, 'allure-results');
    if (!dir || !existsSync(dir)) continue;
    const suite = outcome.expected === 0 ? `${outcome.name} (must verify)` : `${outcome.name} (red case: findings expected)`;
    for (const file of readdirSync(dir)) {
      if (!file.endsWith('-result.json')) {
        cpSync(join(dir, file), join(allureResults, file));
        continue;
      }
      const result = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
        historyId?: string; testCaseId?: string; name?: string; fullName?: string; status?: string; statusDetails?: { message?: string };
        labels?: { name: string; value: string }[]; parameters?: { name: string; value: string }[];
      };
      result.historyId = `${result.testCaseId ?? result.historyId}:${outcome.name}`;
      result.labels = [...(result.labels ?? []).filter((l) => l.name !== 'parentSuite'), { name: 'parentSuite', value: suite }];
      if (outcome.expected !== 0) {
        result.labels.push({ name: 'tag', value: 'expected red case' });
        // A red case that was caught as it must be: its findings are the expected outcome, shown
        // as passed catches, not as failures. One that was not caught stays failed.
        // (The proof's own result is not a catch: an incomplete proof stays failed.)
        if (outcome.held && result.status === 'failed' && !result.fullName?.endsWith('.proof.coverage')) {
          result.status = 'passed';
          result.name = `caught as expected — ${result.name ?? ''}`;
          result.statusDetails = { ...result.statusDetails, message: `expected finding of the red case ${outcome.name}: ${result.statusDetails?.message ?? ''}` };
        }
      }
      result.parameters = [{ name: 'target', value: outcome.name }, ...(result.parameters ?? []).filter((p) => p.name !== 'target')];
      writeFileSync(join(allureResults, file), JSON.stringify(result));
    }
  }
  for (const outcome of outcomes.filter((o) => o.kind === 'load')) writeLoadResult(allureResults, outcome);
}

/** One Allure result per k6 case, its k6 summary (and victim figures) attached; red cases labelled. */
function writeLoadResult(allureResults: string, outcome: JobOutcome): void {
  const red = isRedLoadCase(outcome.name);
  const uuid = randomUUID();
  const fullName = `tenantproof.load.${outcome.name}`;
  const attachments: { name: string; source: string; type: string }[] = [];
  for (const dir of outcome.summaryDirs ?? []) {
    for (const file of ['summary.json', 'victims.json', 'findings.json']) {
      if (!existsSync(join(dir, file))) continue;
      const source = `${randomUUID()}-attachment.json`;
      cpSync(join(dir, file), join(allureResults, source));
      attachments.push({ name: `k6 ${file} (${dir.replace(/^reports\/load\//, '')})`, source, type: 'application/json' });
    }
  }
  const status = outcome.notRun ? 'skipped' : outcome.held ? 'passed' : 'failed';
  const now = Date.now();
  // Each crossed threshold is a Finding (load/verdict.ts, findings.json beside the k6 summary): one step each.
  const steps = (outcome.summaryDirs ?? []).flatMap((dir) => {
    const file = join(dir, 'findings.json');
    if (!existsSync(file)) return [];
    const { findings } = JSON.parse(readFileSync(file, 'utf8')) as { findings: { checkId: string; severity: string; title: string }[] };
    return findings.map((f) => ({
      name: `[${f.severity}] ${f.checkId}: ${f.title}`,
      status: red ? 'passed' : 'failed',
      stage: 'finished',
      statusDetails: red ? { message: 'expected: this red case must cross a threshold' } : {},
      steps: [],
      attachments: [],
      parameters: [],
      start: now,
      stop: now,
    }));
  });
  const result = {
    uuid,
    historyId: createHash('md5').update(fullName).digest('hex'),
    testCaseId: createHash('md5').update(fullName).digest('hex'),
    name: red && outcome.held ? `caught as expected — ${outcome.name}` : outcome.name,
    fullName,
    status,
    statusDetails: outcome.notRun ? { message: `not run: ${outcome.notRun}` } : outcome.held ? {} : { message: outcome.why ?? 'did not hold' },
    stage: 'finished',
    start: now - Math.round(outcome.seconds * 1000),
    stop: now,
    description: red
      ? 'A red case: the app built with a named vulnerability (or a protection switched off) must be caught by its own k6 threshold; passed means it was caught.'
      : 'The shipped build under k6 load: every threshold must hold.',
    labels: [
      { name: 'epic', value: 'tenantproof' },
      { name: 'feature', value: 'Load (k6)' },
      { name: 'parentSuite', value: red ? 'load red cases (caught expected)' : 'load (must hold)' },
      { name: 'suite', value: /isolation under load/.test(outcome.name) ? 'isolation under load' : 'noisy neighbour' },
      ...(red ? [{ name: 'tag', value: 'expected red case' }] : []),
    ],
    links: [],
    parameters: [{ name: 'target', value: outcome.name }],
    attachments,
    steps,
  };
  writeFileSync(join(allureResults, `${uuid}-result.json`), JSON.stringify(result));
}

