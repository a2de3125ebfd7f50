import { describe, expect, test } from 'vitest';
import { testServer } from '../../fixtures/index.ts';
import { atLeast } from '../../src/index.ts';
import { rules } from '../../src/index.ts';
import { expand } from './apply-sql.ts';
import { corpus } from './corpus.ts';
import { conventionCorpus } from './conventions.ts';
import { describeFindings, fixtureDatabase } from './harness.ts';

/** Depends on the server, not on the fixture: checked in server-version.test.ts. */
const serverRules = new Set(['server-version-vulnerable']);

describe('the base schema of each model is silent', () => {
  test.each(['rls', 'schema', 'database'] as const)('%s model: no finding at all', async (model) => {
    await using db = await fixtureDatabase(model);
    const { findings, rulesRun } = await db.run();
    expect(rulesRun.length).toBeGreaterThan(5);
    const relevant = findings.filter((f) => !serverRules.has(f.checkId));
    expect(relevant, describeFindings(relevant)).toEqual([]);
  });
});

describe('every rule has a red case in the corpus (corpus.ts or the convention corpora)', () => {
  test.each(rules.filter((r) => !serverRules.has(r.id)).map((r) => r.id))('%s', (id) => {
    expect([...corpus, ...conventionCorpus].some((entry) => entry.rule === id)).toBe(true);
  });
});

describe('red cases fire, green cases are silent', () => {
  test.for(corpus.map((entry) => [`${entry.rule}: ${entry.title}`, entry] as const))('%s', async ([, entry], ctx) => {
    // Below its minimum version the case proves nothing: reported skipped, with the reason, never passed.
    const { versionNum } = testServer();
    if (entry.minVersion && versionNum < entry.minVersion) ctx.skip(`needs server_version_num >= ${entry.minVersion}; this server is ${versionNum}`);
    await using db = await fixtureDatabase(entry.model ?? 'rls');
    await db.apply(entry.setup);

    const red = await db.run(entry.target);
    expect(red.rulesRun).toContain(entry.rule);
    const fired = red.findings.filter((f) => f.checkId === entry.rule);
    expect(fired.length, `${entry.rule} did not fire on its red case; findings:\n${describeFindings(red.findings)}`).toBeGreaterThan(0);
    for (const f of fired) {
      expect(f.object).not.toBe('');
      expect(f.remediation).not.toBe('');
      expect(f.remediation).not.toMatch(/undefined|\bnull\b|\[object /);
      expect(f.leak).toBe(false);
    }
    if (entry.expect) {
      const wanted = JSON.parse(expand(JSON.stringify(entry.expect), db.prefix)) as { object?: string; observed?: Record<string, unknown> };
      const matching = fired.filter(
        (f) =>
          (wanted.object === undefined || f.object === wanted.object) &&
          Object.entries(wanted.observed ?? {}).every(([k, v]) => JSON.stringify((f.observed as Record<string, unknown>)[k]) === JSON.stringify(v)),
      );
      expect(matching.length, `no ${entry.rule} finding matches ${JSON.stringify(wanted)}:\n${describeFindings(fired)}`).toBeGreaterThan(0);
    }
    // Precision: no other rule of severity >= high fires unless the corpus says it rightly does.
    const others = new Set(
      red.findings.filter((f) => f.checkId !== entry.rule && atLeast(f.severity, 'high') && !serverRules.has(f.checkId)).map((f) => f.checkId),
    );
    expect([...others].sort(), describeFindings(red.findings)).toEqual([...(entry.alsoFires ?? [])].sort());

    await db.apply(entry.fix);
    const green = await db.run(entry.fixTarget ?? entry.target);
    const stillFiring = green.findings.filter((f) => f.checkId === entry.rule);
    expect(stillFiring, `${entry.rule} still fires after the fix:\n${describeFindings(stillFiring)}`).toEqual([]);
    const highAfterFix = green.findings.filter((f) => atLeast(f.severity, 'high') && !serverRules.has(f.checkId));
    expect(highAfterFix, describeFindings(highAfterFix)).toEqual([]);
  });
});
