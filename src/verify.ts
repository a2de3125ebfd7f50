/**
 * verify(): the whole pipeline, in the caller's process. target → catalog (static rules) → world
 * and models (property runs, every probe in a rolled-back transaction) → findings → verdict.
 * Reports are written by the caller (`reports/`), which takes findings only.
 */
import { randomInt } from 'node:crypto';
import { runStaticRules } from './checks/rules/index.ts';
import { listTenantTables } from './checks/probes/tables.ts';
import type { Refutation, VerifyProgress, VerifyResult } from './checks/probes/engine.ts';
import { verifyTarget } from './checks/probes/runners.ts';
import { CannotRunError, describeError } from './errors.ts';
import type { Finding } from './findings/types.ts';
import { groupByRootCause } from './findings/group.ts';
import { notProvenBy, verdictOf, type NotProven, type VerdictOutcome } from './findings/verdict.ts';
import type { VerifyConfig } from './target/config.ts';
import { withClient } from './target/connection.ts';

export interface VerifyHooks {
  /** The tenant-scoped tables (or tenant objects) found, before anything is run. */
  readonly onTables?: (tables: readonly string[]) => void;
  readonly onStatic?: (outcome: StaticOutcome) => void;
  readonly onProgress?: (progress: VerifyProgress) => void;
}

export interface StaticOutcome {
  readonly findings: readonly Finding[];
  readonly rulesRun: readonly string[];
  /** Why the static rules did not run, if they did not (the probes still prove what they prove). */
  readonly error: string | null;
}

export interface Verification {
  readonly seed: number;
  readonly startedAt: Date;
  readonly durationMs: number;
  readonly tables: readonly string[];
  readonly statics: StaticOutcome;
  readonly probes: VerifyResult;
  /** One finding per root cause (a cause's probe findings and its static finding folded into one), probe findings first. */
  readonly findings: readonly Finding[];
  readonly notProven: readonly NotProven[];
  readonly verdict: VerdictOutcome;
}

/**
 * Verifies one target. Throws CannotRunError (exit 2) when the target cannot be verified at all;
 * otherwise returns what was found and what was proven. Nothing is left in the target.
 */
export async function verify(config: VerifyConfig, hooks: VerifyHooks = {}): Promise<Verification> {
  const startedAt = new Date();
  const seed = config.seed ?? randomInt(0, 2_147_483_647);
  const { target } = config;
  // Checked before anything else, so that a target that cannot be verified gives one line.
  const tables = await listTenantTables(target);
  hooks.onTables?.(tables);

  let statics: StaticOutcome;
  try {
    const result = await withClient(target.databaseUrl, (client) => runStaticRules(client, target));
    statics = { findings: result.findings, rulesRun: result.rulesRun, error: null };
  } catch (error) {
    statics = { findings: [], rulesRun: [], error: describeError(error) };
  }
  hooks.onStatic?.(statics);

  let probes: VerifyResult;
  try {
    probes = await verifyTarget(target, { runs: config.runs, seed, exhaustive: config.exhaustive ?? false, ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}) });
  } catch (error) {
    // Exit 2 after the static rules ran: their findings ride on the error, so the caller can still report them.
    if (error instanceof CannotRunError && statics.findings.length > 0) throw new CannotRunError(error.message, { ...error.context, statics }, { cause: error });
    throw error;
  }
  const findings = groupByRootCause([...probes.findings, ...downgradeRefuted(statics.findings, probes.refuted ?? [])]);
  const notProven = [...notProvenBy(probes), ...(statics.error ? [{ object: 'static rules', reason: `did not run: ${statics.error}` }] : [])];
  return {
    seed,
    startedAt,
    durationMs: Date.now() - startedAt.getTime(),
    tables,
    statics,
    probes,
    findings,
    notProven,
    verdict: verdictOf({ findings, failOn: config.failOn, notProven }),
  };
}

/**
 * A static finding whose claim the probes acted on and contradicted is kept, at severity info,
 * with the probes' account first: the catalog said it might leak, acting showed it does not.
 */
function downgradeRefuted(findings: readonly Finding[], refuted: readonly Refutation[]): Finding[] {
  return findings.map((f) => {
    const r = refuted.find((x) => x.object === f.object && x.checkIds.includes(f.checkId));
    if (!r) return f;
    return {
      ...f,
      severity: 'info',
      title: `${f.title} (contradicted by the probes)`,
      observed: { ...(typeof f.observed === 'object' && f.observed !== null ? f.observed : { catalog: f.observed }), downgradedFrom: f.severity, probes: r.reason },
      remediation: `${r.reason}; the static rule's concern stands only if its callers change. ${f.remediation}`,
    };
  });
}
