/**
 * What every report format shares: the run being reported, finding fingerprints, counts, and the
 * metadata for each check id (static rules and probe checks, each from its registry).
 */
import { fingerprint } from '../src/findings/fingerprint.ts';
import type { IsolationModelName } from '../src/target/types.ts';
import { redactUrl } from '../src/target/url.ts';
import { severities, type Finding, type LeakClass, type Severity } from '../src/findings/types.ts';
import { ruleById } from '../src/checks/rules/index.ts';
import { probeCheckById } from '../src/checks/probes/registry.ts';
import { verdictOf as verdictFrom, type NotProven, type VerdictOutcome } from '../src/findings/verdict.ts';

export { fingerprint };

export const toolName = 'tenantproof';
export const toolVersion = '0.1.0';

export interface ReportInput {
  readonly findings: readonly Finding[];
  /** Check ids that ran (a check with no finding passed). */
  readonly rulesRun: readonly string[];
  /** The target's URL; redacted again here in case a password slipped through. */
  readonly target: string;
  readonly model?: IsolationModelName;
  readonly startedAt: Date | string;
  readonly durationMs: number;
  readonly seed?: number;
  /** `--fail-on` threshold (default high): decides the verdict and exit code. */
  readonly failOn?: Severity;
  /** What the run set out to prove and did not (a table not probed, a run without foreign rows): makes the verdict `incomplete`. */
  readonly notProven?: readonly NotProven[];
  /** Findings a baseline accepted (not counted by the verdict), with the baseline's reason. */
  readonly accepted?: readonly (Finding & { readonly acceptedBecause: string })[];
  /** SARIF only: a repository file (e.g. the migrations) to anchor results on, for code-scanning UIs that need a file. */
  readonly sourceUri?: string;
}

export interface CheckInfo {
  readonly id: string;
  readonly title: string;
  readonly severity: Severity;
  readonly leakClass: LeakClass;
  readonly cwe: string | null;
  readonly description: string;
  readonly remediation: string;
  /** True for static catalog rules, false for probe checks. */
  readonly isRule: boolean;
}

/** Metadata for every check id in the run: rulesRun first (registry order), then ids seen only in findings. */
export function checksOf(input: ReportInput): CheckInfo[] {
  const ids = [...new Set([...input.rulesRun, ...sortFindings(input.findings).map((f) => f.checkId)])];
  return ids.map((id) => {
    const rule = ruleById(id);
    if (rule) {
      return { id, title: rule.title, severity: rule.severity, leakClass: rule.leakClass, cwe: rule.cwe, description: rule.description, remediation: rule.remediation, isRule: true };
    }
    const probe = probeCheckById(id);
    if (probe) {
      return { id, title: probe.title, severity: probe.severity, leakClass: probe.leakClass, cwe: probe.cwe, description: probe.description, remediation: probe.remediation, isRule: false };
    }
    // Neither a rule nor a probe (an HTTP check of the reference app, a load threshold): known from its findings.
    const first = input.findings.find((f) => f.checkId === id);
    return {
      id,
      title: first?.title ?? id,
      severity: first?.severity ?? 'info',
      leakClass: first?.leakClass ?? 'configuration',
      cwe: first?.cwe ?? null,
      description: first?.title ?? id,
      remediation: first?.remediation ?? '',
      isRule: false,
    };
  });
}

export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) =>
      severities.indexOf(a.severity) - severities.indexOf(b.severity) ||
      a.checkId.localeCompare(b.checkId) ||
      a.object.localeCompare(b.object) ||
      fingerprint(a).localeCompare(fingerprint(b)),
  );
}

export function countBySeverity(findings: readonly Finding[]): Record<Severity, number> {
  const counts = Object.fromEntries(severities.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) counts[f.severity]++;
  return counts;
}

/** The verdict every format carries: verified, findings, or incomplete (src/findings/verdict.ts). */
export function verdictOf(input: ReportInput): VerdictOutcome {
  return verdictFrom({ findings: input.findings, failOn: input.failOn ?? 'high', notProven: input.notProven ?? [] });
}

export function safeTarget(target: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(target) ? redactUrl(target) : target;
}

export function isoTime(t: Date | string): string {
  return (typeof t === 'string' ? new Date(t) : t).toISOString();
}

/** One line saying what a finding is about, for messages. */
export function findingMessage(f: Finding): string {
  const tenants = f.actingTenant || f.victimTenant ? ` (tenant ${f.actingTenant ?? '?'} → ${f.victimTenant ?? '?'})` : '';
  return `${f.title}: ${f.object}${tenants}`;
}
