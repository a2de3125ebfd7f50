/**
 * findings.json — the stable, machine-readable result (schema: reports/schemas/findings.schema.json,
 * documented in docs/findings-schema.md). Additive changes keep schemaVersion 1.
 */
import { checksOf, countBySeverity, fingerprint, isoTime, safeTarget, sortFindings, toolName, toolVersion, verdictOf, type ReportInput } from './model.ts';

export const findingsSchemaVersion = 1;

export function renderFindingsJson(input: ReportInput): string {
  const { verdict, exitCode, failOn, notProven } = verdictOf(input);
  const document = {
    schemaVersion: findingsSchemaVersion,
    tool: { name: toolName, version: toolVersion },
    target: { url: safeTarget(input.target), model: input.model ?? input.findings[0]?.model ?? null },
    startedAt: isoTime(input.startedAt),
    durationMs: Math.round(input.durationMs),
    seed: input.seed ?? null,
    failOn,
    verdict,
    exitCode,
    notProven: notProven.map((n) => ({ object: n.object, reason: n.reason })),
    accepted: (input.accepted ?? []).map((f) => ({ id: fingerprint(f), checkId: f.checkId, severity: f.severity, object: f.object, title: f.title, reason: f.acceptedBecause })),
    counts: countBySeverity(input.findings),
    checks: checksOf(input).map((c) => ({
      id: c.id,
      title: c.title,
      severity: c.severity,
      leakClass: c.leakClass,
      cwe: c.cwe,
      kind: c.isRule ? 'rule' : 'probe',
      findings: input.findings.filter((f) => f.checkId === c.id).length,
    })),
    findings: sortFindings(input.findings).map((f) => ({
      id: fingerprint(f),
      checkId: f.checkId,
      title: f.title,
      severity: f.severity,
      leakClass: f.leakClass,
      leak: f.leak,
      model: f.model,
      object: f.object,
      actingTenant: f.actingTenant ?? null,
      victimTenant: f.victimTenant ?? null,
      statement: f.statement ?? null,
      observed: f.observed ?? null,
      expected: f.expected ?? null,
      seed: f.seed ?? null,
      path: f.path ?? null,
      cwe: f.cwe ?? null,
      remediation: f.remediation,
      rootCause: f.rootCause?.key ?? null,
      affected: f.affected ?? [],
    })),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}
