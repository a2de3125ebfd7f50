/**
 * One finding per root cause. A role with BYPASSRLS makes every probe on every table fail; a
 * reviewer needs one finding — the role — with the tables it exposes listed under it, not one
 * finding per table and probe. Probe findings that carry the same root cause, and the static
 * finding that names that cause, become one finding; everything else is kept as it is.
 */
import { severities, type AffectedObject, type Finding } from './types.ts';

export function groupByRootCause(findings: readonly Finding[]): Finding[] {
  const groups = new Map<string, Finding[]>();
  for (const f of findings) {
    if (!f.rootCause) continue;
    groups.set(f.rootCause.key, [...(groups.get(f.rootCause.key) ?? []), f]);
  }
  if (groups.size === 0) return [...findings];
  const causes = [...groups.values()].map((members) => members[0]!.rootCause!);
  const namesCause = (f: Finding) => !f.rootCause && !f.leak && causes.some((c) => c.checkId === f.checkId && c.object === f.object);
  const out: Finding[] = [];
  const emitted = new Set<string>();
  for (const f of findings) {
    if (namesCause(f)) continue;
    if (!f.rootCause) {
      out.push(f);
      continue;
    }
    if (emitted.has(f.rootCause.key)) continue;
    emitted.add(f.rootCause.key);
    const cause = f.rootCause;
    const members = groups.get(cause.key)!;
    const named = findings.filter((s) => namesCause(s) && s.checkId === cause.checkId && s.object === cause.object);
    out.push(causeFinding(cause, members, named[0]));
  }
  return out;
}

function causeFinding(cause: NonNullable<Finding['rootCause']>, members: readonly Finding[], rule: Finding | undefined): Finding {
  const worst = [...members, ...(rule ? [rule] : [])].sort((a, b) => severities.indexOf(a.severity) - severities.indexOf(b.severity))[0]!;
  const firstLeak = members.find((m) => m.leak) ?? members[0]!;
  const objects = [...new Set(members.map((m) => m.object))];
  const affected: AffectedObject[] = members.map((m) => ({
    checkId: m.checkId,
    object: m.object,
    title: m.title,
    leak: m.leak,
    ...(m.actingTenant !== undefined ? { actingTenant: m.actingTenant } : {}),
    ...(m.victimTenant !== undefined ? { victimTenant: m.victimTenant } : {}),
    ...(m.statement !== undefined ? { statement: m.statement } : {}),
    ...(m.observed !== undefined ? { observed: m.observed } : {}),
  }));
  const what = objects.length === 1 ? objects[0]! : `${objects.length} objects (${objects.slice(0, 3).join(', ')}${objects.length > 3 ? ', …' : ''})`;
  return {
    checkId: cause.checkId,
    title: `${cause.title}: ${members.length} probe finding${members.length === 1 ? '' : 's'} on ${what}`,
    severity: worst.severity,
    leakClass: firstLeak.leakClass,
    leak: members.some((m) => m.leak),
    model: firstLeak.model,
    object: cause.object,
    ...(firstLeak.actingTenant !== undefined ? { actingTenant: firstLeak.actingTenant } : {}),
    ...(firstLeak.victimTenant !== undefined ? { victimTenant: firstLeak.victimTenant } : {}),
    ...(firstLeak.statement !== undefined ? { statement: firstLeak.statement } : {}),
    observed: rule?.observed ?? firstLeak.observed,
    ...(firstLeak.expected !== undefined ? { expected: firstLeak.expected } : {}),
    ...(firstLeak.seed !== undefined ? { seed: firstLeak.seed } : {}),
    ...(firstLeak.path !== undefined ? { path: firstLeak.path } : {}),
    ...((rule?.cwe ?? firstLeak.cwe) ? { cwe: rule?.cwe ?? firstLeak.cwe } : {}),
    remediation: cause.remediation,
    rootCause: cause,
    affected,
  };
}
