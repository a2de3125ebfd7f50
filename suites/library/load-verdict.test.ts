/**
 * The k6 verdict (load/verdict.ts, no k6 needed): k6 reads an empty Trend as max 0 and an empty
 * Rate as rate 0, so thresholds would pass — or a red case be "caught" — on nothing. A threshold
 * over no sample is an error; crossed and held thresholds are told apart with their values.
 */
import { describe, expect, test } from 'vitest';
import { judge } from '../../load/verdict.ts';
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
});
