/**
 * The k6 verdict (load/verdict.ts, no k6 needed): k6 reads an empty Trend as max 0 and an empty
 * Rate as rate 0, so thresholds would pass — or a red case be "caught" — on nothing. A threshold
 * over no sample is an error; crossed and held thresholds are told apart with their values.
 */
import { describe, expect, test } from 'vitest';
import { crossings, judge, loadFindings } from '../../load/verdict.ts';
import { renderFindingsJson } from '../../reports/index.ts';
import { CannotRunError } from '../../src/index.ts';

describe('the k6 verdict', () => {
  test('a threshold whose metric recorded no sample is an error, not a pass', () => {
    const empty = { metrics: { aggressor_report_statement_ms: { type: 'trend' as const, values: { max: 0, count: 0 }, thresholds: { 'max<600': { ok: true } } } } };
    expect(() => judge(empty)).toThrow(CannotRunError);
    expect(() => judge(empty)).toThrow(/recorded no sample.*aggressor_report_statement_ms max<600/);
    const noRate = { metrics: { http_req_failed: { type: 'rate' as const, values: { rate: 0, passes: 0, fails: 0 }, thresholds: { 'rate<0.01': { ok: true } } } } };
    expect(() => judge(noRate)).toThrow(CannotRunError);
    // A counter of cross-tenant rows proves nothing when no answer was checked.
    const unchecked = { metrics: { cross_tenant_rows: { type: 'counter' as const, values: { count: 0 }, thresholds: { 'count==0': { ok: true } } } } };
    expect(() => judge(unchecked)).toThrow(CannotRunError);
  });

  test('crossed and held thresholds are told apart, with the value read', () => {
    const summary = {
      metrics: {
        answers_checked: { type: 'counter' as const, values: { count: 120 } },
        cross_tenant_rows: { type: 'counter' as const, values: { count: 3 }, thresholds: { 'count==0': { ok: false } } },
        aggressor_report_statement_ms: { type: 'trend' as const, values: { max: 210, count: 40 }, thresholds: { 'max<600': { ok: true } } },
      },
    };
    const { crossed, held } = judge(summary);
    expect(crossed).toEqual(['cross_tenant_rows count==0 (count = 3)']);
    expect(held).toEqual(['aggressor_report_statement_ms max<600 (max = 210)']);
  });

  test('a crossed threshold is a Finding (leak, availability or an unknown metric), a held one is none, and findings.json carries them', () => {
    const summary = {
      metrics: {
        answers_checked: { type: 'counter' as const, values: { count: 300 } },
        cross_tenant_data: { type: 'counter' as const, values: { count: 4 }, thresholds: { 'count==0': { ok: false } } },
        'http_req_failed{scenario:victims_contended}': { type: 'rate' as const, values: { rate: 0.125, passes: 7, fails: 49 }, thresholds: { 'rate<0.01': { ok: false } } },
        aggressor_throttled: { type: 'rate' as const, values: { rate: 0, passes: 0, fails: 500 }, thresholds: { 'rate>0': { ok: false } } },
        aggressor_report_statement_ms: { type: 'trend' as const, values: { max: 120, count: 40 }, thresholds: { 'max<600': { ok: true } } },
        some_new_metric: { type: 'trend' as const, values: { max: 9, count: 3 }, thresholds: { 'max<5': { ok: false } } },
      },
    };
    judge(summary); // every threshold rests on samples
    const { crossed, held } = crossings(summary);
    expect(held.map((h) => h.metric)).toEqual(['aggressor_report_statement_ms']);
    const findings = loadFindings(crossed, { scenario: 'isolation-under-load', variant: 'isolation-under-load/hybrid/session-level-context', model: 'rls', deployment: 'the reference app (hybrid)' });
    expect(findings.map((f) => [f.checkId, f.severity, f.leakClass, f.leak])).toEqual([
      ['load-cross-tenant-data', 'critical', 'read', true],
      ['load-victim-errors', 'high', 'availability', false],
      ['load-aggressor-not-throttled', 'high', 'availability', false],
      ['load-threshold-crossed', 'medium', 'availability', false],
    ]);
    expect(findings[0]!.title).toBe("Under load, 4 answer(s) of the reference app (hybrid) carried another tenant's data");
    expect(findings[0]!.observed).toEqual({ count: 4 });
    expect(findings[1]!.title).toMatch(/^12\.5% of the victim tenants' requests .* failed \(contended phase\)$/);
    const json = JSON.parse(renderFindingsJson({ findings, rulesRun: [], target: 'the reference app (hybrid)', startedAt: new Date(0), durationMs: 1 })) as { verdict: string; findings: { checkId: string }[] };
    expect(json.verdict).toBe('findings');
    expect(json.findings.map((f) => f.checkId).sort()).toEqual(['load-aggressor-not-throttled', 'load-cross-tenant-data', 'load-threshold-crossed', 'load-victim-errors']);
    expect(loadFindings(held, { scenario: 'noisy-neighbour', variant: 'v', model: 'rls', deployment: 'd' }).map((f) => f.checkId)).toEqual(['load-statement-unbounded']);
  });
});
