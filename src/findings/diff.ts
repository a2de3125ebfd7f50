/**
 * What changed in isolation between two schema versions (`tenantproof diff`): findings new in the
 * head and fixed since the base (keyed by their fingerprints, stable across runs and seeds), and
 * changes of the catalog that widen what a role may reach even before a probe shows a leak:
 *
 * - a table losing row level security, or FORCE (its owner then bypasses every policy);
 * - a policy whose USING/WITH CHECK expression, command or kind changed to a plainly wider shape,
 *   or with new findings on its table (otherwise: narrowed when findings there were fixed, else
 *   listed for review), or that applies to more roles;
 * - a permissive policy added to a table that already had policies (permissive policies are OR-ed),
 *   a restrictive policy dropped;
 * - a privilege granted that the base did not grant.
 *
 * The opposite changes are listed as narrowed. Worse = a new finding that fails the gate
 * (`--fail-on`, an observed leak always), any widening, or an object the base proved and the head
 * could not (a table no longer probed hides whatever it would show).
 */
import type { IsolationSnapshot, SnapshotPolicy } from '../catalog/isolation-snapshot.ts';
import { fingerprint } from './fingerprint.ts';
import type { Finding, Severity } from './types.ts';
import { exitCodeFor } from './verdict.ts';

export interface IsolationChange {
  readonly kind: 'rls-disabled' | 'force-dropped' | 'policy-changed' | 'policy-roles-added' | 'policy-added' | 'policy-dropped' | 'grant-added' | 'rls-enabled' | 'force-added' | 'policy-roles-removed' | 'grant-revoked';
  /** The table (or `table policy name`, or the grant) it concerns. */
  readonly object: string;
  /** A sentence about this change, with the before and after. */
  readonly detail: string;
}

export interface DiffFinding {
  readonly fingerprint: string;
  readonly checkId: string;
  readonly severity: Severity;
  readonly leak: boolean;
  readonly object: string;
  readonly title: string;
  /** Fails the gate on its own (a leak, or at or above --fail-on). */
  readonly blocking: boolean;
}

export interface IsolationDiff {
  readonly newFindings: readonly DiffFinding[];
  readonly fixedFindings: readonly DiffFinding[];
  readonly widened: readonly IsolationChange[];
  readonly narrowed: readonly IsolationChange[];
  /** Policies whose expression changed with no sign either way: listed for review, not counted as worse. */
  readonly changed: readonly IsolationChange[];
  /** Objects the base proved and the head could not (a table no longer probed hides what it would show). */
  readonly newlyNotProven: readonly { readonly object: string; readonly reason: string }[];
  /** Something got worse: a blocking new finding, a widening, or a proof lost. */
  readonly worse: boolean;
}

export interface DiffSide {
  readonly findings: readonly Finding[];
  readonly snapshot: IsolationSnapshot;
  readonly notProven?: readonly { readonly object: string; readonly reason: string }[];
}

const policyKey = (p: SnapshotPolicy) => `${p.table} policy ${p.name}`;
const show = (p: SnapshotPolicy) =>
  `${p.permissive ? 'permissive' : 'restrictive'} ${p.command} to ${p.roles.join(', ')}${p.using !== null ? ` using (${p.using})` : ''}${p.check !== null ? ` with check (${p.check})` : ''}`;

