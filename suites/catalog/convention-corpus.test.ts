import { describe, expect, test } from 'vitest';
import { testServer } from '../../fixtures/index.ts';
import { conventionBases, conventionCorpus, conventionGreens, type ConventionName } from './conventions.ts';
import { describeFindings, expectRedThenGreen, fixtureDatabase, highFindings } from './harness.ts';

const high = highFindings;

const open = (convention: ConventionName) => fixtureDatabase('rls', conventionBases[convention]);

describe('convention bases are correct: nothing high or critical (false alarms are defects)', () => {
  test.each(['supabase', 'role-per-tenant', 'postgraphile'] as const)('%s', async (convention) => {
    await using db = await open(convention);
    const { findings, rulesRun } = await db.run();
    expect(rulesRun).toContain('membership-self-insert');
    expect(high(findings), describeFindings(findings)).toEqual([]);
    // No policy finding at all: the membership, auth.uid() and RESTRICTIVE conventions are understood.
    const policyFindings = findings.filter((f) => f.checkId.startsWith('policy-'));
    expect(policyFindings, describeFindings(policyFindings)).toEqual([]);
  });
});

describe('green convention variants: nothing high or critical', () => {
  test.for(conventionGreens.map((g) => [`${g.convention}: ${g.title}`, g] as const))('%s', async ([, green]) => {
    await using db = await open(green.convention);
    await db.apply(green.sql);
    const { findings } = await db.run();
    expect(high(findings), describeFindings(findings)).toEqual([]);
    const policyFindings = findings.filter((f) => f.checkId.startsWith('policy-'));
    expect(policyFindings, describeFindings(policyFindings)).toEqual([]);
  });
});

describe('convention red cases fire, their fixes are silent', () => {
  test.for(conventionCorpus.map((entry) => [`${entry.rule}: ${entry.title}`, entry] as const))('%s', async ([, entry], ctx) => {
    const { versionNum } = testServer();
    if (entry.minVersion && versionNum < entry.minVersion) ctx.skip(`needs server_version_num >= ${entry.minVersion}; this server is ${versionNum}`);
    await using db = await open(entry.convention);
    await db.apply(entry.setup);

    await expectRedThenGreen(db, entry);
  });
});
