import { describe, expect, test } from 'vitest';
import { testServer } from '../../fixtures/index.ts';
import { rules } from '../../src/index.ts';
import { corpus } from './corpus.ts';
import { conventionCorpus } from './conventions.ts';
import { describeFindings, expectRedThenGreen, fixtureDatabase, serverRules } from './harness.ts';


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

    await expectRedThenGreen(db, entry);
  });
});
