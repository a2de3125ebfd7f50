/**
 * Every probe check in the registry has a red case: a corpus schema carrying a flaw that the probe
 * must find (corpus.test.ts and models.test.ts run them and fail when an expected check does not
 * fire, or when a correct schema draws any finding). Like rule-corpus.test.ts for static rules.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
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

  // A family is declared in the file of its probes (defineProbeChecks) and listed once in
  // src/checks/probes/registry.ts; one left out of that list would report checks no report knows.
  test('every family a probe file declares is listed in registry.ts', async () => {
    const dir = resolve('src/checks/probes');
    const filesUnder = (d: string): string[] =>
      readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? filesUnder(join(d, n)) : n.endsWith('.ts') ? [join(d, n)] : []));
    const listed = new Set<string>(probeChecks.map((c) => c.id));
    const declaring = filesUnder(dir).filter((f) => !f.endsWith('/define.ts'));
    const missing: string[] = [];
    let families = 0;
    for (const file of declaring) {
      const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      const calls = code.match(/\bdefineProbeChecks\(/g)?.length ?? 0;
      if (calls === 0) continue;
      const exported = Object.entries((await import(pathToFileURL(file).href)) as Record<string, unknown>).filter(
        (e): e is [string, { checks: readonly { id: string }[] }] => typeof e[1] === 'object' && e[1] !== null && 'checks' in e[1] && 'finding' in e[1],
      );
      // Each family is exported, so this test (and registry.ts) can see it.
      expect(exported.map(([name]) => name), `${file}: ${calls} defineProbeChecks( call(s)`).toHaveLength(calls);
      families += exported.length;
      for (const [name, family] of exported) for (const c of family.checks) if (!listed.has(c.id)) missing.push(`${name}: ${c.id}`);
    }
    expect(families).toBeGreaterThan(5);
    expect(missing, 'families not listed in src/checks/probes/registry.ts').toEqual([]);
  });

  test('a template blank without a value is an error, not a finding that says "undefined"', () => {
    expect(fillTemplate('REVOKE TRUNCATE ON {object} FROM {appRole}', { object: 'public.t', appRole: 'app' })).toBe('REVOKE TRUNCATE ON public.t FROM app');
    expect(() => fillTemplate('on {object} for {appRole}', { object: 'public.t' })).toThrow(/\{appRole\}/);
  });
});
