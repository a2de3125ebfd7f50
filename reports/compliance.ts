/**
 * The compliance summary a reviewer signs (compliance-summary.md + compliance-summary.json):
 * which deployment was verified (target, PostgreSQL version, commit of the app under test), what
 * was probed (tables, tenants, checks, seed and runs), what was found (counts per leak class and
 * severity, what was not proven), the k6 figures when load scenarios ran, and the control
 * objectives each check evidences (OWASP ASVS, SOC 2, ISO/IEC 27001), read from
 * reports/controls.json — the one place that mapping is kept.
 *
 * `tenantproof verify` writes one per report directory (one target); the main job writes one over
 * every target it ran, where red cases (variants built with a named vulnerability, whose findings
 * are the expected outcome) evidence that the checks catch what they claim to — they never count
 * against a control.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { severities, type Finding, type LeakClass, type Severity } from '../src/findings/types.ts';

export const leakClasses: readonly LeakClass[] = ['read', 'write', 'aggregate', 'existence', 'context', 'privilege', 'availability', 'configuration'];

export interface ControlDefinition {
  readonly framework: string;
  readonly control: string;
  readonly title: string;
}

export interface ControlsMapping {
  readonly version: 1;
  readonly controls: Readonly<Record<string, ControlDefinition>>;
  /** check id → control ids it evidences. */
  readonly checks: Readonly<Record<string, readonly string[]>>;
}

/** reports/controls.json: beside this file in a checkout, two folders up from dist/reports once compiled. */
export function readControls(): ControlsMapping {
  for (const candidate of ['./controls.json', '../../reports/controls.json']) {
    const url = new URL(candidate, import.meta.url);
    if (existsSync(url)) return JSON.parse(readFileSync(url, 'utf8')) as ControlsMapping;
  }
  throw new Error('reports/controls.json is missing from this installation');
}

