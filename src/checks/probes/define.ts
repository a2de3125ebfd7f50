/**
 * How a probe check is declared: each probe file declares the checks it reports at its top with
 * `defineProbeChecks({...})` — id, title, severity, leak class, CWE, the models it runs in, what it
 * means, and the templates of its finding's sentence and remediation — and observes only through
 * that family's `finding`, so a finding's id is always one the file declares (an unknown id is a
 * type error) and one id always reads the same way.
 *
 * Adding a probe to a family: its declaration and its code in the family's file, and its red case
 * in a corpus (suites/isolation/corpus.ts, model-corpus.ts or conventions-probes.ts;
 * suites/isolation/probe-corpus.test.ts checks every id has one). A new family file is one more
 * line in registry.ts, which lists the families in report order (the same test fails for a family
 * it does not list).
 *
 * Templates name their blanks in braces: `{object}`, `{acting}`, `{victim}` come from the finding,
 * everything else from the probe's `vars` (`{setting}`, `{appRole}`, `{tenantColumn}`, …).
 */
import type { Finding, LeakClass, Severity } from '../../findings/types.ts';
import type { IsolationModelName } from '../../target/types.ts';

/** A finding before the engine stamps model, seed and path on it. */
export type Observation = Omit<Finding, 'model' | 'seed' | 'path'>;

export interface ProbeCheck<Id extends string = string> {
  /** Stable id: never reused, never renamed (reports and suppressions key on it). */
  readonly id: Id;
  /** What the check finds, in general (reports list it once per check). */
  readonly title: string;
  /** The finding's title: a sentence about this database, filled from the finding and `vars`. */
  readonly finding: string;
  readonly severity: Severity;
  readonly leakClass: LeakClass;
  /** True when a hit means data crossed (observed); false for a privilege that would let it. */
  readonly leak: boolean;
  readonly cwe: string;
  readonly models: readonly IsolationModelName[];
  /** What the probe does and why a hit matters (markdown). */
  readonly description: string;
  /** How to fix it, as a template filled per finding. */
  readonly remediation: string;
}

/** A check as a family declares it: everything but its id, which is its key. */
export type DeclaredProbeCheck = Omit<ProbeCheck, 'id'>;

/** What a probe fills in; the family adds id, title, severity, leak class, leak, CWE and the remediation. */
export interface ProbeHit {
  readonly object: string;
  readonly actingTenant?: string | undefined;
  readonly victimTenant?: string | undefined;
  readonly statement: string;
  readonly observed: unknown;
  readonly expected: unknown;
  /** Blanks of the title and remediation templates besides object, acting and victim. */
  readonly vars?: Readonly<Record<string, string>>;
  /** Put before the remediation: what the catalog says about this object (e.g. its policies). */
  readonly hint?: string | undefined;
}

declare const fromDeclaration: unique symbol;

/** An observation made through a family's `finding`: the only kind a probe may hand to `observe`. */
export type ProbeObservation<Id extends string = string> = Observation & { readonly checkId: Id; readonly [fromDeclaration]: true };

/** The checks one probe file declares, and the only way to report them. */
export interface ProbeFamily<Id extends string> {
  /** The family's checks, in the order declared. */
  readonly checks: readonly ProbeCheck<Id>[];
  /** The observation of one hit of check `id`, its metadata taken from the family's declaration. */
  finding(id: Id, hit: ProbeHit): ProbeObservation<Id>;
}

/** The ids a family declares. */
export type IdOf<F> = F extends ProbeFamily<infer Id> ? Id : never;

/** Fills `{name}` blanks; a blank without a value is an error (a template and its probe disagree). */
export function fillTemplate(template: string, vars: Readonly<Record<string, string | undefined>>, id = 'template'): string {
  return template.replace(/\{([a-zA-Z]+)\}/g, (_, name: string) => {
    const value = vars[name];
    if (value === undefined) throw new Error(`${id}: no value for {${name}} in "${template}"`);
    return value;
  });
}

/** Declares a family of probe checks, keyed by id, in report order. */
export function defineProbeChecks<Id extends string>(declared: Readonly<Record<Id, DeclaredProbeCheck>>): ProbeFamily<Id> {
  const checks = (Object.entries(declared) as [Id, DeclaredProbeCheck][]).map(([id, d]): ProbeCheck<Id> => ({ id, ...d }));
  return {
    checks,
    finding(id, hit) {
      const check = declared[id];
      const vars = { object: hit.object, acting: hit.actingTenant, victim: hit.victimTenant, ...hit.vars };
      const remediation = fillTemplate(check.remediation, vars, id);
      return {
        checkId: id,
        title: fillTemplate(check.finding, vars, id),
        severity: check.severity,
        leakClass: check.leakClass,
        leak: check.leak,
        object: hit.object,
        ...(hit.actingTenant !== undefined ? { actingTenant: hit.actingTenant } : {}),
        ...(hit.victimTenant !== undefined ? { victimTenant: hit.victimTenant } : {}),
        statement: hit.statement,
        observed: hit.observed,
        expected: hit.expected,
        cwe: check.cwe,
        remediation: hit.hint ? `${hit.hint} ${remediation}` : remediation,
      } as ProbeObservation<Id>;
    },
  };
}
