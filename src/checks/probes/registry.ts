/**
 * The probe registry: the list of probe families, in report order. Each family is declared in the
 * file whose probes report it (`defineProbeChecks`, define.ts), with its ids, titles, severities,
 * CWEs, models and templates; this file only lists them.
 *
 * Adding a probe: its declaration and its code in its family's file, and its red case in a corpus
 * (suites/isolation/corpus.ts, model-corpus.ts or conventions-probes.ts). A new family file is, in
 * addition, one line in `families` below: suites/isolation/probe-corpus.test.ts fails for a family
 * this list misses, and the runners refuse a finding whose check it does not hold.
 *
 * Probe files never import this file at run time (it imports them); `ProbeId` and
 * `ProbeObservation` are types, erased at run time.
 */
import type { IdOf, ProbeCheck as DeclaredCheck, ProbeFamily, ProbeHit, ProbeObservation as DeclaredObservation } from './define.ts';
import { databaseForeignChecks, schemaForeignChecks } from './foreign-access.ts';
import { principalChecks } from './principals.ts';
import { databaseReachChecks } from './reach-database.ts';
import { schemaReachChecks } from './reach.ts';
import { contextChecks } from './rls-context.ts';
import { tableChecks } from './rls.ts';
import { unqualifiedChecks } from './run-schema.ts';

export { fillTemplate, type Observation, type ProbeHit } from './define.ts';
export { contextProbes, type ContextProbeId } from './rls-context.ts';

/** Every family, in report order. */
const families = [
  tableChecks, // rls.ts: read, aggregate, existence, write
  contextChecks, // rls-context.ts
  schemaForeignChecks, // foreign-access.ts
  unqualifiedChecks, // run-schema.ts
  schemaReachChecks, // reach.ts
  databaseForeignChecks, // foreign-access.ts
  databaseReachChecks, // reach-database.ts
  principalChecks, // principals.ts
] as const;

/** Every probe check's id. */
export type ProbeId = IdOf<(typeof families)[number]>;

export type ProbeCheck = DeclaredCheck<ProbeId>;

/** An observation made through a family's `finding`, of a check listed here. */
export type ProbeObservation = DeclaredObservation<ProbeId>;

/** Every probe check, in report order. */
export const probeChecks: readonly ProbeCheck[] = families.flatMap((f): readonly ProbeCheck[] => f.checks);

const familyOf = new Map<string, ProbeFamily<ProbeId>>();
for (const family of families) {
  for (const c of family.checks) {
    if (familyOf.has(c.id)) throw new Error(`probe check ${c.id} is declared by two families`);
    familyOf.set(c.id, family as ProbeFamily<ProbeId>);
  }
}

const byId = new Map<string, ProbeCheck>(probeChecks.map((c) => [c.id, c]));

export function probeCheckById(id: string): ProbeCheck | undefined {
  return byId.get(id);
}

/** The observation of one hit of check `id`, through the family that declares it (probes use their family's `finding`). */
export function probeFinding(id: ProbeId, hit: ProbeHit): ProbeObservation {
  return familyOf.get(id)!.finding(id, hit);
}
