/**
 * The engine's own promises: seeds replay exactly (faker included), shrinking ends at small
 * counterexamples, and tenant ids take adversarial shapes where the key type allows.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { tenantIdsArbitrary, verifyTarget, worldArbitrary, type WorldPlan } from '../../fixtures/probes/index.ts';
import { corpus } from './corpus.ts';
import { withCorpusTarget } from './harness.ts';

const seed = 20260404;

describe('world generation', () => {
  const textPlan: WorldPlan = { tables: [], tenantIdType: 'text', tenantIdBaseType: 'text', tenantIdMaxLength: null };

  test('text tenant ids include prefixes of each other, case variants, whitespace, unicode and quotes', () => {
    const ids = fc.sample(tenantIdsArbitrary(textPlan), { numRuns: 200, seed }).flat();
    const sets = fc.sample(tenantIdsArbitrary(textPlan), { numRuns: 200, seed });
    expect(sets.every((s) => s.length >= 2 && s.length <= 6 && new Set(s).size === s.length)).toBe(true);
    expect(sets.some((s) => s.some((a) => s.some((b) => a !== b && b.startsWith(a))))).toBe(true);
    expect(sets.some((s) => s.some((a) => s.some((b) => a !== b && a.toLowerCase() === b.toLowerCase())))).toBe(true);
    expect(ids.some((id) => id !== id.trim())).toBe(true);
    expect(ids.some((id) => /[^\x00-\x7f]/.test(id))).toBe(true);
    expect(ids.some((id) => id.includes("'"))).toBe(true);
    expect(ids.some((id) => id.includes('%'))).toBe(true);
  });

  test('a seed replays the same world, fake values included', () => {
    const plan: WorldPlan = { ...textPlan };
    const a = fc.sample(worldArbitrary(plan), { numRuns: 5, seed });
    const b = fc.sample(worldArbitrary(plan), { numRuns: 5, seed });
    expect(a).toEqual(b);
  });
});

describe('property runs against a flawed schema', () => {
  const flawed = corpus.find((s) => s.flaw === 'rls-off')!;

  test(`the same seed finds the same leaks with the same tenants; the counterexample is shrunk to two tenants (seed=${seed})`, async () => {
    const [first, second] = await withCorpusTarget(flawed, async ({ target }) => [
      await verifyTarget(target, { runs: 5, seed }),
      await verifyTarget(target, { runs: 5, seed }),
    ]);
    const key = (r: typeof first) => r!.findings.map((f) => `${f.checkId} ${f.object} ${f.actingTenant} ${f.victimTenant}`).sort();
    expect(key(first)).toEqual(key(second));
    expect(first!.counterexample).toEqual(second!.counterexample);
    expect(first!.path).toBe(second!.path);
    const counterexample = first!.counterexample as { tenants: string[]; rowsPerTable: Record<string, number[]> };
    expect(counterexample.tenants).toHaveLength(2);
    // Within the shrink budget: at most two rows per tenant and table (up to three are generated).
    expect(Math.max(...Object.values(counterexample.rowsPerTable).flat())).toBeLessThanOrEqual(2);
  });
});
