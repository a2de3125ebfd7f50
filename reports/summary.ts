/** summary.md — short enough to paste into a ticket: verdict, counts, one table row per finding. */
import { severities } from '../src/findings/types.ts';
import { countBySeverity, isoTime, safeTarget, sortFindings, verdictOf, type ReportInput } from './model.ts';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();
const maxRows = 50;

export function renderSummary(input: ReportInput): string {
  const { verdict, failOn, notProven } = verdictOf(input);
  const counts = countBySeverity(input.findings);
  const blocking = input.findings.filter((f) => severities.indexOf(f.severity) <= severities.indexOf(failOn)).length;
  const findings = sortFindings(input.findings);
  const lines = [
    verdict === 'verified'
      ? `## tenantproof: verified — no finding at or above ${failOn}`
      : verdict === 'incomplete'
        ? `## tenantproof: INCOMPLETE — nothing found, but ${notProven.length} thing${notProven.length === 1 ? ' was' : 's were'} not proven`
        : `## tenantproof: FAILED — ${blocking} finding${blocking === 1 ? '' : 's'} at or above ${failOn}`,
    '',
    `Target \`${safeTarget(input.target)}\`${input.model ? ` · model \`${input.model}\`` : ''} · started ${isoTime(input.startedAt)} · ${(input.durationMs / 1000).toFixed(1)} s · ${input.rulesRun.length} checks${input.seed !== undefined ? ` · seed ${input.seed}` : ''}`,
    '',
    `| ${severities.join(' | ')} |`,
    `| ${severities.map(() => '---:').join(' | ')} |`,
    `| ${severities.map((s) => counts[s]).join(' | ')} |`,
  ];
  if (notProven.length > 0) {
    lines.push('', '**Not proven**', '', ...notProven.map((n) => `- ${cell(n.object)}: ${cell(n.reason)}`));
  }
  if (findings.length > 0) {
    lines.push('', '| Severity | Check | Object | Fix |', '| --- | --- | --- | --- |');
    for (const f of findings.slice(0, maxRows)) {
      lines.push(`| ${f.severity} | \`${f.checkId}\`${f.leak ? ' (leak)' : ''} | ${cell(f.object)} | ${cell(f.remediation)} |`);
    }
    if (findings.length > maxRows) lines.push('', `…and ${findings.length - maxRows} more in findings.json.`);
  }
  lines.push('', 'Rule reference: `docs/rules/<check id>.md`.', '');
  return lines.join('\n');
}
