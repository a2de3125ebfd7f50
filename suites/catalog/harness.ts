/**
 * One fixture database per red/green case: a fresh database and roles named `<prefix>_…`, the
 * model's base schema, then the case's SQL; everything is dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { testServer } from '../../fixtures/index.ts';
import { atLeast, quoteIdent, runStaticRules, targetDefaults, urlFor, withClient, type Finding, type IsolationModelName, type StaticRuleOptions, type TargetConfig } from '../../src/index.ts';
import { applySql, dropPrefixed, expand } from './apply-sql.ts';
import { databaseBase, databaseTarget, rlsBase, schemaBase, schemaTarget, type CorpusEntry } from './corpus.ts';

export interface FixtureDatabase extends AsyncDisposable {
  readonly prefix: string;
  readonly url: string;
  /** Applies SQL with `@name` placeholders. */
  apply(sql: string): Promise<void>;
  /** The target for this fixture, with overrides (placeholders allowed). */
  target(overrides?: Partial<TargetConfig>): TargetConfig;
  run(overrides?: Partial<TargetConfig>, options?: StaticRuleOptions): Promise<{ findings: Finding[]; rulesRun: string[] }>;
}

const bases: Record<IsolationModelName, { sql: string; target: Partial<TargetConfig> }> = {
  rls: { sql: rlsBase, target: {} },
  schema: { sql: schemaBase, target: schemaTarget },
  database: { sql: databaseBase, target: databaseTarget },
};

/** A base schema other than the model's own (the convention corpora: Supabase, role per tenant, PostGraphile). */
export interface FixtureBase {
  readonly sql: string;
  readonly target: Partial<TargetConfig>;
}

export async function fixtureDatabase(model: IsolationModelName, customBase?: FixtureBase): Promise<FixtureDatabase> {
  const { adminUrl } = testServer();
  const prefix = `c${randomBytes(4).toString('hex')}`;
  const name = `${prefix}_main`;
  await withClient(adminUrl, (c) => c.query(`create database ${quoteIdent(name)}`));
  const url = urlFor(adminUrl, name);
  const base = customBase ?? bases[model];
  const fixture: FixtureDatabase = {
    prefix,
    url,
    apply: (sql) => applySql(adminUrl, url, expand(sql, prefix)),
    target(overrides = {}) {
      const merged: TargetConfig = {
        ...targetDefaults,
        databaseUrl: url,
        model,
        appRole: '@app',
        ...base.target,
        ...overrides,
      };
      const fields = ['appRole', 'schemaPattern', 'databasePattern', 'tenantRole', 'tenantTable'] as const;
      const out: Record<string, unknown> = { ...merged };
      for (const f of fields) if (typeof merged[f] === 'string') out[f] = expand(merged[f] as string, prefix);
      return out as unknown as TargetConfig;
    },
    async run(overrides, options) {
      return withClient(url, (c) => runStaticRules(c, fixture.target(overrides), options));
    },
    [Symbol.asyncDispose]: () => dropPrefixed(adminUrl, prefix),
  };
  try {
    await fixture.apply(base.sql);
  } catch (error) {
    await dropPrefixed(adminUrl, prefix);
    throw error;
  }
  return fixture;
}

/** One line per finding, for assertion messages. */
export function describeFindings(findings: readonly Finding[]): string {
  return findings.map((f) => `${f.severity} ${f.checkId} ${f.object} ${JSON.stringify(f.observed ?? '')}`).join('\n') || '(none)';
}

/** Depends on the server, not on the fixture: checked in server-version.test.ts. */
export const serverRules: ReadonlySet<string> = new Set(['server-version-vulnerable']);

/** Findings of severity high or above, less those that depend on the server. */
export const highFindings = (findings: readonly Finding[]) => findings.filter((f) => atLeast(f.severity, 'high') && !serverRules.has(f.checkId));

/**
 * A corpus entry's red case, then its fix (on `db`, set up with `entry.setup` already): the rule
 * fires with a usable finding (matching `entry.expect` when given), no other rule of severity high
 * or above fires unless listed in `entry.alsoFires`; after the fix the rule is silent and nothing
 * high or above fires.
 */
export async function expectRedThenGreen(db: FixtureDatabase, entry: CorpusEntry): Promise<void> {
  const red = await db.run(entry.target);
  expect(red.rulesRun).toContain(entry.rule);
  const fired = red.findings.filter((f) => f.checkId === entry.rule);
  expect(fired.length, `${entry.rule} did not fire on its red case; findings:\n${describeFindings(red.findings)}`).toBeGreaterThan(0);
  for (const f of fired) {
    expect(f.object).not.toBe('');
    expect(f.remediation).not.toBe('');
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
  // Precision: no other rule of severity >= high fires unless the corpus says it rightly does.
  const others = new Set(highFindings(red.findings).filter((f) => f.checkId !== entry.rule).map((f) => f.checkId));
  expect([...others].sort(), describeFindings(red.findings)).toEqual([...(entry.alsoFires ?? [])].sort());

  await db.apply(entry.fix);
  const green = await db.run(entry.fixTarget ?? entry.target);
  const stillFiring = green.findings.filter((f) => f.checkId === entry.rule);
  expect(stillFiring, `${entry.rule} still fires after the fix:\n${describeFindings(stillFiring)}`).toEqual([]);
  expect(highFindings(green.findings), describeFindings(green.findings)).toEqual([]);
}
