/**
 * tenantproof.sarif — SARIF 2.1.0, so findings show in code-scanning UIs. Database objects are
 * logical locations (a table, policy, function, role, schema, database). GitHub code scanning
 * rejects a file in which any result lacks a physical location, so every result also gets one:
 * `sourceUri` when given (e.g. the migrations file that defines the schema), otherwise a virtual
 * path `tenantproof/catalog/<object>` that the UI shows without source.
 */
import type { Log, ReportingDescriptor, Result } from 'sarif';
import type { Finding, Severity } from '../src/findings/types.ts';
import { checksOf, findingMessage, fingerprint, isoTime, safeTarget, sortFindings, toolName, toolVersion, verdictOf, type ReportInput } from './model.ts';

export const sarifSchemaUri = 'https://json.schemastore.org/sarif-2.1.0.json';

const levels: Record<Severity, Result.level> = { critical: 'error', high: 'error', medium: 'warning', low: 'note', info: 'note' };
/** GitHub reads properties.security-severity: ≥9 critical, 7–8.9 high, 4–6.9 medium, 0.1–3.9 low. */
const securitySeverity: Record<Severity, string> = { critical: '9.5', high: '8.0', medium: '5.5', low: '3.0', info: '0.0' };

/** The kind of database object a finding names, as a SARIF logical-location kind. */
export function objectKind(object: string): string {
  const first = object.split(' ')[0] ?? '';
  if (first === 'function') return 'function';
  if (first === 'schema') return 'namespace';
  if (first === 'database') return 'module';
  if (first === 'role' || first === 'server') return 'object';
  if (first === 'policy') return 'member';
  return 'type';
}

/** A stable, URI-safe path naming a database object, for results that have no source file. */
export function virtualPath(object: string): string {
  return `tenantproof/catalog/${object.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-|-$/g, '')}`;
}

function pascal(id: string): string {
  return id.replace(/(^|-)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());
}

export function renderSarif(input: ReportInput): string {
  const checks = checksOf(input);
  const rules: ReportingDescriptor[] = checks.map((c) => ({
    id: c.id,
    name: pascal(c.id),
    shortDescription: { text: c.title },
    fullDescription: { text: c.description },
    help: { text: `${c.description}\n\nFix: ${c.remediation}`, markdown: `${c.description}\n\n**Fix:** ${c.remediation}` },
    defaultConfiguration: { level: levels[c.severity] },
    properties: {
      'security-severity': securitySeverity[c.severity],
      precision: c.isRule ? 'high' : 'very-high',
      severity: c.severity,
      leakClass: c.leakClass,
      tags: ['security', 'tenant-isolation', c.leakClass, ...(c.cwe ? [c.cwe, `external/cwe/${c.cwe.toLowerCase()}`] : [])],
    },
  }));
  const indexOf = new Map(checks.map((c, i) => [c.id, i]));
  const results: Result[] = sortFindings(input.findings).map((f: Finding) => ({
    ruleId: f.checkId,
    ruleIndex: indexOf.get(f.checkId) ?? 0,
    level: levels[f.severity],
    message: { text: `${findingMessage(f)}. ${f.remediation}` },
    locations: [
      {
        logicalLocations: [{ name: f.object.replace(/^(function|schema|database|role|server|policy) /, ''), fullyQualifiedName: f.object, kind: objectKind(f.object) }],
        physicalLocation: { artifactLocation: { uri: input.sourceUri ?? virtualPath(f.object) }, region: { startLine: 1 } },
      },
    ],
    partialFingerprints: { 'tenantproofFinding/v1': fingerprint(f) },
    properties: {
      severity: f.severity,
      leakClass: f.leakClass,
      leak: f.leak,
      model: f.model,
      ...(f.actingTenant !== undefined ? { actingTenant: f.actingTenant } : {}),
      ...(f.victimTenant !== undefined ? { victimTenant: f.victimTenant } : {}),
      ...(f.statement !== undefined ? { statement: f.statement } : {}),
      ...(f.observed !== undefined ? { observed: f.observed } : {}),
      ...(f.expected !== undefined ? { expected: f.expected } : {}),
      ...(f.seed !== undefined ? { seed: f.seed } : {}),
    },
  }));
  const started = isoTime(input.startedAt);
  const ended = new Date(new Date(started).getTime() + input.durationMs).toISOString();
  const log: Log = {
    $schema: sarifSchemaUri,
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: toolName, version: toolVersion, semanticVersion: toolVersion, rules } },
        invocations: [
          {
            executionSuccessful: true,
            startTimeUtc: started,
            endTimeUtc: ended,
            exitCode: verdictOf(input).exitCode,
            // What was not proven, so a code-scanning run never reads as a clean bill of health.
            toolExecutionNotifications: verdictOf(input).notProven.map((n) => ({ level: 'warning' as const, message: { text: `not proven: ${n.object}: ${n.reason}` } })),
          },
        ],
        results,
        properties: { target: safeTarget(input.target), model: input.model ?? null, failOn: verdictOf(input).failOn, verdict: verdictOf(input).verdict, ...(input.seed !== undefined ? { seed: input.seed } : {}) },
      },
    ],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}
