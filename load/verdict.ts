/**
 * The verdict on a k6 summary (Node side, used by run.ts). k6 evaluates a metric that recorded
 * nothing as if it had: an empty Trend has max 0 and an empty Rate rate 0, so `max<600` and
 * `rate<0.01` pass, and an empty Counter satisfies `count==0`. Here a threshold over no sample is an
 * error (CannotRunError, exit 2), never a pass nor a catch: a Trend needs samples (`count` in
 * summaryTrendStats), a Rate passes + fails, and a Counter threshold answers that were actually
 * checked (`answers_checked` > 0; `isolation_canary_runs` counts its own runs).
 */
import { CannotRunError } from '../src/errors.ts';
import type { Finding, IsolationModelName, LeakClass, Severity } from '../src/index.ts';

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

/** A threshold as judged: the metric, its expression, the statistic it read and that statistic's value. */
export interface Crossing {
  readonly metric: string;
  readonly expression: string;
  readonly stat: string;
  readonly value: number;
}

/**
 * Every threshold, crossed or held — as lines (`metric expression (stat = value)`) and as
 * `Crossing`s for the findings; throws when one of them rests on no sample.
 */
export function judge(summary: Summary): { crossed: string[]; held: string[]; thresholds: { crossed: Crossing[]; held: Crossing[] } } {
  const thresholds = { crossed: [] as Crossing[], held: [] as Crossing[] };
  const missing: string[] = [];
  const checkedAnswers = summary.metrics.answers_checked?.values?.count ?? 0;
  for (const [metric, body] of Object.entries(summary.metrics)) {
    const v = body.values ?? {};
    const samples =
      body.type === 'trend' ? (v.count ?? 0) : body.type === 'rate' ? (v.passes ?? 0) + (v.fails ?? 0) : body.type === 'counter' && metric !== 'isolation_canary_runs' ? checkedAnswers : 1;
    for (const [expression, result] of Object.entries(body.thresholds ?? {})) {
      const stat = statOf(expression);
      const value = v[stat];
      if (typeof value !== 'number' || Number.isNaN(value) || samples === 0) missing.push(`${metric} ${expression}`);
      else (result.ok ? thresholds.held : thresholds.crossed).push({ metric, expression, stat, value });
    }
  }
  if (missing.length > 0) throw new CannotRunError(`metric(s) recorded no sample, so their thresholds prove nothing: ${missing.join('; ')}`);
  const line = (c: Crossing) => `${c.metric} ${c.expression} (${c.stat} = ${Number(c.value.toFixed(3))})`;
  return { crossed: thresholds.crossed.map(line), held: thresholds.held.map(line), thresholds };
}

/** Every threshold of `summary` as `Crossing`s, crossed or held (`judge` without the lines). */
export function crossings(summary: Summary): { crossed: Crossing[]; held: Crossing[] } {
  return judge(summary).thresholds;
}

/** What a crossed threshold means, as a check: one finding per check and run. */
interface LoadCheck {
  readonly checkId: string;
  readonly severity: Severity;
  readonly leakClass: LeakClass;
  readonly leak: boolean;
  readonly cwe: string;
  /** The finding's sentence about this run. */
  readonly title: (c: Crossing, deployment: string) => string;
  readonly remediation: string;
}

const pct = (rate: number) => `${(rate * 100).toFixed(rate < 0.1 ? 2 : 1)}%`;

/**
 * The load checks, by the metric their threshold reads (`metric` or `metric{tag}`; the first whose
 * key matches wins). A crossed threshold of a metric not listed is still a finding
 * (`load-threshold-crossed`), never dropped.
 */
