import { describe, expect, test } from 'vitest';
import { verifyTarget, type ProbeId } from '../../src/index.ts';
import { corpus } from './corpus.ts';
import { expectEveryRunSawForeignRows, withCorpusTarget } from './harness.ts';

/** Pinned so Allure history lines up run after run; replay any failure with the same seed. */
const seed = Number(process.env.TENANTPROOF_SEED ?? 20260401);
const runs = Number(process.env.TENANTPROOF_RUNS ?? 5);

describe('rls corpus: every flaw is found, no correct schema is flagged', () => {
  for (const schema of corpus) {
    test(`${schema.flaw ? `flaw ${schema.flaw}` : 'correct'}: ${schema.name} (seed=${seed})`, async () => {
      const result = await withCorpusTarget(schema, ({ target }) => verifyTarget(target, { runs, seed }));
      // A property that never saw a foreign row proves nothing.
      expectEveryRunSawForeignRows(result, runs);
      const summary = result.findings.map((f) => `${f.checkId} ${f.object}`);
      expect(result.skippedTables.map((s) => s.table)).toEqual(schema.skipped ? [schema.skipped] : []);
      // Every probe acted (or the case names the ones that cannot), and a table not probed carries no finding.
      const notActed = result.probesNotActed.map((n) => `${n.checkId} ${n.object}`).sort();
      expect(notActed, JSON.stringify(result.probesNotActed)).toEqual((schema.notActed?.checkIds ?? []).map((id) => `${id} ${schema.notActed!.object}`).sort());
      const notProbed = new Set(result.skippedTables.map((s) => s.table));
      expect(result.findings.filter((f) => notProbed.has(f.object)).map((f) => `${f.checkId} ${f.object}`)).toEqual([]);
      if (!schema.expect) {
        expect(summary).toEqual([]);
        return;
      }
      const { checkIds, object } = schema.expect;
      const missing = checkIds.filter((id) => !result.findings.some((f) => f.object === object && f.checkId === id));
      expect(missing, `expected ${checkIds.join(', ')} on ${object}, got: ${summary.join('; ')}`).toEqual([]);
      for (const hit of result.findings.filter((f) => f.object === object && checkIds.includes(f.checkId as ProbeId))) {
        expect(hit.seed).toBe(seed);
        expect(hit.remediation.length).toBeGreaterThan(10);
        expect(hit.remediation).not.toMatch(/\{[a-zA-Z]+\}|undefined|\[object /);
        expect(hit.title).toContain(object);
        expect(hit.statement).toBeTruthy();
      }
      // Precision: a flaw case proves its check finds this flaw, not that something fires somewhere.
      const allowed = new Set([object, ...(schema.alsoFound ?? [])]);
      const spurious = result.findings.filter((f) => !allowed.has(f.object)).map((f) => `${f.checkId} ${f.object}`);
      expect(spurious, `findings on objects the flaw does not reach: ${spurious.join('; ')}`).toEqual([]);
    });
  }
});
