import { describe, expect, test } from 'vitest';
import { testServer } from '../../fixtures/index.ts';
import { withClient } from '../../src/index.ts';
import { buildRuleContext, runRules, vulnerabilitiesOf } from '../../src/index.ts';
import { fixtureDatabase } from './harness.ts';

describe('server-version-vulnerable', () => {
  test.each([
    [150008, ['CVE-2024-10976 at least 15.9', 'CVE-2025-8713 at least 15.14']],
    [150009, ['CVE-2025-8713 at least 15.14']],
    [150014, []],
    [140007, ['CVE-2024-10976 at least 14.14', 'CVE-2025-8713 at least 14.19', 'CVE-2023-2455 at least 14.8']],
    [120020, ['CVE-2024-10976 at least 12.21', 'CVE-2025-8713 at least no fix on branch 12: upgrade to 13.22 or later']],
    [110002, ['CVE-2024-10976 at least no fix on branch 11: upgrade to 12.21 or later', 'CVE-2025-8713 at least no fix on branch 11: upgrade to 13.22 or later', 'CVE-2023-2455 at least 11.20', 'CVE-2019-10130 at least 11.3']],
    [170006, []],
    [180004, []],
  ] as const)('version %i: %j', async (versionNum, expected) => {
    await using db = await fixtureDatabase('rls');
    const ctx = await withClient(db.url, (c) => buildRuleContext(c, db.target()));
    const forged = { ...ctx, security: { ...ctx.security, serverVersionNum: versionNum } };
    const { findings } = await runRules(forged, { only: ['server-version-vulnerable'] });
    expect(findings.map((f) => `${(f.observed as { cve: string }).cve} ${String(f.expected)}`)).toEqual(expected);
    for (const f of findings) expect(f.remediation).toMatch(/^Upgrade to PostgreSQL .*fixes CVE-/);
  });

  test('the running server is judged by its real version', async () => {
    await using db = await fixtureDatabase('rls');
    const { findings } = await db.run(undefined, { only: ['server-version-vulnerable'] });
    expect(findings).toHaveLength(vulnerabilitiesOf(testServer().versionNum).length);
  });
});
