/**
 * Every probe check in the registry has a red case: a corpus schema carrying a flaw that the probe
 * must find (corpus.test.ts and models.test.ts run them and fail when an expected check does not
 * fire, or when a correct schema draws any finding). Like rule-corpus.test.ts for static rules.
 */
import { describe, expect, test } from 'vitest';
import { fillTemplate, probeChecks, type IsolationModelName, type ProbeId } from '../../src/index.ts';
import { corpus } from './corpus.ts';
import { databaseCases, schemaCases } from './model-corpus.ts';
import { probeConventionCases } from './conventions-probes.ts';

/** Each flaw case, with the model it runs in and the checks it must produce. */
const redCases: { model: IsolationModelName; name: string; checkIds: readonly ProbeId[] }[] = [
  ...corpus.flatMap((c) => (c.expect ? [{ model: 'rls' as const, name: c.name, checkIds: c.expect.checkIds }] : [])),
  ...schemaCases.flatMap((c) => (c.expect ? [{ model: 'schema' as const, name: c.name, checkIds: c.expect.checkIds }] : [])),
  ...databaseCases.flatMap((c) => (c.expect ? [{ model: 'database' as const, name: c.name, checkIds: c.expect.checkIds }] : [])),
  // The conventions' probe corpora (conventions-probes.test.ts): principals, memberships, anonymous.
  ...probeConventionCases.flatMap((c) => (c.expect ? [{ model: 'rls' as const, name: `${c.convention}: ${c.title}`, checkIds: c.expect.checkIds }] : [])),
];

describe('every probe check has a red case in the corpora', () => {
  test.each(probeChecks.map((c) => [c.id, c] as const))('%s', (id, check) => {
    const cases = redCases.filter((c) => c.checkIds.includes(id) && check.models.includes(c.model));
    expect(cases.map((c) => c.name), `no corpus case of the ${check.models.join('/')} model expects ${id}`).not.toEqual([]);
  });
});

describe('the probe registry', () => {
  test('ids are unique and kebab-case; every check states severity, CWE, models, description and remediation', () => {
    expect(new Set(probeChecks.map((c) => c.id)).size).toBe(probeChecks.length);
    for (const c of probeChecks) {
      expect(c.id).toMatch(/^probe(-[a-z0-9]+)+$/);
      expect(c.cwe).toMatch(/^CWE-\d+$/);
      expect(c.models.length).toBeGreaterThan(0);
      expect(c.description.length).toBeGreaterThan(60);
      expect(c.remediation.length).toBeGreaterThan(20);
      expect(c.finding).toContain('{');
    }
  });

  test('a red case expects only checks of its own model', () => {
    const misplaced = redCases.flatMap((r) =>
      r.checkIds.filter((id) => !probeChecks.find((c) => c.id === id)!.models.includes(r.model)).map((id) => `${r.name}: ${id}`),
    );
    expect(misplaced).toEqual([]);
  });

  test('a template blank without a value is an error, not a finding that says "undefined"', () => {
    expect(fillTemplate('REVOKE TRUNCATE ON {object} FROM {appRole}', { object: 'public.t', appRole: 'app' })).toBe('REVOKE TRUNCATE ON public.t FROM app');
    expect(() => fillTemplate('on {object} for {appRole}', { object: 'public.t' })).toThrow(/\{appRole\}/);
  });
});
