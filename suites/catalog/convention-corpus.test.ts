import { describe, expect, test } from 'vitest';
import { testServer } from '../../fixtures/index.ts';
import { atLeast, type Finding } from '../../src/index.ts';
import { expand } from './apply-sql.ts';
import { conventionBases, conventionCorpus, conventionGreens, type ConventionName } from './conventions.ts';
import { describeFindings, fixtureDatabase } from './harness.ts';

/** Depends on the server, not on the fixture: checked in server-version.test.ts. */
const serverRules = new Set(['server-version-vulnerable']);
const high = (findings: readonly Finding[]) => findings.filter((f) => atLeast(f.severity, 'high') && !serverRules.has(f.checkId));

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

    const red = await db.run(entry.target);
    expect(red.rulesRun).toContain(entry.rule);
    const fired = red.findings.filter((f) => f.checkId === entry.rule);
    expect(fired.length, `${entry.rule} did not fire on its red case; findings:\n${describeFindings(red.findings)}`).toBeGreaterThan(0);
    for (const f of fired) {
      expect(f.object).not.toBe('');
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
    const others = new Set(high(red.findings).filter((f) => f.checkId !== entry.rule).map((f) => f.checkId));
    expect([...others].sort(), describeFindings(red.findings)).toEqual([...(entry.alsoFires ?? [])].sort());

    await db.apply(entry.fix);
    const green = await db.run(entry.fixTarget ?? entry.target);
    const stillFiring = green.findings.filter((f) => f.checkId === entry.rule);
    expect(stillFiring, `${entry.rule} still fires after the fix:\n${describeFindings(stillFiring)}`).toEqual([]);
    expect(high(green.findings), describeFindings(green.findings)).toEqual([]);
  });
});