export function diffIsolation(base: DiffSide, head: DiffSide, failOn: Severity): IsolationDiff {
  const summarize = (f: Finding): DiffFinding => ({
    fingerprint: fingerprint(f),
    checkId: f.checkId,
    severity: f.severity,
    leak: f.leak,
    object: f.object,
    title: f.title,
    blocking: exitCodeFor([f], failOn) === 1,
  });
  const baseFindings = new Map(base.findings.map((f) => [fingerprint(f), f]));
  const headFindings = new Map(head.findings.map((f) => [fingerprint(f), f]));
  const newFindings = [...headFindings].filter(([id]) => !baseFindings.has(id)).map(([, f]) => summarize(f));
  const fixedFindings = [...baseFindings].filter(([id]) => !headFindings.has(id)).map(([, f]) => summarize(f));

  const widened: IsolationChange[] = [];
  const narrowed: IsolationChange[] = [];
  const changedForReview: IsolationChange[] = [];
  for (const [table, before] of Object.entries(base.snapshot.tables)) {
    const after = head.snapshot.tables[table];
    if (!after) continue;
    if (before.rls && !after.rls) widened.push({ kind: 'rls-disabled', object: table, detail: `${table} no longer has row level security enabled: its policies no longer apply` });
    if (!before.rls && after.rls) narrowed.push({ kind: 'rls-enabled', object: table, detail: `${table} now has row level security enabled` });
    if (before.force && !after.force) widened.push({ kind: 'force-dropped', object: table, detail: `${table} no longer forces row level security: its owner bypasses the policies` });
    if (!before.force && after.force) narrowed.push({ kind: 'force-added', object: table, detail: `${table} now forces row level security` });
  }
  const basePolicies = new Map(base.snapshot.policies.map((p) => [policyKey(p), p]));
  const headPolicies = new Map(head.snapshot.policies.map((p) => [policyKey(p), p]));
  const hadPolicies = new Set(base.snapshot.policies.map((p) => p.table));
  for (const [key, after] of headPolicies) {
    const before = basePolicies.get(key);
    if (!before) {
      // A new table's policies are the findings' business; on an existing table a permissive one widens.
      if (after.permissive && hadPolicies.has(after.table)) widened.push({ kind: 'policy-added', object: key, detail: `${key} added (${show(after)}): permissive policies are OR-ed, so it widens what the others allow` });
      else if (!after.permissive && base.snapshot.tables[after.table]) narrowed.push({ kind: 'policy-added', object: key, detail: `${key} added (${show(after)})` });
      continue;
    }
    const changed = before.using !== after.using || before.check !== after.check || before.command !== after.command || before.permissive !== after.permissive;
    if (changed) {
      // Whether a new expression is narrower is not decidable in general; the probes decide: new
      // findings on the table make it widened, findings fixed there make it narrowed. Plainly
      // wider shapes (true, the old expression OR something, restrictive made permissive, a
      // command widened to ALL) are widened whatever the probes saw.
      const detail = `${key} changed: was ${show(before)}; now ${show(after)}`;
      const orWider = (b: string | null, a: string | null) => b !== null && a !== null && a !== b && (a === 'true' || (/\bOR\b/i.test(a) && a.includes(b)));
      const plainlyWider =
        orWider(before.using, after.using) || orWider(before.check, after.check) || (!before.permissive && after.permissive) || (before.command !== 'ALL' && after.command === 'ALL') || (before.using !== null && after.using === null && after.command !== 'INSERT');
      const onTable = (f: DiffFinding) => f.object === after.table || f.object.endsWith(` on ${after.table}`) || f.object.startsWith(`${after.table}.`);
      if (plainlyWider || newFindings.some(onTable)) widened.push({ kind: 'policy-changed', object: key, detail: `${detail}${plainlyWider ? '' : ' — and the head has new findings on the table'}` });
      else if (fixedFindings.some(onTable)) narrowed.push({ kind: 'policy-changed', object: key, detail: `${detail} — findings on the table fixed` });
      else changedForReview.push({ kind: 'policy-changed', object: key, detail: `${detail} — the probes found no leak through it: review that it still binds rows to the tenant` });
    }
    // PUBLIC is every role (PostgreSQL keeps a policy for PUBLIC and others as PUBLIC alone).
    const everyone = (roles: readonly string[]) => roles.includes('PUBLIC');
    const added = everyone(before.roles) ? [] : after.roles.filter((r) => !before.roles.includes(r));
    const removed = everyone(after.roles) ? [] : before.roles.filter((r) => !after.roles.includes(r));
    if (added.length > 0) widened.push({ kind: 'policy-roles-added', object: key, detail: `${key} now also applies to ${added.join(', ')} (was ${before.roles.join(', ')})` });
    if (removed.length > 0 && added.length === 0) narrowed.push({ kind: 'policy-roles-removed', object: key, detail: `${key} no longer applies to ${removed.join(', ')}` });
  }
  for (const [key, before] of basePolicies) {
    if (headPolicies.has(key) || !head.snapshot.tables[before.table]) continue;
    if (!before.permissive) widened.push({ kind: 'policy-dropped', object: key, detail: `restrictive ${key} dropped (was ${show(before)}): what it excluded is allowed again` });
    else narrowed.push({ kind: 'policy-dropped', object: key, detail: `${key} dropped (was ${show(before)})` });
  }
  const baseGrants = new Set(base.snapshot.grants);
  const headGrants = new Set(head.snapshot.grants);
  const onBaseTable = (grant: string) => {
    const table = grant.slice(grant.lastIndexOf(' on ') + 4);
    return base.snapshot.tables[table] !== undefined || base.snapshot.grants.some((g) => g.endsWith(` on ${table}`));
  };
  for (const grant of headGrants) {
    // Grants on objects the base did not have are the new objects' business (the findings check them).
    if (!baseGrants.has(grant) && onBaseTable(grant)) widened.push({ kind: 'grant-added', object: grant, detail: `granted ${grant}` });
  }
  for (const grant of baseGrants) if (!headGrants.has(grant)) narrowed.push({ kind: 'grant-revoked', object: grant, detail: `revoked ${grant}` });

  const provenBefore = new Set((base.notProven ?? []).map((n) => n.object));
  const newlyNotProven = (head.notProven ?? []).filter((n) => !provenBefore.has(n.object)).map(({ object, reason }) => ({ object, reason }));
  return {
    newFindings,
    fixedFindings,
    widened,
    narrowed,
    changed: changedForReview,
    newlyNotProven,
    worse: widened.length > 0 || newlyNotProven.length > 0 || newFindings.some((f) => f.blocking),
  };
}

