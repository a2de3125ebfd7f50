/**
 * Rule reference pages, generated from the registry (docs/rules/<id>.md and docs/rules/README.md).
 * The catalog suite checks the committed pages equal what this renders, so they never rot;
 * regenerate with `npx tsx suites/catalog/write-docs.ts`.
 */
import { severities } from '../../findings/types.ts';
import type { Rule } from './types.ts';

/** A red/green example for a rule page (the suite passes its corpus). */
export interface RuleExample {
  readonly title: string;
  readonly setup: string;
  readonly fix: string;
  readonly model: string;
}

const cweLink = (cwe: string) => `[${cwe}](https://cwe.mitre.org/data/definitions/${cwe.replace(/^CWE-/, '')}.html)`;
const sql = (text: string) => ['```sql', text.trim().replace(/@([a-z][a-z0-9_]*)/g, '$1'), '```'].join('\n');

export function renderRulePage(rule: Rule, examples: readonly RuleExample[] = []): string {
  const lines = [
    `# \`${rule.id}\` — ${rule.title}`,
    '',
    '| Severity | Leak class | CWE | Models |',
    '| --- | --- | --- | --- |',
    `| **${rule.severity}** | ${rule.leakClass} | ${cweLink(rule.cwe)} | ${rule.models.join(', ')} |`,
    '',
    '## What it means and why it matters',
    '',
    rule.description,
    '',
    '## How to fix it',
    '',
    rule.remediation,
    '',
  ];
  if (rule.heuristic) lines.push('## How it is checked', '', `Heuristic: ${rule.heuristic}`, '');
  lines.push(
    '## Nearest equivalent elsewhere',
    '',
    `- pgTAP: ${rule.equivalents.pgtap ?? 'none'}`,
    `- Supabase database linter: ${rule.equivalents.supabaseLinter ?? 'none'}`,
    '',
  );
  if (examples.length > 0) {
    lines.push('## Examples', '', 'Each pair is a case of the catalog suite (suites/catalog/corpus.ts), applied on top of that model\'s base schema, which no rule fires on: the rule fires once the first script has run and is silent once the second has. Role, schema and database names are prefixed per test run.', '');
    for (const e of examples) {
      lines.push(`### ${e.title} (${e.model} model)`, '', 'Violates the rule:', '', sql(e.setup), '', 'Corrected:', '', sql(e.fix), '');
    }
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

export function renderRuleIndex(rules: readonly Rule[]): string {
  const sorted = [...rules];
  const lines = [
    '# Static rules',
    '',
    '`tenantproof verify` runs these over the target\'s catalog (they are also the `catalog` suite). Each finding carries the rule id, severity, leak class, CWE, the object at fault and a remediation; `--fail-on` (default `high`) decides the exit code: 1 when any finding is at or above it.',
    '',
    `Severities, highest first: ${severities.map((s) => `\`${s}\``).join(', ')}. **critical**: data of another tenant is readable or writable now by the role under test. **high**: one more mistake or one SQL injection away, or a whole class of statements escapes isolation. **medium**: an oracle or integrity gap (existence, untrusted inputs). **low**: hardening and noisy-neighbour risk. **info**: fails closed, but probably not what was meant.`,
    '',
    '| Rule | Severity | Leak class | CWE | Models | pgTAP | Supabase linter |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...sorted.map(
      (r) =>
        `| [\`${r.id}\`](${r.id}.md) — ${r.title} | ${r.severity} | ${r.leakClass} | ${r.cwe} | ${r.models.join(', ')} | ${(r.equivalents.pgtap ?? 'none').replace(/\|/g, '\\|')} | ${(r.equivalents.supabaseLinter ?? 'none').replace(/\|/g, '\\|')} |`,
    ),
    '',
    '## Running them',
    '',
    '- `tenantproof verify` runs them on every target, with the same flags and exit codes as the probes.',
    '- As their own suite, with a red and a green schema per rule: `SUITES=catalog npx vitest run` (add `PG_BIN=/usr/lib/postgresql/15/bin` for PostgreSQL 15).',
    '- From code: `runStaticRules(queryable, target, { connect?, only?, skip? })` returns `{ findings, rulesRun }`; `writeReports(dir, { findings, rulesRun, target, model, startedAt, durationMs, seed?, failOn? })` writes the report files; `exitCodeFor(findings, failOn)` gives 0 or 1. In the database model the rules also read each tenant database, through `connect(database)` or the target URL.',
    '- Adding a rule: `defineRule` in `src/checks/rules/<area>.ts`, register it in `src/checks/rules/index.ts`, add its red/green cases to `suites/catalog/corpus.ts`, then `npx tsx suites/catalog/write-docs.ts`.',
    '',
    '## Known limits',
    '',
    '- Policy expressions are read as `pg_get_expr()` text, split into AND/OR at parenthesis depth 0: exact for the common shapes, heuristic in general (an OR hidden inside a helper function is not seen; a helper counts as the tenant predicate when its source reads the tenant setting; an EXISTS / IN subquery counts when it is tied by a foreign key to a parent whose own row security scopes it to the tenant — see policy-read-not-tenant-scoped). Rules marked *heuristic* on their page say how.',
    '- Which tables a function reads: pg_depend for SQL-standard bodies, otherwise a text match on its source (comments count, dynamic SQL is not seen).',
    '- Roles are judged with PostgreSQL\'s own `has_*_privilege()` / `pg_has_role()`, so ownership, PUBLIC and inherited grants are exact; policies apply through inherited membership only (as PostgreSQL applies them).',
    '- Database model: function, default-privilege, schema-CREATE and extension rules read every tenant database; table-level rules read the target\'s database only.',
    '- A policy with no expression on a side (an INSERT policy without WITH CHECK, a SELECT policy without USING) lets nothing through on PostgreSQL 15–18 and is not reported (the catalog suite checks this against the server).',
    '',
    'Findings files: see [../findings-schema.md](../findings-schema.md).',
    '',
  ];
  return lines.join('\n');
}