export const loadChecks: readonly (readonly [match: (metric: string) => boolean, check: LoadCheck])[] = [
  [
    (m) => m === 'cross_tenant_data' || m === 'cross_tenant_rows',
    {
      checkId: 'load-cross-tenant-data',
      severity: 'critical',
      leakClass: 'read',
      leak: true,
      cwe: 'CWE-639',
      title: (c, d) => `Under load, ${c.value} answer(s) of ${d} carried another tenant's data`,
      remediation:
        'Keep the tenant context per transaction (SET LOCAL / set_config(..., true)), never per pooled session, and put the tenant in every shared cache, rate-limit and store key.',
    },
  ],
  [
    (m) => m === 'checks',
    {
      checkId: 'load-answer-checks',
      severity: 'high',
      leakClass: 'read',
      leak: false,
      cwe: 'CWE-639',
      title: (c, d) => `Under load, ${pct(1 - c.value)} of the answers of ${d} failed their tenant checks`,
      remediation: 'Read the failing checks in the k6 summary: an answer for the wrong tenant, or an error under concurrency.',
    },
  ],
  [
    (m) => m.startsWith('http_req_failed{scenario:victims'),
    {
      checkId: 'load-victim-errors',
      severity: 'high',
      leakClass: 'availability',
      leak: false,
      cwe: 'CWE-400',
      title: (c, d) => `${pct(c.value)} of the victim tenants' requests to ${d} failed (${c.metric.replace(/^.*scenario:victims_(\w+).*$/, '$1')} phase)`,
      remediation: "Limit each tenant's rate, connections and statement time so one tenant's load cannot exhaust what the others need.",
    },
  ],
  [
    (m) => m.startsWith('http_req_duration{scenario:victims') || m === 'victim_p95_to_floor',
    {
      checkId: 'load-victim-slowdown',
      severity: 'medium',
      leakClass: 'availability',
      leak: false,
      cwe: 'CWE-400',
      title: (c, d) =>
        c.metric === 'victim_p95_to_floor'
          ? `While one tenant flooded ${d}, the victims' p95 was ${c.value.toFixed(2)}× the machine floor`
          : `The victim tenants' p95 latency on ${d} was ${c.value.toFixed(0)} ms (${c.metric.replace(/^.*scenario:victims_(\w+).*$/, '$1')} phase)`,
      remediation: "Rate-limit per tenant, give each tenant a bounded share of the pool and a statement_timeout per plan, so a tenant's load waits in its own queue.",
    },
  ],
  [
    (m) => m === 'aggressor_throttled',
    {
      checkId: 'load-aggressor-not-throttled',
      severity: 'high',
      leakClass: 'availability',
      leak: false,
      cwe: 'CWE-770',
      title: (_c, d) => `${d} never rate-limited a tenant sending ten times the others' rate`,
      remediation: 'Rate-limit per tenant (a bucket keyed by the tenant id, shared by every instance), answering 429 with Retry-After.',
    },
  ],
  [
    (m) => m === 'aggressor_pool_peak',
    {
      checkId: 'load-pool-share-exceeded',
      severity: 'high',
      leakClass: 'availability',
      leak: false,
      cwe: 'CWE-770',
      title: (c, d) => `One tenant held ${c.value} of ${d}'s pooled connections at once`,
      remediation: "Bound each tenant's share of the shared pool (a per-tenant semaphore or queue) below the pool size.",
    },
  ],
  [
    (m) => m === 'aggressor_report_statement_ms',
    {
      checkId: 'load-statement-unbounded',
      severity: 'medium',
      leakClass: 'availability',
      leak: false,
      cwe: 'CWE-400',
      title: (c, d) => `A tenant's heavy report on ${d} ran ${c.value.toFixed(0)} ms, past the plan's statement timeout`,
      remediation: "Set statement_timeout per plan on the heavy routes (SET LOCAL statement_timeout inside the tenant's transaction).",
    },
  ],
];

const otherThreshold: LoadCheck = {
  checkId: 'load-threshold-crossed',
  severity: 'medium',
  leakClass: 'availability',
  leak: false,
  cwe: 'CWE-400',
  title: (c, d) => `A load threshold of ${d} was crossed: ${c.metric} ${c.expression} (${c.stat} = ${Number(c.value.toFixed(3))})`,
  remediation: 'Read the k6 summary for the metric named.',
};

/**
 * The findings of a load run: one per crossed threshold, each with the threshold, the value k6
 * measured and the scenario that measured it as evidence. `deployment` names what was under load
 * (e.g. "the reference app (hybrid: rls, schema, database)").
 */
export function loadFindings(crossed: readonly Crossing[], run: { scenario: string; variant: string; model: IsolationModelName; deployment: string }): Finding[] {
  return crossed.map((c) => {
    const check = loadChecks.find(([match]) => match(c.metric))?.[1] ?? otherThreshold;
    return {
      checkId: check.checkId,
      title: check.title(c, run.deployment),
      severity: check.severity,
      leakClass: check.leakClass,
      leak: check.leak,
      model: run.model,
      object: `${run.deployment} · ${c.metric}`,
      statement: `k6 ${run.scenario} (${run.variant}): threshold ${c.metric} ${c.expression}`,
      observed: { [c.stat]: Number(c.value.toFixed(3)) },
      expected: c.expression,
      cwe: check.cwe,
      remediation: check.remediation,
    };
  });
}
