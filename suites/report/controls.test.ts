/**
 * reports/controls.json is the one place where checks meet control objectives: every static rule,
 * every probe and every k6 scenario of the main job evidences at least one OWASP ASVS, one SOC 2
 * and one ISO/IEC 27001 control; no entry names a check or a control that does not exist.
 */
import { describe, expect, test } from 'vitest';
import { probeChecks, rules } from '../../src/index.ts';
import { loadChecks } from '../../load/verdict.ts';
import { readControls } from '../../reports/compliance.ts';

const mapping = readControls();
// The k6 scenarios of the main job, and the findings a crossed k6 threshold becomes (load/verdict.ts,
// with its fallback for a threshold no check claims).
const loadIds = ['load-noisy-neighbour', 'load-isolation-under-load', ...loadChecks.map(([, check]) => check.checkId), 'load-threshold-crossed'];
const known = [...rules.map((r) => r.id), ...probeChecks.map((p) => p.id), ...loadIds];

describe('the controls mapping (reports/controls.json)', () => {
  test('maps every rule, probe and load check id (k6 thresholds included), and nothing else', () => {
    expect(rules.length).toBeGreaterThan(40);
    expect(probeChecks.length).toBeGreaterThan(30);
    const mapped = Object.keys(mapping.checks);
    expect(known.filter((id) => !mapped.includes(id))).toEqual([]);
    expect(mapped.filter((id) => !known.includes(id))).toEqual([]);
  });

  test('each check evidences an ASVS, a SOC 2 and an ISO 27001 control, all defined', () => {
    const families = { asvs: /^OWASP ASVS/, soc2: /^SOC 2/, iso: /^ISO\/IEC 27001/ };
    const gaps: string[] = [];
    for (const [check, ids] of Object.entries(mapping.checks)) {
      for (const id of ids) if (!mapping.controls[id]) gaps.push(`${check}: undefined control ${id}`);
      for (const [family, pattern] of Object.entries(families)) {
        if (!ids.some((id) => pattern.test(mapping.controls[id]?.framework ?? ''))) gaps.push(`${check}: no ${family} control`);
      }
    }
    expect(gaps).toEqual([]);
  });

  test('names the controls the issue asks for, and every control defined is evidenced by some check', () => {
    const controls = Object.values(mapping.controls).map((c) => `${c.framework} ${c.control}`);
    expect(controls).toEqual(expect.arrayContaining(['SOC 2 (2017 TSC) CC6.1', 'ISO/IEC 27001:2022 A.8.3', 'ISO/IEC 27001:2022 A.5.15', 'OWASP ASVS 5.0 V8.4.1', 'OWASP ASVS 4.0.3 V4.2.1']));
    const used = new Set(Object.values(mapping.checks).flat());
    expect(Object.keys(mapping.controls).filter((id) => !used.has(id))).toEqual([]);
  });
});
