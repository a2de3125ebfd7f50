import { readFile, readdir } from 'node:fs/promises';
import { describe, expect, test } from 'vitest';
import { rules } from '../../src/index.ts';
import { expectedRuleDocs } from './rule-docs.ts';

describe('rule reference pages (docs/rules) match the registry', () => {
  test.each([...expectedRuleDocs()])('%s is up to date (regenerate: npx tsx suites/catalog/write-docs.ts)', async (path, text) => {
    expect(await readFile(path, 'utf8')).toBe(text);
  });

  test('no stale page for a rule that no longer exists', async () => {
    const pages = (await readdir('docs/rules')).filter((f) => f.endsWith('.md') && f !== 'README.md');
    expect(pages.map((p) => p.replace(/\.md$/, '')).sort()).toEqual(rules.map((r) => r.id).sort());
  });

  test('rule ids are unique, kebab-case, and every rule states severity, CWE, description and remediation', () => {
    expect(new Set(rules.map((r) => r.id)).size).toBe(rules.length);
    for (const r of rules) {
      expect(r.id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(r.cwe).toMatch(/^CWE-\d+$/);
      expect(r.description.length).toBeGreaterThan(60);
      expect(r.remediation.length).toBeGreaterThan(20);
      expect(r.models.length).toBeGreaterThan(0);
    }
  });
});
