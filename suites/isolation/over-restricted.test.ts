import { describe, expect, test } from 'vitest';
import { verifyTarget } from '../../src/index.ts';
import { corpus } from './corpus.ts';
import { expectEveryRunSawForeignRows, withCorpusTarget } from './harness.ts';

const seed = Number(process.env.TENANTPROOF_SEED ?? 20260401);
const runs = 3;

/**
 * Seeing fewer rows than one's own is not a leak: a SELECT policy that hides some of a tenant's
 * own rows is reported as over-restricted (info, leak false), never as an aggregate leak.
 */
describe('aggregate probe: fewer rows than the tenant\'s own is over-restricted, not a leak', () => {
  test(`red: a restrictive policy hides the tenant's own unbudgeted projects (seed=${seed})`, async () => {
    const result = await withCorpusTarget(
      corpus.find((c) => c.flaw === 'over-restricted')!,
      ({ target }) => verifyTarget(target, { runs, seed }),
    );
    expectEveryRunSawForeignRows(result, runs);
    const summary = result.findings.map((f) => `${f.severity} ${f.checkId} ${f.object} leak=${f.leak}`);
    const over = result.findings.filter((f) => f.checkId === 'probe-aggregate-over-restricted' && f.object === 'public.projects');
    expect(over.length, summary.join('\n')).toBeGreaterThan(0);
    for (const f of over) {
      expect(f.leak).toBe(false);
      expect(f.severity).toBe('info');
    }
    expect(result.findings.filter((f) => f.leak), summary.join('\n')).toEqual([]);
    expect(result.findings.filter((f) => f.checkId === 'probe-aggregate-table'), summary.join('\n')).toEqual([]);
  });

  test(`green: the correct schema reports nothing (seed=${seed})`, async () => {
    const result = await withCorpusTarget({ name: 'correct', flaw: null, sql: '' }, ({ target }) => verifyTarget(target, { runs, seed }));
    expect(result.findings.map((f) => `${f.checkId} ${f.object}`)).toEqual([]);
  });
});
