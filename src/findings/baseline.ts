/**
 * Baselines: findings a team has accepted, by fingerprint, each with a reason and an optional
 * expiry. A gate with a baseline fails only on findings not in it; an entry past its expiry no
 * longer accepts anything, so its finding fails the gate again.
 *
 *   { "version": 1, "accepted": [{ "fingerprint": "…", "checkId": "…", "object": "…",
 *     "reason": "why this is accepted", "expires": "2027-03-31" }] }
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { CannotRunError } from '../errors.ts';
import { fingerprint } from './fingerprint.ts';
import type { Finding } from './types.ts';

const entrySchema = z.strictObject({
  fingerprint: z.string().regex(/^[0-9a-f]{16}$/, 'must be 16 hex digits (the id in findings.json)'),
  checkId: z.string().min(1),
  object: z.string().min(1),
  reason: z.string().trim().min(1, 'must say why the finding is accepted'),
  expires: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date, YYYY-MM-DD').optional(),
});
const baselineSchema = z.strictObject({ version: z.literal(1), accepted: z.array(entrySchema) });

export type BaselineEntry = z.infer<typeof entrySchema>;
export type Baseline = z.infer<typeof baselineSchema>;

export function readBaseline(path: string): Baseline {
  if (!existsSync(path)) throw new CannotRunError(`baseline ${path} does not exist (create it with --update-baseline)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new CannotRunError(`baseline ${path} is not JSON: ${(error as Error).message.split('\n')[0]}`);
  }
  const parsed = baselineSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CannotRunError(`baseline ${path}: ${issue.path.join('.') || 'the file'} ${issue.message}`);
  }
  return parsed.data;
}

export interface BaselineOutcome {
  /** Findings the baseline does not accept: these decide the verdict. */
  readonly findings: readonly Finding[];
  /** Findings accepted by an entry that has not expired. */
  readonly accepted: readonly (Finding & { readonly acceptedBecause: string })[];
  /** Entries past their expiry whose finding is still there (it counts again). */
  readonly expired: readonly BaselineEntry[];
  /** Entries that matched no finding (fixed, or no longer reachable): safe to remove. */
  readonly unused: readonly BaselineEntry[];
}

/** `today` is YYYY-MM-DD; an entry expiring today still accepts its finding. */
export function applyBaseline(findings: readonly Finding[], baseline: Baseline, today = new Date().toISOString().slice(0, 10)): BaselineOutcome {
  const byFingerprint = new Map(baseline.accepted.map((e) => [e.fingerprint, e]));
  const used = new Set<string>();
  const counted: Finding[] = [];
  const accepted: (Finding & { acceptedBecause: string })[] = [];
  const expired: BaselineEntry[] = [];
  for (const f of findings) {
    const entry = byFingerprint.get(fingerprint(f));
    if (!entry) {
      counted.push(f);
      continue;
    }
    used.add(entry.fingerprint);
    if (entry.expires !== undefined && entry.expires < today) {
      expired.push(entry);
      counted.push(f);
    } else accepted.push({ ...f, acceptedBecause: entry.reason });
  }
  return { findings: counted, accepted, expired, unused: baseline.accepted.filter((e) => !used.has(e.fingerprint)) };
}

/** The baseline that accepts exactly `findings`: reasons and expiries already there are kept; new entries ask for a reason. */
export function updatedBaseline(findings: readonly Finding[], previous: Baseline | null, today = new Date().toISOString().slice(0, 10)): Baseline {
  const earlier = new Map((previous?.accepted ?? []).map((e) => [e.fingerprint, e]));
  const accepted = new Map<string, BaselineEntry>();
  for (const f of findings) {
    const id = fingerprint(f);
    const kept = earlier.get(id);
    accepted.set(id, kept ?? { fingerprint: id, checkId: f.checkId, object: f.object, reason: `accepted on ${today}: say why` });
  }
  return { version: 1, accepted: [...accepted.values()].sort((a, b) => a.checkId.localeCompare(b.checkId) || a.object.localeCompare(b.object)) };
}

export function writeBaseline(path: string, baseline: Baseline): void {
  writeFileSync(path, `${JSON.stringify(baseline, null, 2)}\n`);
}
