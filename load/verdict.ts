/**
 * The verdict on a k6 summary (Node side, used by run.ts). k6 evaluates a metric that recorded
 * nothing as if it had: an empty Trend has max 0 and an empty Rate rate 0, so `max<600` and
 * `rate<0.01` pass, and an empty Counter satisfies `count==0`. Here a threshold over no sample is an
 * error (CannotRunError, exit 2), never a pass nor a catch: a Trend needs samples (`count` in
 * summaryTrendStats), a Rate passes + fails, and a Counter threshold answers that were actually
 * checked (`answers_checked` > 0; `isolation_canary_runs` counts its own runs).
 */
import { CannotRunError } from '../src/errors.ts';

export interface MetricSummary {
  type?: 'counter' | 'gauge' | 'rate' | 'trend';
  values?: Record<string, number>;
  thresholds?: Record<string, { ok: boolean }>;
}
export interface Summary {
  metrics: Record<string, MetricSummary>;
}

/** The statistic a threshold expression reads (`p(95)<1000` → `p(95)`, `count==0` → `count`). */
function statOf(expression: string): string {
  return /^\s*([a-z]+(?:\(\d+(?:\.\d+)?\))?)/.exec(expression)?.[1] ?? expression;
}

/** Every threshold, crossed or held; throws when one of them rests on no sample. */
export function judge(summary: Summary): { crossed: string[]; held: string[] } {
  const crossed: string[] = [];
  const held: string[] = [];
  const missing: string[] = [];
  const checkedAnswers = summary.metrics.answers_checked?.values?.count ?? 0;
  for (const [metric, body] of Object.entries(summary.metrics)) {
    const v = body.values ?? {};
    const samples =
      body.type === 'trend' ? (v.count ?? 0) : body.type === 'rate' ? (v.passes ?? 0) + (v.fails ?? 0) : body.type === 'counter' && metric !== 'isolation_canary_runs' ? checkedAnswers : 1;
    for (const [expression, result] of Object.entries(body.thresholds ?? {})) {
      const value = v[statOf(expression)];
      if (typeof value !== 'number' || Number.isNaN(value) || samples === 0) missing.push(`${metric} ${expression}`);
      else (result.ok ? held : crossed).push(`${metric} ${expression} (${statOf(expression)} = ${Number(value.toFixed(3))})`);
    }
  }
  if (missing.length > 0) throw new CannotRunError(`metric(s) recorded no sample, so their thresholds prove nothing: ${missing.join('; ')}`);
  return { crossed, held };
}

