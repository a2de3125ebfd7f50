/** junit.xml — one testcase per check, one <failure> per finding (CI test tabs show them). */
import type { Finding } from '../src/findings/types.ts';
import { checksOf, findingMessage, isoTime, sortFindings, toolName, verdictOf, type ReportInput } from './model.ts';

export function escapeXml(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}

function failureBody(f: Finding): string {
  const lines = [
    `severity: ${f.severity}   leak class: ${f.leakClass}   model: ${f.model}${f.cwe ? `   ${f.cwe}` : ''}`,
    `object: ${f.object}`,
    f.actingTenant !== undefined ? `acting tenant: ${f.actingTenant}` : null,
    f.victimTenant !== undefined ? `victim tenant: ${f.victimTenant}` : null,
    f.statement !== undefined ? `statement: ${f.statement}` : null,
    f.observed !== undefined ? `observed: ${JSON.stringify(f.observed)}` : null,
    f.expected !== undefined ? `expected: ${JSON.stringify(f.expected)}` : null,
    f.seed !== undefined ? `seed: ${f.seed}${f.path ? ` path: ${f.path}` : ''}` : null,
    `fix: ${f.remediation}`,
  ];
  return lines.filter((l): l is string => l !== null).join('\n');
}

export function renderJunit(input: ReportInput): string {
  const checks = checksOf(input);
  const findings = sortFindings(input.findings);
  const { notProven } = verdictOf(input);
  // One more case: the proof itself was complete (every object probed, every run with foreign rows).
  const proofFailed = notProven.length > 0 ? 1 : 0;
  const failed = checks.filter((c) => findings.some((f) => f.checkId === c.id)).length + proofFailed;
  const total = checks.length + 1;
  const seconds = (input.durationMs / 1000).toFixed(3);
  const cases = checks.map((c) => {
    const own = findings.filter((f) => f.checkId === c.id);
    const name = escapeXml(`${c.id}: ${c.title}`);
    const classname = c.isRule ? `${toolName}.rules` : `${toolName}.probes`;
    if (own.length === 0) return `    <testcase classname="${classname}" name="${name}" time="0"/>`;
    const failures = own
      .map((f) => `      <failure message="${escapeXml(`${f.severity}: ${findingMessage(f)}`)}" type="${f.severity}">${escapeXml(failureBody(f))}</failure>`)
      .join('\n');
    return `    <testcase classname="${classname}" name="${name}" time="0">\n${failures}\n    </testcase>`;
  });
  const proofName = escapeXml('proof: every tenant-scoped object was probed with other tenants\' rows present');
  cases.push(
    proofFailed
      ? `    <testcase classname="${toolName}.proof" name="${proofName}" time="0">\n      <failure message="${escapeXml(`incomplete: ${notProven.length} thing(s) not proven`)}" type="incomplete">${escapeXml(notProven.map((n) => `${n.object}: ${n.reason}`).join('\n'))}</failure>\n    </testcase>`
      : `    <testcase classname="${toolName}.proof" name="${proofName}" time="0"/>`,
  );
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${toolName}" tests="${total}" failures="${failed}" errors="0" time="${seconds}">`,
    `  <testsuite name="${toolName} checks" tests="${total}" failures="${failed}" errors="0" skipped="0" time="${seconds}" timestamp="${isoTime(input.startedAt).replace(/\.\d+Z$/, '')}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