/** The diff as markdown for a pull-request comment. */
export function renderDiffMarkdown(diff: IsolationDiff, labels: { base: string; head: string }): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();
  const lines = [
    diff.worse
      ? `## tenantproof diff: isolation got WORSE`
      : `## tenantproof diff: isolation did not get worse`,
    '',
    `Base \`${labels.base}\` → head \`${labels.head}\`: ${diff.newFindings.length} new finding(s), ${diff.fixedFindings.length} fixed, ${diff.widened.length} widened, ${diff.changed.length} changed to review, ${diff.narrowed.length} narrowed.`,
  ];
  const findingTable = (title: string, rows: readonly DiffFinding[]) => {
    if (rows.length === 0) return;
    lines.push('', `**${title}**`, '', '| Severity | Check | Object | Finding |', '| --- | --- | --- | --- |');
    for (const f of rows) lines.push(`| ${f.severity}${f.blocking ? '' : ' (below --fail-on)'} | \`${f.checkId}\`${f.leak ? ' (leak)' : ''} | ${cell(f.object)} | ${cell(f.title)} |`);
  };
  findingTable('New findings', diff.newFindings);
  if (diff.widened.length > 0) lines.push('', '**Widened**', '', ...diff.widened.map((c) => `- ${cell(c.detail)}`));
  if (diff.newlyNotProven.length > 0) lines.push('', '**No longer proven**', '', ...diff.newlyNotProven.map((n) => `- ${cell(n.object)}: ${cell(n.reason)}`));
  findingTable('Fixed', diff.fixedFindings);
  if (diff.changed.length > 0) lines.push('', '**Changed, to review**', '', ...diff.changed.map((c) => `- ${cell(c.detail)}`));
  if (diff.narrowed.length > 0) lines.push('', '**Narrowed**', '', ...diff.narrowed.map((c) => `- ${cell(c.detail)}`));
  lines.push('');
  return lines.join('\n');
}

/** The diff as console text. */
export function renderDiffText(diff: IsolationDiff, labels: { base: string; head: string }): string {
  const out = [`tenantproof diff · base ${labels.base} → head ${labels.head}`];
  const section = (title: string, rows: readonly string[]) => {
    if (rows.length > 0) out.push(`${title} (${rows.length}):`, ...rows.map((r) => `  ${r}`));
  };
  section('NEW FINDINGS', diff.newFindings.map((f) => `[${f.severity}${f.blocking ? '' : ', below --fail-on'}] ${f.checkId} · ${f.object} — ${f.title}`));
  section('WIDENED', diff.widened.map((c) => c.detail));
  section('NO LONGER PROVEN', diff.newlyNotProven.map((n) => `${n.object}: ${n.reason}`));
  section('FIXED', diff.fixedFindings.map((f) => `[${f.severity}] ${f.checkId} · ${f.object} — ${f.title}`));
  section('CHANGED, TO REVIEW', diff.changed.map((c) => c.detail));
  section('NARROWED', diff.narrowed.map((c) => c.detail));
  out.push(diff.worse ? 'Exit 1: isolation got worse.' : 'Exit 0: isolation did not get worse.');
  return `${out.join('\n')}\n`;
}