/** The commit of the app under test: given, else from the CI's environment, else `git rev-parse HEAD` in `dir`. */
export function commitOf(dir: string, given?: string | null): string | null {
  if (given) return given;
  for (const name of ['TENANTPROOF_COMMIT', 'GITHUB_SHA', 'CI_COMMIT_SHA', 'BUILD_SOURCEVERSION', 'GIT_COMMIT']) {
    const value = process.env[name]?.trim();
    if (value) return value;
  }
  try {
    const sha = execFileSync('git', ['-C', dir, 'rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${sha} (with uncommitted changes)` : sha;
  } catch {
    return null;
  }
}

export type Expectation = 'must verify' | 'red case: findings expected';

/** One verified target. */
export interface ComplianceTarget {
  readonly name: string;
  /** The target as it may be shown (URL without password, or the migrations folder). */
  readonly target: string;
  readonly model: string;
  readonly postgresVersion: string | null;
  readonly commit: string | null;
  readonly verdict: string;
  readonly exitCode: number;
  readonly seed: number;
  readonly runs: number;
  /** Worlds generated (shrinking included), and those in which every acting tenant had other tenants' rows to leak. */
  readonly runsExecuted: number;
  readonly runsWithForeignRows: number;
  readonly probes: number;
  readonly tables: readonly string[];
  /** How many tenants acted, as a reviewer can check it. */
  readonly tenants: string;
  readonly checksRun: readonly string[];
  /** Counted findings (not accepted by a baseline); `blocking`: a leak, or at or above --fail-on. */
  readonly findings: readonly (Pick<Finding, 'checkId' | 'severity' | 'leakClass' | 'leak' | 'object' | 'title'> & { readonly blocking: boolean })[];
  readonly failOn: Severity;
  readonly acceptedByBaseline: number;
  readonly notProven: readonly { readonly object: string; readonly reason: string }[];
  readonly expectation: Expectation;
  /** Main job: whether the outcome was the expected one (a red case caught, a shipped build verified). */
  readonly held?: boolean;
}

/** One k6 case of the main job. */
export interface ComplianceLoadCase {
  readonly name: string;
  readonly checkId: 'load-noisy-neighbour' | 'load-isolation-under-load';
  readonly expectation: Expectation;
  readonly outcome: 'held' | 'caught' | 'failed' | 'not run';
  readonly reason?: string;
  /** Figures from its k6 summary (victim p95 in ms, error rates, …). */
  readonly figures: Readonly<Record<string, number | null>>;
}

export type ControlStatus = 'evidenced' | 'not met' | 'not evidenced';

export interface ControlEvidence extends ControlDefinition {
  readonly id: string;
  readonly status: ControlStatus;
  /** Mapped checks that ran on a target that must verify. */
  readonly checks: readonly string[];
  /** Their findings there that fail the gate (why the control is not met), and those below --fail-on. */
  readonly findings: number;
  readonly findingsBelowFailOn: number;
  /** Red cases in which a mapped check caught the vulnerability (a finding that fails the gate). */
  readonly redCasesCaught: number;
}

export interface ComplianceSummary {
  readonly version: 1;
  readonly title: string;
  readonly generatedAt: string;
  readonly tenantproofVersion: string;
  readonly targets: readonly ComplianceTarget[];
  readonly load: readonly ComplianceLoadCase[];
  readonly counts: {
    readonly bySeverity: Readonly<Record<Severity, number>>;
    readonly byLeakClass: Readonly<Record<LeakClass, Readonly<Record<Severity, number>>>>;
  };
  readonly controls: readonly ControlEvidence[];
}

const zeroSeverities = (): Record<Severity, number> => Object.fromEntries(severities.map((s) => [s, 0])) as Record<Severity, number>;

/** Counts (over targets that must verify), and the controls each check evidences. */
export function buildComplianceSummary(input: {
  readonly title: string;
  readonly tenantproofVersion: string;
  readonly generatedAt?: Date;
  readonly targets: readonly ComplianceTarget[];
  readonly load?: readonly ComplianceLoadCase[];
  readonly mapping?: ControlsMapping;
}): ComplianceSummary {
  const mapping = input.mapping ?? readControls();
  const load = input.load ?? [];
  const judged = input.targets.filter((t) => t.expectation === 'must verify');
  const bySeverity = zeroSeverities();
  const byLeakClass = Object.fromEntries(leakClasses.map((c) => [c, zeroSeverities()])) as Record<LeakClass, Record<Severity, number>>;
  for (const f of judged.flatMap((t) => t.findings)) {
    bySeverity[f.severity] += 1;
    byLeakClass[f.leakClass][f.severity] += 1;
  }
  const controls: ControlEvidence[] = Object.entries(mapping.controls).map(([id, definition]) => {
    const mapped = new Set(Object.entries(mapping.checks).filter(([, ids]) => ids.includes(id)).map(([check]) => check));
    const ran = new Set<string>();
    let findings = 0;
    let findingsBelowFailOn = 0;
    let redCasesCaught = 0;
    for (const t of input.targets) {
      const hits = t.findings.filter((f) => mapped.has(f.checkId));
      if (t.expectation === 'must verify') {
        for (const c of t.checksRun) if (mapped.has(c)) ran.add(c);
        findings += hits.filter((f) => f.blocking).length;
        findingsBelowFailOn += hits.filter((f) => !f.blocking).length;
      } else if (hits.some((f) => f.blocking) && t.held !== false) {
        redCasesCaught += 1;
      }
    }
    for (const l of load) {
      if (!mapped.has(l.checkId) || l.outcome === 'not run') continue;
      if (l.expectation === 'must verify') {
        ran.add(l.checkId);
        if (l.outcome === 'failed') findings += 1;
      } else if (l.outcome === 'caught') {
        redCasesCaught += 1;
      }
    }
    const status: ControlStatus = findings > 0 ? 'not met' : ran.size > 0 ? 'evidenced' : 'not evidenced';
    return { id, ...definition, status, checks: [...ran].sort(), findings, findingsBelowFailOn, redCasesCaught };
  });
  return {
    version: 1,
    title: input.title,
    generatedAt: (input.generatedAt ?? new Date()).toISOString(),
    tenantproofVersion: input.tenantproofVersion,
    targets: input.targets,
    load,
    counts: { bySeverity, byLeakClass },
    controls,
  };
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();
const fold = (items: readonly string[], max = 6) => (items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')}, … and ${items.length - max} more`);

export function renderComplianceMarkdown(s: ComplianceSummary): string {
  const judged = s.targets.filter((t) => t.expectation === 'must verify');
  const red = s.targets.filter((t) => t.expectation !== 'must verify');
  const lines: string[] = [`# ${s.title}`, '', `Generated ${s.generatedAt} by tenantproof ${s.tenantproofVersion}.`, ''];
  const commits = [...new Set(s.targets.map((t) => t.commit ?? 'unknown'))];
  const versions = [...new Set(s.targets.map((t) => t.postgresVersion ?? 'unknown'))];
  lines.push(`Commit of the app under test: ${commits.map((c) => `\`${c}\``).join(', ')}. PostgreSQL ${versions.join(', ')}.`, '');

  lines.push('## Targets', '', '| target | model | expectation | verdict | tables | tenants | checks | worlds (with other tenants\' rows) | probes | findings |', '| --- | --- | --- | --- | ---: | --- | ---: | --- | ---: | ---: |');
  for (const t of s.targets) {
    const verdict = t.held === undefined ? `${t.verdict} (exit ${t.exitCode})` : `${t.verdict} (exit ${t.exitCode}) — ${t.held ? 'as expected' : '**NOT as expected**'}`;
    lines.push(`| ${cell(t.name)} | ${t.model} | ${t.expectation} | ${verdict} | ${t.tables.length} | ${cell(t.tenants)} | ${t.checksRun.length} | ${t.runsExecuted} (${t.runsWithForeignRows}) | ${t.probes} | ${t.findings.length}${t.acceptedByBaseline ? ` (+${t.acceptedByBaseline} accepted)` : ''} |`);
  }
  lines.push('');
  for (const t of s.targets) {
    lines.push(`- **${cell(t.name)}**${t.target === t.name ? '' : `: \`${cell(t.target)}\``}, seed ${t.seed}, ${t.runs} runs, --fail-on ${t.failOn}; tables: ${cell(fold(t.tables)) || 'none'}.${t.notProven.length ? ` Not proven: ${t.notProven.map((n) => `${cell(n.object)} (${cell(n.reason)})`).join('; ')}.` : ''}`);
  }

  lines.push('', `## Findings on targets that must verify (${judged.length})`, '');
  lines.push(`| leak class | ${severities.join(' | ')} |`, `| --- | ${severities.map(() => '---:').join(' | ')} |`);
  for (const c of leakClasses) lines.push(`| ${c} | ${severities.map((sv) => s.counts.byLeakClass[c][sv]).join(' | ')} |`);
  lines.push(`| **all** | ${severities.map((sv) => `**${s.counts.bySeverity[sv]}**`).join(' | ')} |`);
  const shown = judged.flatMap((t) => t.findings.map((f) => ({ t, f })));
  if (shown.length > 0) {
    lines.push('', '| target | severity | check | object | finding |', '| --- | --- | --- | --- | --- |');
    for (const { t, f } of shown.slice(0, 50)) lines.push(`| ${cell(t.name)} | ${f.severity}${f.blocking ? '' : ' (below --fail-on)'} | \`${f.checkId}\`${f.leak ? ' (leak)' : ''} | ${cell(f.object)} | ${cell(f.title)} |`);
    if (shown.length > 50) lines.push('', `…and ${shown.length - 50} more in compliance-summary.json.`);
  }
  if (red.length > 0) {
    lines.push('', `## Red cases (${red.length}): variants built with a named vulnerability, which must be caught`, '');
    for (const t of red) {
      const caught = [...new Set(t.findings.map((f) => f.checkId))];
      lines.push(`- ${cell(t.name)}: ${t.held === false ? '**NOT caught as expected**' : 'caught'} — ${t.findings.length} finding(s) (${cell(fold(caught))})`);
    }
  }
  if (s.load.length > 0) {
    lines.push('', '## Load (k6)', '', '| case | expectation | outcome | figures |', '| --- | --- | --- | --- |');
    for (const l of s.load) {
      const figures = Object.entries(l.figures).map(([k, v]) => `${k} ${v === null ? '—' : Number.isInteger(v) ? v : v.toFixed(2)}`).join(', ');
      lines.push(`| ${cell(l.name)} | ${l.expectation} | ${l.outcome}${l.reason ? `: ${cell(l.reason)}` : ''} | ${cell(figures) || '—'} |`);
    }
  }

  lines.push('', '## Control objectives', '', 'A control is *evidenced* when the checks mapped to it (reports/controls.json) ran on every target that must verify and found nothing; *not met* when one of them found there something that fails the gate (an observed leak, or a finding at or above --fail-on); *not evidenced* when none of them ran. Red cases show the checks catch what they claim to.', '');
  lines.push('| framework | control | objective | status | checks that ran | red cases caught |', '| --- | --- | --- | --- | --- | ---: |');
  for (const c of s.controls) {
    const below = c.findingsBelowFailOn > 0 ? `, ${c.findingsBelowFailOn} finding(s) below --fail-on` : '';
    const status = c.status === 'not met' ? `**NOT MET** (${c.findings} finding${c.findings === 1 ? '' : 's'}${below})` : `${c.status}${below}`;
    lines.push(`| ${c.framework} | ${c.control} | ${cell(c.title)} | ${status} | ${c.checks.length}${c.checks.length ? `: ${cell(fold(c.checks, 4))}` : ''} | ${c.redCasesCaught} |`);
  }
  lines.push('', '## Sign-off', '', 'Reviewed by: ____________________  Role: ____________________  Date: ____________', '', 'Signature: ____________________', '');
  return lines.join('\n');
}

/** Writes compliance-summary.md and compliance-summary.json into `dir`; returns their paths. */
export async function writeComplianceSummary(dir: string, summary: ComplianceSummary): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const md = join(dir, 'compliance-summary.md');
  const json = join(dir, 'compliance-summary.json');
  await writeFile(md, renderComplianceMarkdown(summary));
  await writeFile(json, `${JSON.stringify(summary, null, 2)}\n`);
  return [md, json];
}

/**
 * The figures of one k6 run, from the files load/run.ts writes into its summary folder:
 * victims.json (noisy neighbour: victim p95 per phase, ratios, the aggressor's throttling), else
 * k6's own summary.json (request p95, failure rate, requests, cross-tenant rows seen).
 */
export function k6Figures(summaryDir: string): Record<string, number | null> {
  const read = (name: string) => {
    const file = join(summaryDir, name);
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : undefined;
  };
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const victims = read('victims.json');
  if (victims) {
    const figures: Record<string, number | null> = {};
    for (const [key, value] of Object.entries(victims)) {
      if (value !== null && typeof value === 'object') {
        for (const [inner, v] of Object.entries(value as Record<string, unknown>)) figures[`victim ${inner} ${key}${inner === 'p95' ? ' (ms)' : ''}`] = num(v);
      } else figures[key] = num(value);
    }
    return figures;
  }
  const summary = read('summary.json') as { metrics?: Record<string, { values?: Record<string, number> }> } | undefined;
  if (!summary?.metrics) return {};
  const m = summary.metrics;
  return {
    'http p95 (ms)': num(m.http_req_duration?.values?.['p(95)']),
    'http failed rate': num(m.http_req_failed?.values?.rate),
    'http requests': num(m.http_reqs?.values?.count),
    ...(m.cross_tenant_rows ? { 'cross-tenant rows': num(m.cross_tenant_rows.values?.count) } : {}),
  };
}
