/**
 * One fixture database per red/green case: a fresh database and roles named `<prefix>_…`, the
 * model's base schema, then the case's SQL; everything is dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import { testServer } from '../../fixtures/index.ts';
import { quoteIdent, urlFor, withClient } from '../../src/index.ts';
import type { IsolationModelName } from '../../src/index.ts';
import type { Finding } from '../../src/index.ts';
import { runStaticRules, type StaticRuleOptions } from '../../src/index.ts';
import { targetDefaults, type TargetConfig } from '../../src/index.ts';
import { applySql, dropPrefixed, expand } from './apply-sql.ts';
import { databaseBase, databaseTarget, rlsBase, schemaBase, schemaTarget } from './corpus.ts';

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
