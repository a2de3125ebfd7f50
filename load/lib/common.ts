/**
 * Shared by the k6 scenarios: the loopback guard, fixtures passed in by load/run.ts, and the
 * JUnit + JSON summary written by handleSummary (k6's JUnit helper is a remote jslib: written here).
 */
export interface TenantFixture {
  slug: string;
  id: string;
  token: string;
  model: string;
  projectIds: string[];
  /** Planted in every name this tenant owns; another tenant's answer must never contain it. */
  marker: string;
}

export function loopbackBaseUrls(): string[] {
  const urls = (__ENV.BASE_URLS ?? __ENV.BASE_URL ?? 'http://127.0.0.1:3000').split(',').filter(Boolean);
  for (const url of urls) {
    if (!/^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(url)) throw new Error(`BASE_URLS must be loopback addresses, got ${url}`);
  }
  return urls;
}

export function tenantsFromEnv(name: string): TenantFixture[] {
  const parsed = JSON.parse(__ENV[name] ?? '[]') as TenantFixture[];
  if (parsed.length === 0) throw new Error(`${name} names no tenant`);
  return parsed;
}

export const auth = (token: string, tags: Record<string, string> = {}) => ({ headers: { authorization: `Bearer ${token}` }, tags });

interface SummaryData {
  metrics: Record<string, { values?: Record<string, number>; thresholds?: Record<string, { ok: boolean }> }>;
}

function junit(suite: string, data: SummaryData): string {
  const cases: string[] = [];
  let failures = 0;
  const esc = (s: string) => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
  for (const [metric, body] of Object.entries(data.metrics)) {
    for (const [threshold, result] of Object.entries(body.thresholds ?? {})) {
      const name = esc(`${metric} ${threshold}`);
      if (result.ok) cases.push(`    <testcase classname="load.${suite}" name="${name}"/>`);
      else {
        failures += 1;
        cases.push(`    <testcase classname="load.${suite}" name="${name}"><failure message="threshold crossed"/></testcase>`);
      }
    }
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites tests="${cases.length}" failures="${failures}">`,
    `  <testsuite name="load/${suite}" tests="${cases.length}" failures="${failures}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

export function summaryFiles(suite: string, data: SummaryData): Record<string, string> {
  const dir = __ENV.SUMMARY_DIR ?? 'reports/load';
  return { [`${dir}/summary.json`]: JSON.stringify(data, null, 2), [`${dir}/junit.xml`]: junit(suite, data) };
}
