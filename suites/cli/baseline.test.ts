/**
 * A CI gate teams keep: with a baseline, verify fails only on findings not in it; an accepted
 * finding whose entry expired fails again; fingerprints stay the same across seeds; GitHub
 * annotations name each counted finding.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { withClient } from '../../src/index.ts';
import { corpus } from '../isolation/corpus.ts';
import { withCorpusTarget } from '../isolation/harness.ts';
import { errorLines, runCli } from './cli-helpers.ts';

const flawed = corpus.find((s) => s.flaw === 'rls-off')!;

interface BaselineFile {
  version: 1;
  accepted: { fingerprint: string; checkId: string; object: string; reason: string; expires?: string }[];
}

describe('baselines and CI annotations', () => {
  test('accepted findings pass the gate across seeds; a new one fails it; an expired entry fails again; a bad file is exit 2', { timeout: 300_000 }, async () => {
    await withCorpusTarget(flawed, async ({ target }) => {
      const dir = mkdtempSync(join(tmpdir(), 'tp-baseline-'));
      const file = join(dir, 'tenantproof.baseline.json');
      const base = ['verify', '--database-url', target.databaseUrl, '--model', 'rls', '--app-role', target.appRole, '--runs', '2', '--report-dir', join(dir, 'out')];

      const without = await runCli([...base, '--seed', '1']);
      expect(without.code, without.stderr).toBe(1);

      // Accept what is there today.
      const update = await runCli([...base, '--seed', '1', '--baseline', file, '--update-baseline']);
      expect(update.code, update.stderr + update.stdout).toBe(0);
      const written = JSON.parse(readFileSync(file, 'utf8')) as BaselineFile;
      expect(written.accepted.length).toBeGreaterThan(0);
      expect(written.accepted.map((e) => e.checkId)).toContain('rls-disabled');
      expect(written.accepted.every((e) => /say why/.test(e.reason))).toBe(true);

      // Another seed, other generated tenants: the same findings, the same fingerprints, accepted.
      const again = await runCli([...base, '--seed', '99', '--baseline', file]);
      expect(again.code, again.stdout).toBe(0);
      expect(again.stdout).toMatch(/BASELINE: \d+ accepted finding/);
      const json = JSON.parse(readFileSync(join(dir, 'out', 'findings.json'), 'utf8')) as { verdict: string; accepted: unknown[]; findings: unknown[] };
      expect(json.verdict).toBe('verified');
      expect(json.accepted.length).toBe(written.accepted.length);
      expect(json.findings).toEqual([]);

      // A new problem fails the gate, alone.
      await withClient(target.databaseUrl, (c) => c.query('alter table public.comments disable row level security'));
      const fresh = await runCli([...base, '--seed', '99', '--baseline', file, '--format', 'json']);
      expect(fresh.code).toBe(1);
      const counted = (JSON.parse(fresh.stdout) as { findings: { checkId: string; object: string }[] }).findings;
      expect(counted.length).toBeGreaterThan(0);
      expect(counted.every((f) => f.object.includes('comments'))).toBe(true);
      await withClient(target.databaseUrl, (c) => c.query('alter table public.comments enable row level security'));

      // An entry past its expiry accepts nothing any more.
      const expiring: BaselineFile = { ...written, accepted: written.accepted.map((e, i) => (i === 0 ? { ...e, reason: 'migrating', expires: '2020-01-01' } : e)) };
      writeFileSync(file, JSON.stringify(expiring));
      const expired = await runCli([...base, '--seed', '99', '--baseline', file]);
      expect(expired.code).toBe(1);
      expect(expired.stdout).toMatch(/expired 2020-01-01: .* — migrating/);

      // GitHub annotations for the counted findings.
      const github = await runCli([...base, '--seed', '99', '--baseline', file, '--format', 'github']);
      expect(github.code).toBe(1);
      expect(github.stdout).toMatch(/^::error title=tenantproof [a-z-]+%3A /m);
      expect(github.stdout).toMatch(/^::notice title=tenantproof::findings \(exit 1\)/m);

      writeFileSync(file, '{"version": 1, "accepted": [{"fingerprint": "zz"}]}');
      const bad = await runCli([...base, '--seed', '99', '--baseline', file]);
      expect(bad.code).toBe(2);
      expect(errorLines(bad)).toHaveLength(1);
      expect(errorLines(bad)[0]).toMatch(/baseline .*accepted\.0\.fingerprint must be 16 hex digits/);
    });
  });
});
