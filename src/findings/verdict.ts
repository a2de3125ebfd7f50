/**
 * The verdict: computed from what was proven, never from findings alone.
 *
 * - **verified** (exit 0): every tenant-scoped object was probed, every property run had other
 *   tenants' rows present to leak, and nothing failed the `--fail-on` threshold.
 * - **findings** (exit 1): an observed leak, or a static finding at or above `--fail-on`.
 * - **incomplete** (exit 3): no finding, but something was not proven (a table that could not be
 *   filled, a run in which no foreign row was present, fast-check giving up, static rules that
 *   did not run). It never says VERIFIED; it lists what was not proven and why.
 */
import { ExitCode } from '../errors.ts';
import { atLeast, type Finding, type Severity } from './types.ts';

export type Verdict = 'verified' | 'findings' | 'incomplete';
export const verdicts: readonly Verdict[] = ['verified', 'findings', 'incomplete'];

/** Something a verification set out to prove and did not, with the reason. */
export interface NotProven {
  /** The table, object or part of the run concerned (`public.orders`, `property runs`, `static rules`). */
  readonly object: string;
  readonly reason: string;
}

export interface VerdictInput {
  readonly findings: readonly (Pick<Finding, 'severity'> & { readonly leak?: boolean })[];
  readonly failOn?: Severity;
  readonly notProven?: readonly NotProven[];
}

export interface VerdictOutcome {
  readonly verdict: Verdict;
  readonly exitCode: 0 | 1 | 3;
  readonly failOn: Severity;
  readonly notProven: readonly NotProven[];
}

/**
 * `--fail-on` semantics: 1 when some finding is at or above the threshold (default high), or is
 * an observed leak (`leak: true`: data did cross a tenant boundary, whatever its severity), else 0.
 */
export function exitCodeFor(findings: VerdictInput['findings'], failOn: Severity = 'high'): 0 | 1 {
  return findings.some((f) => f.leak === true || atLeast(f.severity, failOn)) ? 1 : 0;
}

/** Findings outrank incompleteness (a leak is a leak, proven or not elsewhere); incomplete outranks verified. */
export function verdictOf(input: VerdictInput): VerdictOutcome {
  const failOn = input.failOn ?? 'high';
  const notProven = input.notProven ?? [];
  if (exitCodeFor(input.findings, failOn) === 1) return { verdict: 'findings', exitCode: ExitCode.findings, failOn, notProven };
  if (notProven.length > 0) return { verdict: 'incomplete', exitCode: ExitCode.incomplete, failOn, notProven };
  return { verdict: 'verified', exitCode: ExitCode.verified, failOn, notProven };
}

/** What a probe result leaves unproven (the shape VerifyResult has; kept structural so reports need not import probes). */
export interface ProofCoverage {
  readonly runs: number;
  readonly runsExecuted: number;
  readonly runsWithForeignRows: number;
  readonly findings: readonly { readonly leak?: boolean }[];
  readonly skippedTables: readonly { readonly table: string; readonly reason: string }[];
  /** Probes that could not act on an object (their statement or values were rejected). */
  readonly probesNotActed?: readonly { readonly object: string; readonly checkId: string; readonly reason: string }[];
  /** Why fast-check ended without executing the runs asked for (too many skipped worlds), if it did. */
  readonly gaveUp?: string | null;
  /** Why the tenant context the probes entered proved nothing (it admitted no principal to its own rows), if so. */
  readonly contextAdmittedNothing?: string | null;
}

export function notProvenBy(result: ProofCoverage): NotProven[] {
  const out: NotProven[] = result.skippedTables.map(({ table, reason }) => ({ object: table, reason: `not probed: ${reason}` }));
  for (const { object, checkId, reason } of result.probesNotActed ?? []) out.push({ object, reason: `${checkId} could not act: ${reason}` });
  if (result.gaveUp) out.push({ object: 'property runs', reason: result.gaveUp });
  if (result.contextAdmittedNothing) out.push({ object: 'tenant context', reason: result.contextAdmittedNothing });
  if (result.runsExecuted === 0) {
    out.push({ object: 'property runs', reason: `no property run executed (${result.runs} asked for)` });
  } else if (result.findings.length === 0 && result.runsWithForeignRows < result.runsExecuted) {
    // With findings, shrinking runs on purpose use worlds too small to hold foreign rows; without
    // them, a run without another tenant's rows present proved nothing.
    out.push({
      object: 'property runs',
      reason: `${result.runsExecuted - result.runsWithForeignRows} of ${result.runsExecuted} runs had no other tenant's rows present for every acting tenant, so they proved nothing`,
    });
  }
  return out;
}
